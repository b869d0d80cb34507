"""MEAN and SUM as TFLM's reference_ops::Mean / ReduceGeneric / QuantizedMeanOrSum compute them.

Both take the input arranged as [outputs, reduced] rows: each row holds one output's inputs in
TFLM's visiting order (row-major over the reduced axes).
"""

from __future__ import annotations

import numpy as np

from tinyinterp.jit import jit
from tinyinterp.kernels.fixedpoint import multiply_by_quantized_multiplier, wrap_int32


@jit
def sum_rows_float32(rows, out):
    """Sum each row one value after the other from +0.0, in float32, as TFLM's loop does (numpy's
    pairwise summation would round differently)."""
    for i in range(rows.shape[0]):
        total = np.float32(0.0)
        for j in range(rows.shape[1]):
            total += rows[i, j]
        out[i] = total


@jit
def requantize_sums(sums, zero_point_total, multiplier, shift, output_zero_point, act_min, act_max, out):
    """QuantizedMeanOrSum's last loop: (sum - input zero point * count) rescaled, offset, clamped.

    `sums` are exact; TFLM accumulates in int32 and subtracts in int64 before narrowing to int32,
    which wraps to the same value.
    """
    for i in range(sums.shape[0]):
        shifted = wrap_int32(sums[i] - zero_point_total)
        value = wrap_int32(multiply_by_quantized_multiplier(shifted, multiplier, shift) + output_zero_point)
        out[i] = min(max(value, act_min), act_max)
