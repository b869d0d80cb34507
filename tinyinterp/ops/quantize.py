"""QUANTIZE (float32, int8, int16 or int32 to int8 or int16; int8 or int16 to int32) and DEQUANTIZE
(int8 or int16 to float32), the pairs TFLM's reference kernels run.

The registered dtypes are the quantized side: QUANTIZE's output, DEQUANTIZE's input. TFLM also
converts from and to uint8, which tinyinterp does not support.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyinterp.kernels.quantize import quantize_float, requantize
from tinyinterp.model.ir import Tensor, TensorType
from tinyinterp.ops.base import Array, Op, OpContext, register, required
from tinyinterp.quant import quantize_multiplier

INT8, INT16, INT32, FLOAT32 = TensorType.INT8, TensorType.INT16, TensorType.INT32, TensorType.FLOAT32
# Pairs TFLM's Prepare accepts but its Eval has no kernel for ("Input %s, output %s not supported").
NO_TFLM_KERNEL = ((FLOAT32, INT32), (INT32, INT32))


def _elementwise(ctx: OpContext) -> tuple[Tensor, Tensor]:
    ctx.expect_count(1)
    input_, output = ctx.input(0), ctx.output()
    ctx.expect_shape(output, input_.shape)
    return input_, output


@register("QUANTIZE", dtypes=("int8", "int16", "int32"))
class Quantize(Op):
    """float32 input: AffineQuantize, round(x / scale) in float32 plus the zero point; integer input:
    Requantize by input_scale / output_scale (a double), zero points subtracted and added in int32
    arithmetic (an int32 input wraps around as in C)."""

    def __init__(self, ctx: OpContext) -> None:
        input_, output = _elementwise(ctx)
        ctx.expect_dtype(input_, FLOAT32, INT8, INT16, INT32)
        ctx.expect_dtype(output, INT8, INT16, INT32)
        if (input_.dtype, output.dtype) in NO_TFLM_KERNEL:
            ctx.fail(
                f"from {ctx.describe(input_)} ({input_.dtype.name}) to {ctx.describe(output)} "
                f"({output.dtype.name}): TFLM has no kernel for this pair of dtypes"
            )
        if output.quantization is not None and output.quantization.scale.size > 1:
            ctx.fail(f"{ctx.describe(output)} is quantized per channel; only per-tensor is supported")
        output_scale, self.output_zero_point = ctx.quantization(output)
        self.dtype = output.dtype.numpy
        info = np.iinfo(self.dtype)
        self.low, self.high = int(info.min), int(info.max)
        self.from_float = input_.dtype == FLOAT32
        if self.from_float:
            self.scale = np.float32(output_scale)
            return
        input_scale, self.input_zero_point = ctx.quantization(input_)
        self.multiplier, self.shift = quantize_multiplier(input_scale / output_scale)
        if self.shift > 30:
            ctx.fail(
                f"input scale {input_scale} / output scale {output_scale} rounds to 2**30 or more "
                "(TFLM would shift left by 31 bits, which C leaves undefined)"
            )

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = required(inputs[0])
        out = np.empty(x.shape, self.dtype)
        flat_x, flat_out, zero_point = x.reshape(-1), out.reshape(-1), self.output_zero_point
        if self.from_float:
            quantize_float(flat_x, self.scale, zero_point, self.low, self.high, flat_out)
        else:
            rescaling = (self.input_zero_point, self.multiplier, self.shift, zero_point)
            requantize(flat_x, *rescaling, self.low, self.high, flat_out)
        return [out]


@register("DEQUANTIZE", dtypes=("int8", "int16"))
class Dequantize(Op):
    """scale * (x - zero_point) in double, rounded to float32 (reference_ops::Dequantize)."""

    def __init__(self, ctx: OpContext) -> None:
        input_, output = _elementwise(ctx)
        ctx.expect_dtype(input_, INT8, INT16)
        ctx.expect_dtype(output, FLOAT32)
        self.scale, self.zero_point = ctx.quantization(input_)

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        return [(self.scale * (required(inputs[0]).astype(np.float64) - self.zero_point)).astype(np.float32)]
