"""SOFTMAX along the last axis: int8 in (int8 or int16 out), int16 in and out, float32.

Float32 results equal TFLM's to the bit only where both call the same C library expf (numba calls
the platform's, as the TFLM build does); numpy's exp would differ in the last bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from tinyinterp.kernels.fixedpoint import exp_f32
from tinyinterp.kernels.softmax import SCALED_DIFF_INTEGER_BITS, softmax, softmax_float, softmax_int16
from tinyinterp.model.ir import Tensor, TensorType
from tinyinterp.model.options import SoftmaxOptions
from tinyinterp.ops.base import Array, Op, OpContext, register, required
from tinyinterp.quant import (
    calculate_input_radius,
    lut_populate_int16,
    quantize_multiplier,
    quantize_multiplier_greater_than_one,
)

INT8, INT16, FLOAT32 = TensorType.INT8, TensorType.INT16, TensorType.FLOAT32
OUTPUT_DTYPES = {INT8: (INT8, INT16), INT16: (INT16,), FLOAT32: (FLOAT32,)}
# The fixed output quantization TFLM requires: (scale, zero point, tolerance on the scale or None).
OUTPUT_QUANTIZATION = {
    (INT8, INT8): (1.0 / 256, -128, None),
    (INT8, INT16): (1.0 / 65536, -32768, 0.001 / 65536),
    (INT16, INT16): (1.0 / 32768, 0, 0.001 / 32768),
}
INT16_RANGE = 65535
# The int16 kernel maps input differences onto [-10, 0], where its exp LUT is defined.
INT16_EXP_INPUT_RANGE = 10.0


@cache
def _int16_luts() -> tuple[Array, Array]:
    """TFLM's exp LUT over [-10, 0] and 1 / (1 + x) LUT over [0, 1] (the same for every model)."""
    exp_lut = lut_populate_int16(
        exp_f32, np.float32(10.0) / INT16_RANGE, 32767, np.float32(2.0) / INT16_RANGE, 0
    )
    reciprocal_lut = lut_populate_int16(
        lambda x: np.float32(1.0) / (np.float32(1.0) + x),
        np.float32(1.0) / INT16_RANGE,
        -32768,
        np.float32(2.0) / INT16_RANGE,
        0,
    )
    return exp_lut, reciprocal_lut


def _check_output_quantization(ctx: OpContext, input_: Tensor, output: Tensor) -> None:
    expected_scale, expected_zero_point, tolerance = OUTPUT_QUANTIZATION[(input_.dtype, output.dtype)]
    scale, zero_point = ctx.quantization(output)
    gap = abs(np.float32(scale) - np.float32(expected_scale))  # in float32, as TFLM
    if zero_point != expected_zero_point or gap > np.float32(tolerance or 0.0):
        ctx.fail(
            f"{ctx.describe(output)} must have scale {expected_scale:g} and zero point "
            f"{expected_zero_point}, got {scale} and {zero_point}"
        )


@register("SOFTMAX", dtypes=("int8", "int16", "float32"))
class Softmax(Op):
    def __init__(self, ctx: OpContext[SoftmaxOptions]) -> None:
        ctx.expect_count(1)
        input_, output = ctx.input(0), ctx.output()
        ctx.expect_dtype(input_, *OUTPUT_DTYPES)
        ctx.expect_dtype(output, *OUTPUT_DTYPES[input_.dtype])
        ctx.expect_shape(output, input_.shape)
        if not input_.shape:
            ctx.fail(f"{ctx.describe(input_)} must have at least one dimension")
        self.in_dtype, self.out_dtype = input_.dtype, output.dtype.numpy
        beta = ctx.options.beta
        if input_.dtype == FLOAT32:
            self.beta = np.float32(beta)
            return
        _check_output_quantization(ctx, input_, output)
        input_scale, input_zero_point = ctx.quantization(input_)
        if input_.dtype == INT16:
            if input_zero_point != 0:
                ctx.fail(f"{ctx.describe(input_)} must have zero point 0, got {input_zero_point}")
            self.multiplier, self.shift = quantize_multiplier(
                input_scale * beta / (INT16_EXP_INPUT_RANGE / INT16_RANGE)
            )
            self.exp_lut, self.reciprocal_lut = _int16_luts()
            return
        # PreprocessSoftmaxScaling in double, capped as TFLM caps it.
        real_multiplier = min(beta * input_scale * (1 << (31 - SCALED_DIFF_INTEGER_BITS)), (1 << 31) - 1.0)
        self.multiplier, self.shift = quantize_multiplier_greater_than_one(
            real_multiplier, f"SOFTMAX {ctx.op.index} input scale x beta"
        )
        self.diff_min = -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, self.shift)
        info = np.iinfo(self.out_dtype)
        self.out_range = (int(info.min), int(info.max), info.bits)

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = required(inputs[0])
        rows = x.reshape(-1, x.shape[-1])
        out = np.empty(rows.shape, self.out_dtype)
        if self.in_dtype == FLOAT32:
            softmax_float(rows, self.beta, out)
        elif self.in_dtype == INT16:
            softmax_int16(rows, self.multiplier, self.shift, self.exp_lut, self.reciprocal_lut, out)
        else:
            softmax(rows, self.multiplier, self.shift, self.diff_min, *self.out_range, out)
        return [out.reshape(x.shape)]
