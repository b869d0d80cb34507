"""AVERAGE_POOL_2D (int8)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyinterp.kernels.pooling import average_pool
from tinyinterp.model.ir import TensorType
from tinyinterp.ops.base import Array, Op, OpContext, batched_shape, register
from tinyinterp.ops.padding import window
from tinyinterp.quant import activation_range


@register("AVERAGE_POOL_2D", dtypes=("int8",))
class AveragePool2D(Op):
    def __init__(self, ctx: OpContext) -> None:
        ctx.expect_count(1)
        input_, output = ctx.input(0), ctx.output()
        for tensor in (input_, output):
            ctx.expect_dtype(tensor, TensorType.INT8)
            ctx.expect_rank(tensor, 4)
        self.filter = (ctx.option("filter_height"), ctx.option("filter_width"))
        if min(self.filter) <= 0:
            ctx.fail(f"filter size {list(self.filter)} must be positive")
        batch, in_h, in_w, channels = input_.shape
        self.window = window(ctx, in_h, in_w, *self.filter, dilation=False)
        ctx.expect_shape(output, (batch, self.window.out_h, self.window.out_w, channels))
        self.strides = (ctx.option("stride_h"), ctx.option("stride_w"))
        output_scale, output_zero_point = ctx.quantization(output)
        self.act_min, self.act_max = activation_range(
            ctx.option("fused_activation_function", "NONE"), output_scale, output_zero_point, np.int8
        )
        self.in_shape, self.out_shape = input_.shape, output.shape

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = inputs[0]
        out = np.empty(batched_shape(self.out_shape, x, self.in_shape), np.int8)
        average_pool(
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
