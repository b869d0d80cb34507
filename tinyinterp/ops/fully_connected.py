"""FULLY_CONNECTED: int8, 16x8 (int16 activations, int8 weights; int32 or int64 bias) and float32.

Unlike the 16x8 convolutions, TFLM's 16x8 fully connected kernel does apply the zero points.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tinyinterp.kernels.gemm import exact_float_dtype, fully_connected_int8, ordered_matmul_float
from tinyinterp.kernels.int_gemm import STEP, PackedWeights, gemm_u8s8_int8, shifted_rows, vnni_available
from tinyinterp.model.options import FullyConnectedOptions
from tinyinterp.ops.base import Array, Op, OpContext, register, required
from tinyinterp.ops.conv import (
    FLOAT32,
    INT8,
    INT16,
    INT32,
    INT64,
    accumulates_in_int64,
    bias_values,
    float_op_data,
    kernel_dtype,
    quantized_op_data,
)
from tinyinterp.quant import quantize_multiplier, quantize_multipliers

# TFLM refuses a bias whose scale strays from input_scale * weight_scale by more than this.
MAX_BIAS_SCALE_MISMATCH = 0.02
# Largest |input + input offset| per activation dtype, which bounds the exact BLAS sums.
MAX_ABS_INPUT = {INT8: 255, INT16: 65535}
# Rows from which BLAS's float products beat the fused int8 kernel (its call and copies amortized).
BLAS_ROWS = 8
ONE_PIXEL = np.zeros(1, np.int64)  # gemm_u8s8_int8's pixel offsets for rows that are whole items


@register("FULLY_CONNECTED", dtypes=("int8", "int16", "float32"))
class FullyConnected(Op):
    def __init__(self, ctx: OpContext[FullyConnectedOptions]) -> None:
        ctx.expect_count((2, 3))
        input_, weights, output = ctx.input(0), ctx.input(1), ctx.output()
        bias = ctx.optional_input(2)
        self.dtype = kernel_dtype(ctx, input_, weights, output)
        if ctx.options.weights_format != "DEFAULT":
            ctx.fail(f"weights_format {ctx.options.weights_format} is not supported")
        ctx.expect_rank(weights, 2)
        matrix = ctx.expect_constant(weights)
        out_channels, depth = matrix.shape
        in_size = int(np.prod(input_.shape))
        if depth == 0 or in_size % depth:
            ctx.fail(
                f"{ctx.describe(input_)} has {in_size} elements, not a multiple of the weights' depth {depth}"
            )
        rows = in_size // depth
        keep_dims = ctx.options.keep_num_dims
        if keep_dims and (not input_.shape or input_.shape[-1] != depth):
            ctx.fail(
                f"keep_num_dims needs {ctx.describe(input_)}'s last dimension to be the weights' depth "
                f"{depth}, got shape {list(input_.shape)}"
            )
        expected = (*input_.shape[:-1], out_channels) if keep_dims else (rows, out_channels)
        ctx.expect_shape(output, expected)
        self.out_channels, self.depth, self.keep_dims = out_channels, depth, keep_dims
        self.run: Callable[[Array], Array]
        if self.dtype == FLOAT32:
            self.op_data = float_op_data(ctx, bias, out_channels)
            self.weights_t = np.ascontiguousarray(matrix.T, dtype=np.float32)
            self.run = self._float
            return
        multipliers = self._multipliers(ctx, input_, weights, output, bias, out_channels)
        wide = self.dtype == INT16 and accumulates_in_int64(ctx, bias)
        values = bias_values(ctx, bias, out_channels, INT64 if wide else INT32)
        self.op_data = quantized_op_data(ctx, input_, output, values, multipliers, wide, zero_points=True)
        float_dtype = exact_float_dtype(matrix, reduce_axis=1, max_abs_input=MAX_ABS_INPUT[self.dtype])
        self.weights_t = np.ascontiguousarray(matrix.T, dtype=float_dtype)
        if self.dtype == INT8:  # int8 sums fit int32 lanes, as in TFLM (16x8 ones may need 64 bits)
            self.int32_weights_t = np.ascontiguousarray(matrix.T, dtype=np.int32)
            # Many rows: int_gemm's VNNI products instead of BLAS's, their shift folded into the bias.
            self.packed = PackedWeights(matrix, self.op_data.input_offset) if vnni_available() else None
            if self.packed is not None:
                self.stage = self.op_data.packed_stage(slice(None), self.packed)
            self.run = self._int8
            self.calls_blas = self.packed is None  # rows from BLAS_ROWS on
        else:
            self.run = self._blas
            self.calls_blas = True

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
        x = required(inputs[0])
        out = self.run(x.reshape(-1, self.depth))
        if self.keep_dims:
            return [out.reshape(*x.shape[:-1], self.out_channels)]
        return [out]

    def _float(self, rows: Array) -> Array:
        """reference_ops::FullyConnected's summation order."""
        q = self.op_data
        out = np.empty((rows.shape[0], self.out_channels), np.float32)
        ordered_matmul_float(rows, self.weights_t, q.bias, q.act_min, q.act_max, out)
        return out

    def _int8(self, rows: Array) -> Array:
        """Few rows: the fused int32 kernel; more: VNNI's integer products where the CPU has them, else
        BLAS's exact float products."""
        if rows.shape[0] >= BLAS_ROWS:
            return self._blas(rows) if self.packed is None else self._vnni(rows, self.packed)
        q = self.op_data
        out = np.empty((rows.shape[0], self.out_channels), q.dtype)
        fully_connected_int8(
            rows, self.int32_weights_t, q.bias, q.multipliers, q.shifts, q.input_offset, q.output_offset,
            q.act_min, q.act_max, out, q.rounding,
        )  # fmt: skip
        return out

    def _vnni(self, rows: Array, packed: PackedWeights) -> Array:
        """The rows as shifted unsigned bytes times the packed weights in int32, through the output
        stage tile by tile."""
        # Bytes past the depth (rows padded to whole steps) meet zero weights: any value will do.
        shifted = shifted_rows(rows, np.empty((rows.shape[0], packed.row_bytes), np.uint8))
        out = np.empty((rows.shape[0], self.out_channels), self.op_data.dtype)
        # Each row an item of one "pixel" (its whole row), one run of the reduction.
        reduction = (1, packed.row_bytes // STEP, 0)
        rows_bytes = shifted.reshape(-1)
        gemm_u8s8_int8(
            rows_bytes, ONE_PIXEL, packed.row_bytes, reduction, packed.packed, *self.stage.arguments, out
        )
        return out

    def _blas(self, rows: Array) -> Array:
        """The offset rows times the weights in exact floats, then requantized."""
        q = self.op_data
        shifted = rows.astype(self.weights_t.dtype)
        shifted += q.input_offset  # in place: one float copy of the rows, not two
        out = np.empty((rows.shape[0], self.out_channels), q.dtype)
        q.requantize(shifted @ self.weights_t, slice(None), out)
        return out
