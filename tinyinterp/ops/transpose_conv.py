"""TRANSPOSE_CONV: int8, 16x8 (int16 activations, int8 weights; int16 or int64 bias) and float32.

Inputs as in TFLite: 0 the output shape (int32), 1 the filters [out_channels, kh, kw, in_channels],
2 the input, 3 an optional bias. The padding is TFLM's: that of a convolution whose input is this
op's output (its odd extra pixel, which TFLite adds, TFLM's reference kernel drops).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyinterp.kernels.transpose_conv import bias_and_clamp_float, transpose_conv_scatter
from tinyinterp.model.options import TransposeConvOptions
from tinyinterp.ops.base import Array, Op, OpContext, batched_shape, register, required
from tinyinterp.ops.conv import (
    FLOAT32,
    INT8,
    INT16,
    INT32,
    INT64,
    conv_op_data,
    float_op_data,
    kernel_dtype,
)
from tinyinterp.ops.padding import window


@register("TRANSPOSE_CONV", dtypes=("int8", "int16", "float32"))
class TransposeConv(Op):
    def __init__(self, ctx: OpContext[TransposeConvOptions]) -> None:
        ctx.expect_count((3, 4))
        shape_tensor, weights, input_, output = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output()
        self.dtype = kernel_dtype(ctx, input_, weights, output)
        for tensor in (input_, weights, output):
            ctx.expect_rank(tensor, 4)
        ctx.expect_dtype(shape_tensor, INT32)
        if shape_tensor.data is not None and tuple(shape_tensor.data.reshape(-1)) != output.shape:
            ctx.fail(
                f"{ctx.describe(shape_tensor)} says {shape_tensor.data.tolist()}, "
                f"but the output has shape {list(output.shape)}"
            )
        filters = ctx.expect_constant(weights)
        out_channels, kernel_h, kernel_w, in_channels = filters.shape
        batch, out_h, out_w, _ = output.shape
        if input_.shape[0] != batch or input_.shape[3] != in_channels:
            expected = f"[{batch}, h, w, {in_channels}]"
            ctx.fail(f"{ctx.describe(input_)} has shape {list(input_.shape)}, expected {expected}")
        ctx.expect_shape(output, (batch, out_h, out_w, out_channels))
        self.window = window(ctx, out_h, out_w, kernel_h, kernel_w)
        self.strides = (ctx.options.stride_h, ctx.options.stride_w)
        self.in_shape, self.out_shape = input_.shape, output.shape
        self.filters = np.ascontiguousarray(filters.transpose(1, 2, 3, 0))  # [kh, kw, in, out]: out innermost
        bias = ctx.optional_input(3)
        if self.dtype == FLOAT32:
            self.op_data = float_op_data(ctx, bias, out_channels)
            return
        # TFLM's 16x8 kernel widens an int16 bias to int64 and reads any other as int64.
        bias_dtypes = (INT32,) if self.dtype == INT8 else (INT16, INT64)
        self.op_data = conv_op_data(
            ctx, input_, weights, output, out_channels, bias, bias_dtypes, wide=self.dtype == INT16
        )

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = required(inputs[2])
        out_shape = batched_shape(self.out_shape, x, self.in_shape)
        q = self.op_data
        is_float = self.dtype == FLOAT32
        acc = np.zeros(out_shape, np.float32 if is_float else np.int64)
        offset = np.float32(0) if is_float else q.input_offset
        transpose_conv_scatter(
            x, self.filters, offset, *self.strides, self.window.pad_top, self.window.pad_left, acc
        )
        rows = acc.reshape(-1, out_shape[3])
        if is_float:
            out = np.empty(out_shape, np.float32)
            bias_and_clamp_float(rows, q.bias, q.act_min, q.act_max, out.reshape(rows.shape))
            return [out]
        out = np.empty(out_shape, q.dtype)
        q.requantize(rows, slice(None), out.reshape(rows.shape))
        return [out]
