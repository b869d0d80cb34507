"""MEAN and SUM (int8, int16, float32) as TFLM's reduce kernels, over constant axes (TFLM also
reads axes given at run time; the output shape depends on them, so tinyinterp requires constants).

- float32: each output sums its inputs one after the other in row-major order from +0.0 (so
  -0.0 inputs give +0.0), MEAN then divides by the count in float32; both are reproduced exactly.
  TFLM's 4-D MEAN over axes 1 and 2 with keep_dims takes another code path, with the same
  operations in the same order.
- int8/int16 (QuantizedMeanOrSum): the int32 sum minus input zero point * count, rescaled by
  input_scale / output_scale (for MEAN with 1/count folded into the multiplier), plus the output
  zero point, saturated. A zero-size input gives zeros (not the zero point), as in TFLM.

Duplicate and negative axes are allowed; axes of a rank-0 input are ignored, as TFLM does.
Refused here though TFLM runs them: axes out of range with int8 / int16 (TFLM reports the error
but carries on, outputting zeros), and a float MEAN of a zero-size input (TFLM reads outside the
input and crashes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from tinyinterp.kernels.reduce import requantize_sums, sum_rows_float32
from tinyinterp.model.ir import Tensor, TensorType
from tinyinterp.model.options import ReducerOptions
from tinyinterp.ops.base import Array, Op, OpContext, batched_shape, register, required
from tinyinterp.ops.shape import DATA_TYPE_NAMES, constant_ints, expect_data, resolve_axis
from tinyinterp.quant import quantize_multiplier


def mean_multiplier(multiplier: int, shift: int, count: int) -> tuple[int, int]:
    """QuantizedMeanOrSum folds 1/count into the output multiplier, shifting it left by up to
    floor(log2(count)) bits first, as far as the int64 and the final right shift allow."""
    bits = min(count.bit_length() - 1, 32, 31 + shift)
    return (multiplier << bits) // count, shift - bits


class _Reduce(Op):
    compute_sum: ClassVar[bool]

    def __init__(self, ctx: OpContext[ReducerOptions]) -> None:
        ctx.expect_count(2)
        input_, output = ctx.input(0), ctx.output()
        expect_data(ctx, input_, output)
        shape = input_.shape
        axes = constant_ints(ctx, ctx.input(1))
        reduced = sorted({resolve_axis(ctx, axis, len(shape)) for axis in axes}) if shape else []
        keep_dims = ctx.options.keep_dims
        ctx.expect_shape(
            output, [1 if a in reduced else d for a, d in enumerate(shape) if keep_dims or a not in reduced]
        )
        # Rows of one output's inputs, in TFLM's order: kept axes first, then the reduced ones.
        self.order = (*(a for a in range(len(shape)) if a not in reduced), *reduced)
        self.count = math.prod(shape[a] for a in reduced)
        self.empty = 0 in shape
        self.batch_safe = 0 not in reduced
        self.in_shape, self.out_shape = shape, output.shape
        if input_.dtype == TensorType.FLOAT32:
            if self.empty and not self.compute_sum:
                ctx.fail(f"{ctx.describe(input_)} is empty: TFLM's float MEAN reads outside it")
        else:
            self._prepare_quantized(ctx, input_, output)

    def _prepare_quantized(self, ctx: OpContext, input_: Tensor, output: Tensor) -> None:
        (input_scale, input_zero_point), (output_scale, output_zero_point) = (
            ctx.quantization(input_),
            ctx.quantization(output),
        )
        if not (input_scale > 0 and output_scale > 0 and math.isfinite(input_scale / output_scale)):
            ctx.fail(f"scales {input_scale} (input) and {output_scale} (output) must be positive and finite")
        self.multiplier, self.shift = quantize_multiplier(input_scale / output_scale)
        if not self.compute_sum and self.count > 0:
            self.multiplier, self.shift = mean_multiplier(self.multiplier, self.shift, self.count)
        self.zero_point_total = input_zero_point * self.count
        self.output_zero_point = output_zero_point
        info = np.iinfo(output.dtype.numpy)
        self.act_min, self.act_max = int(info.min), int(info.max)

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = required(inputs[0])
        out_shape = batched_shape(self.out_shape, x, self.in_shape)
        if self.empty:
            return [np.zeros(out_shape, x.dtype)]
        rows = np.ascontiguousarray(x.transpose(self.order).reshape(-1, self.count))
        out = np.empty(rows.shape[0], x.dtype)
        if x.dtype == np.float32:
            sum_rows_float32(rows, out)
            if not self.compute_sum:
                out /= np.float32(self.count)
        else:
            requantize_sums(
                rows.sum(axis=1, dtype=np.int64),
                self.zero_point_total,
                self.multiplier,
                self.shift,
                self.output_zero_point,
                self.act_min,
                self.act_max,
                out,
            )
        return [out.reshape(out_shape)]


@register("MEAN", dtypes=DATA_TYPE_NAMES)
class Mean(_Reduce):
    compute_sum = False


@register("SUM", dtypes=DATA_TYPE_NAMES)
class Sum(_Reduce):
    compute_sum = True
