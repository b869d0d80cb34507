"""SOFTMAX (int8 in, int8 out) along the last axis."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tinyinterp.kernels.softmax import SCALED_DIFF_INTEGER_BITS, softmax
from tinyinterp.model.ir import TensorType
from tinyinterp.ops.base import Array, Op, OpContext, register
from tinyinterp.quant import quantize_multiplier_greater_than_one


def _input_radius(integer_bits: int, left_shift: int, total_signed_bits: int = 31) -> int:
    """CalculateInputRadius: the largest input difference that still matters."""
    rescaled = 1.0 * ((1 << integer_bits) - 1) * (1 << (total_signed_bits - integer_bits)) / (1 << left_shift)
    return math.floor(rescaled)


@register("SOFTMAX", dtypes=("int8",))
class Softmax(Op):
    def __init__(self, ctx: OpContext) -> None:
        ctx.expect_count(1)
        input_, output = ctx.input(0), ctx.output()
        ctx.expect_dtype(input_, TensorType.INT8)
        ctx.expect_dtype(output, TensorType.INT8)
        ctx.expect_shape(output, input_.shape)
        if not input_.shape:
            ctx.fail(f"{ctx.describe(input_)} must have at least one dimension")
        output_scale, output_zero_point = ctx.quantization(output)
        if output_zero_point != -128 or np.float32(output_scale) != np.float32(1.0 / 256):
            ctx.fail(
                f"{ctx.describe(output)} must have scale 1/256 and zero point -128, "
                f"got {output_scale} and {output_zero_point}"
            )
        input_scale, _ = ctx.quantization(input_)
        beta = float(ctx.option("beta", 1.0))
        # PreprocessSoftmaxScaling in double, capped as TFLM caps it.
        real_multiplier = min(beta * input_scale * (1 << (31 - SCALED_DIFF_INTEGER_BITS)), (1 << 31) - 1.0)
        self.multiplier, self.left_shift = quantize_multiplier_greater_than_one(
            real_multiplier, f"SOFTMAX {ctx.op.index} input scale x beta"
        )
        self.diff_min = -_input_radius(SCALED_DIFF_INTEGER_BITS, self.left_shift)

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = inputs[0]
        rows = x.reshape(-1, x.shape[-1])
        out = np.empty(rows.shape, np.int8)
        softmax(rows, self.multiplier, self.left_shift, self.diff_min, -128, 127, 8, out)
        return [out.reshape(x.shape)]
