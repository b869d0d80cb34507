"""FULLY_CONNECTED (int8 activations, int8 per-tensor or per-channel weights)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyinterp.kernels.gemm import exact_float_dtype, requantize_rows
from tinyinterp.model.ir import TensorType
from tinyinterp.ops.base import Array, Op, OpContext, register
from tinyinterp.quant import activation_range, quantize_multiplier, quantize_multipliers

INT8 = TensorType.INT8
# TFLM refuses a bias whose scale strays from input_scale * weight_scale by more than this.
MAX_BIAS_SCALE_MISMATCH = 0.02


@register("FULLY_CONNECTED", dtypes=("int8",))
class FullyConnected(Op):
    def __init__(self, ctx: OpContext) -> None:
        ctx.expect_count((2, 3))
        input_, weights, output = ctx.input(0), ctx.input(1), ctx.output()
        bias = ctx.optional_input(2)
        for tensor in (input_, weights, output):
            ctx.expect_dtype(tensor, INT8)
        if ctx.option("weights_format", "DEFAULT") != "DEFAULT":
            ctx.fail(f"weights_format {ctx.option('weights_format')} is not supported")
        ctx.expect_rank(weights, 2)
        matrix = ctx.expect_constant(weights)
        out_channels, depth = matrix.shape
        in_size = int(np.prod(input_.shape))
        if depth == 0 or in_size % depth:
            ctx.fail(
                f"{ctx.describe(input_)} has {in_size} elements, not a multiple of the weights' depth {depth}"
            )
        rows = in_size // depth
        keep_dims = ctx.option("keep_num_dims", False)
        expected = (*input_.shape[:-1], out_channels) if keep_dims else (rows, out_channels)
        ctx.expect_shape(output, expected)
        self.out_channels, self.depth, self.keep_dims = out_channels, depth, keep_dims
        self.multipliers, self.shifts = self._multipliers(ctx, input_, weights, output, bias, out_channels)
        self.bias = np.zeros(out_channels, np.int64)
        if bias is not None:
            ctx.expect_dtype(bias, TensorType.INT32)
            ctx.expect_shape(bias, (out_channels,))
            self.bias = ctx.expect_constant(bias).astype(np.int64)
        self.input_offset = -ctx.quantization(input_)[1]
        output_scale, self.output_offset = ctx.quantization(output)
        self.act_min, self.act_max = activation_range(
            ctx.option("fused_activation_function", "NONE"), output_scale, self.output_offset, np.int8
        )
        float_dtype = exact_float_dtype(matrix, reduce_axis=1, max_abs_input=255)
        self.weights_t = np.ascontiguousarray(matrix.T, dtype=float_dtype)

    @staticmethod
    def _multipliers(ctx, input_, weights, output, bias, channels):
        """CalculateOpDataFullyConnected: per channel in double, or per tensor as TFLM rounds it."""
        input_scale, _ = ctx.quantization(input_)
        output_scale, _ = ctx.quantization(output)
        scales = ctx.channel_scales(weights)
        if scales.size > 1:
            if scales.size != channels:
                ctx.fail(f"{ctx.describe(weights)} has {scales.size} scales for {channels} output channels")
            return quantize_multipliers(np.float64(input_scale) * scales.astype(np.float64) / output_scale)
        if bias is not None:
            bias_scale = float(bias.quantization.scale[0]) if bias.quantization is not None else 0.0
            product = input_scale * float(scales[0])
            if abs(product - bias_scale) / output_scale > MAX_BIAS_SCALE_MISMATCH:
                ctx.fail(
                    f"{ctx.describe(bias)} scale {bias_scale} does not match input x weight scale {product}"
                )
        # In double, like the per-channel path (checked against TFLM: a float32 product differs).
        multiplier, shift = quantize_multiplier(input_scale * float(scales[0]) / output_scale)
        return np.full(channels, multiplier, np.int32), np.full(channels, shift, np.int32)

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = inputs[0]
        rows = x.reshape(-1, self.depth)
        acc = (rows.astype(self.weights_t.dtype) + self.input_offset) @ self.weights_t
        out = np.empty((rows.shape[0], self.out_channels), np.int8)
        requantize_rows(
            acc, self.bias, self.multipliers, self.shifts, self.output_offset, self.act_min, self.act_max, out
        )
        if self.keep_dims:
            return [out.reshape(*x.shape[:-1], self.out_channels)]
        return [out]
