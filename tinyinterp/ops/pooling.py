"""MAX_POOL_2D and AVERAGE_POOL_2D (int8, int16, float32). Quantized inputs and outputs must share their
quantization (TFLM allows scales 1e-6 apart: pooling does not rescale), so both reduce the stored
integers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyinterp.kernels.pooling import pool_2d
from tinyinterp.model.ir import Tensor, TensorType
from tinyinterp.model.options import Pool2DOptions
from tinyinterp.ops.base import Array, Op, OpContext, batched_shape, register, required
from tinyinterp.ops.padding import window
from tinyinterp.ops.shape import DATA_TYPE_NAMES, expect_data
from tinyinterp.quant import activation_range, float_activation_range

# PoolingPrepare: the largest |input scale - output scale| TFLM accepts, the difference in float32.
MAX_SCALE_DIFFERENCE = 1.0e-6


class _Pool2D(Op):
    """The window, its padding and the fused activation's clamp, prepared once for `pool_2d`."""

    average: bool

    def __init__(self, ctx: OpContext[Pool2DOptions]) -> None:
        ctx.expect_count(1)
        input_, output = ctx.input(0), ctx.output()
        expect_data(ctx, input_, output)
        for tensor in (input_, output):
            ctx.expect_rank(tensor, 4)
        self.filter = (ctx.options.filter_height, ctx.options.filter_width)
        if min(self.filter) <= 0:
            ctx.fail(f"filter size {list(self.filter)} must be positive")
        batch, in_h, in_w, channels = input_.shape
        self.window = window(ctx, in_h, in_w, *self.filter)
        ctx.expect_shape(output, (batch, self.window.out_h, self.window.out_w, channels))
        self.strides = (ctx.options.stride_h, ctx.options.stride_w)
        self.dtype = dtype = input_.dtype.numpy
        if self.average:  # the sum's type: float32 for float32, int64 otherwise
            self.start = np.float32(0) if dtype.kind == "f" else np.int64(0)
        else:
            self.start = dtype.type(np.finfo(dtype).min if dtype.kind == "f" else np.iinfo(dtype).min)
        self.act_min, self.act_max = _activation_range(ctx, input_, output)
        self.in_shape, self.out_shape = input_.shape, output.shape

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = required(inputs[0])
        out = np.empty(batched_shape(self.out_shape, x, self.in_shape), self.dtype)
        pool_2d(
            x,
            *self.filter,
            *self.strides,
            self.window.pad_top,
            self.window.pad_left,
            self.average,
            self.start,
            self.act_min,
            self.act_max,
            out,
        )
        return [out]


def _activation_range(
    ctx: OpContext[Pool2DOptions], input_: Tensor, output: Tensor
) -> tuple[np.generic, np.generic]:
    """The fused activation's clamp in the output's dtype, after checking the input's quantization is
    the output's."""
    activation = ctx.options.fused_activation_function
    if input_.dtype == TensorType.FLOAT32:
        return float_activation_range(activation)
    (input_scale, input_zero_point), (output_scale, output_zero_point) = (
        ctx.quantization(input_),
        ctx.quantization(output),
    )
    if not float(abs(np.float32(input_scale) - np.float32(output_scale))) <= MAX_SCALE_DIFFERENCE:
        ctx.fail(f"input scale {input_scale} and output scale {output_scale} differ")
    if input_zero_point != output_zero_point:
        ctx.fail(f"input zero point {input_zero_point} and output zero point {output_zero_point} differ")
    dtype = output.dtype.numpy
    low, high = activation_range(activation, output_scale, output_zero_point, dtype)
    return dtype.type(low), dtype.type(high)


@register("MAX_POOL_2D", dtypes=DATA_TYPE_NAMES)
class MaxPool2D(_Pool2D):
    average = False


@register("AVERAGE_POOL_2D", dtypes=DATA_TYPE_NAMES)
class AveragePool2D(_Pool2D):
    average = True
