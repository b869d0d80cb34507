"""AVERAGE_POOL_2D (int8, int16, float32)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyinterp.kernels.pooling import average_pool, average_pool_float
from tinyinterp.model.ir import TensorType
from tinyinterp.model.options import Pool2DOptions
from tinyinterp.ops.base import Array, Op, OpContext, batched_shape, register, required
from tinyinterp.ops.padding import window
from tinyinterp.quant import activation_range, float_activation_range

# PoolingPrepare: the largest |input scale - output scale| TFLM accepts (pooling does not rescale).
MAX_SCALE_DIFFERENCE = 1.0e-6


@register("AVERAGE_POOL_2D", dtypes=("int8", "int16", "float32"))
class AveragePool2D(Op):
    # The fused activation's clamp: float32 bounds on float32, quantized bounds otherwise.
    act_min: np.float32 | int
    act_max: np.float32 | int

    def __init__(self, ctx: OpContext[Pool2DOptions]) -> None:
        ctx.expect_count(1)
        input_, output = ctx.input(0), ctx.output()
        ctx.expect_dtype(input_, TensorType.INT8, TensorType.INT16, TensorType.FLOAT32)
        ctx.expect_dtype(output, input_.dtype)
        for tensor in (input_, output):
            ctx.expect_rank(tensor, 4)
        self.filter = (ctx.options.filter_height, ctx.options.filter_width)
        if min(self.filter) <= 0:
            ctx.fail(f"filter size {list(self.filter)} must be positive")
        batch, in_h, in_w, channels = input_.shape
        self.window = window(ctx, in_h, in_w, *self.filter)
        ctx.expect_shape(output, (batch, self.window.out_h, self.window.out_w, channels))
        self.strides = (ctx.options.stride_h, ctx.options.stride_w)
        activation = ctx.options.fused_activation_function
        self.dtype = output.dtype.numpy
        if input_.dtype == TensorType.FLOAT32:
            self.act_min, self.act_max = float_activation_range(activation)
        else:
            (input_scale, input_zero_point), (output_scale, output_zero_point) = (
                ctx.quantization(input_),
                ctx.quantization(output),
            )
            # The difference is taken in float32, as TFLM takes it.
            scale_difference = abs(np.float32(input_scale) - np.float32(output_scale))
            if scale_difference > MAX_SCALE_DIFFERENCE or input_zero_point != output_zero_point:
                ctx.fail(
                    f"input and output quantization must match, got ({input_scale}, {input_zero_point}) "
                    f"and ({output_scale}, {output_zero_point})"
                )
            self.act_min, self.act_max = activation_range(
                activation, output_scale, output_zero_point, self.dtype
            )
        self.in_shape, self.out_shape = input_.shape, output.shape

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = required(inputs[0])
        out = np.empty(batched_shape(self.out_shape, x, self.in_shape), self.dtype)
        pool = average_pool_float if self.dtype == np.float32 else average_pool
        pool(
            x,
            *self.filter,
            *self.strides,
            self.window.pad_top,
            self.window.pad_left,
            self.act_min,
            self.act_max,
            out,
        )
        return [out]
