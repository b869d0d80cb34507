"""CONV_2D and DEPTHWISE_CONV_2D (int8 activations, int8 per-channel or per-tensor weights)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyinterp.kernels.conv import depthwise_conv, im2col
from tinyinterp.kernels.gemm import exact_float_dtype, requantize_rows
from tinyinterp.model.ir import Tensor, TensorType
from tinyinterp.ops.base import Array, Op, OpContext, batched_shape, register
from tinyinterp.ops.padding import Window, window
from tinyinterp.quant import activation_range, quantize_multipliers

INT8 = TensorType.INT8


def _bias(ctx: OpContext, bias: Tensor | None, channels: int) -> Array:
    if bias is None:
        return np.zeros(channels, np.int64)
    ctx.expect_dtype(bias, TensorType.INT32)
    ctx.expect_shape(bias, (channels,))
    return ctx.expect_constant(bias).astype(np.int64)


def _per_channel_multipliers(ctx: OpContext, input_: Tensor, weights: Tensor, output: Tensor, channels: int):
    """PopulateConvolutionQuantizationParams: effective scale per output channel, in double."""
    input_scale, _ = ctx.quantization(input_)
    output_scale, _ = ctx.quantization(output)
    weight_scales = ctx.channel_scales(weights)
    if weight_scales.size not in (1, channels):
        ctx.fail(f"{ctx.describe(weights)} has {weight_scales.size} scales for {channels} output channels")
    scales = np.broadcast_to(weight_scales, (channels,)).astype(np.float64)
    return quantize_multipliers(np.float64(input_scale) * scales / np.float64(output_scale))


class _Requantization:
    """Everything a conv-like op needs to turn int32 sums into int8 outputs."""

    def __init__(
        self, ctx: OpContext, input_: Tensor, weights: Tensor, output: Tensor, channels: int
    ) -> None:
        self.multipliers, self.shifts = _per_channel_multipliers(ctx, input_, weights, output, channels)
        self.bias = _bias(ctx, ctx.optional_input(2), channels)
        self.input_offset = -ctx.quantization(input_)[1]
        output_scale, self.output_offset = ctx.quantization(output)
        self.act_min, self.act_max = activation_range(
            ctx.option("fused_activation_function", "NONE"), output_scale, self.output_offset, np.int8
        )


@register("CONV_2D", dtypes=("int8",))
class Conv2D(Op):
    def __init__(self, ctx: OpContext) -> None:
        ctx.expect_count((2, 3))
        input_, weights, output = ctx.input(0), ctx.input(1), ctx.output()
        for tensor in (input_, weights, output):
            ctx.expect_dtype(tensor, INT8)
            ctx.expect_rank(tensor, 4)
        filters = ctx.expect_constant(weights)
        out_channels, kernel_h, kernel_w, group_channels = filters.shape
        batch, in_h, in_w, in_channels = input_.shape
        if group_channels == 0 or in_channels % group_channels:
            ctx.fail(f"input channels {in_channels} are not a multiple of filter channels {group_channels}")
        self.groups = in_channels // group_channels
        if out_channels % self.groups:
            ctx.fail(f"{out_channels} output channels cannot be split into {self.groups} groups")
        self.window: Window = window(ctx, in_h, in_w, kernel_h, kernel_w, dilation=True)
        ctx.expect_shape(output, (batch, self.window.out_h, self.window.out_w, out_channels))
        self.quant = _Requantization(ctx, input_, weights, output, out_channels)
        self.kernel = (kernel_h, kernel_w)
        self.strides = (ctx.option("stride_h"), ctx.option("stride_w"))
        self.dilations = (ctx.option("dilation_h_factor", 1), ctx.option("dilation_w_factor", 1))
        self.group_channels = group_channels
        self.in_shape, self.out_shape = input_.shape, output.shape
        # Weights as [groups, kh * kw * c, out_channels_per_group] matrices, in the dtype that keeps
        # BLAS exact (max |input + offset| is 255 for int8 with any zero point).
        per_group = out_channels // self.groups
        matrix = filters.reshape(self.groups, per_group, -1).transpose(0, 2, 1)
        self.float_dtype = exact_float_dtype(matrix, reduce_axis=1, max_abs_input=255)
        self.weights = np.ascontiguousarray(matrix, dtype=self.float_dtype)

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = inputs[0]
        out_shape = batched_shape(self.out_shape, x, self.in_shape)
        rows = out_shape[0] * out_shape[1] * out_shape[2]
        out = np.empty(out_shape, np.int8)
        out_rows = out.reshape(rows, -1)
        q, (kh, kw), (sh, sw), (dh, dw) = self.quant, self.kernel, self.strides, self.dilations
        patches = np.empty((rows, kh * kw * self.group_channels), self.float_dtype)
        per_group = self.weights.shape[2]
        for g in range(self.groups):
            im2col(
                x,
                q.input_offset,
                g * self.group_channels,
                self.group_channels,
                kh,
                kw,
                sh,
                sw,
                dh,
                dw,
                self.window.pad_top,
                self.window.pad_left,
                out_shape[1],
                out_shape[2],
                patches,
            )
            acc = patches @ self.weights[g]
            columns = slice(g * per_group, (g + 1) * per_group)
            requantize_rows(
                acc,
                q.bias[columns],
                q.multipliers[columns],
                q.shifts[columns],
                q.output_offset,
                q.act_min,
                q.act_max,
                out_rows[:, columns],
            )
        return [out]


@register("DEPTHWISE_CONV_2D", dtypes=("int8",))
class DepthwiseConv2D(Op):
    def __init__(self, ctx: OpContext) -> None:
        ctx.expect_count((2, 3))
        input_, weights, output = ctx.input(0), ctx.input(1), ctx.output()
        for tensor in (input_, weights, output):
            ctx.expect_dtype(tensor, INT8)
            ctx.expect_rank(tensor, 4)
        filters = ctx.expect_constant(weights)
        one, kernel_h, kernel_w, out_channels = filters.shape
        batch, in_h, in_w, in_channels = input_.shape
        if one != 1:
            ctx.fail(
                f"{ctx.describe(weights)} has shape {list(filters.shape)}, expected [1, kh, kw, channels]"
            )
        if in_channels == 0 or out_channels % in_channels:
            ctx.fail(f"output channels {out_channels} are not a multiple of input channels {in_channels}")
        self.depth_multiplier = out_channels // in_channels
        declared = ctx.option("depth_multiplier", self.depth_multiplier)
        if declared != self.depth_multiplier:
            ctx.fail(f"depth_multiplier option is {declared}, but the shapes imply {self.depth_multiplier}")
        self.window = window(ctx, in_h, in_w, kernel_h, kernel_w, dilation=True)
        ctx.expect_shape(output, (batch, self.window.out_h, self.window.out_w, out_channels))
        self.quant = _Requantization(ctx, input_, weights, output, out_channels)
        self.filters = np.ascontiguousarray(filters[0], dtype=np.int32)
        self.strides = (ctx.option("stride_h"), ctx.option("stride_w"))
        self.dilations = (ctx.option("dilation_h_factor", 1), ctx.option("dilation_w_factor", 1))
        self.in_shape, self.out_shape = input_.shape, output.shape

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = inputs[0]
        out = np.empty(batched_shape(self.out_shape, x, self.in_shape), np.int8)
        q = self.quant
        depthwise_conv(
            x,
            self.filters,
            q.bias,
            q.multipliers,
            q.shifts,
            q.input_offset,
            q.output_offset,
            q.act_min,
            q.act_max,
            self.depth_multiplier,
            *self.strides,
            *self.dilations,
            self.window.pad_top,
            self.window.pad_left,
            out,
        )
        return [out]
