"""BATCH_MATMUL (int8, int16, float32): lhs @ rhs over broadcast batch dimensions (ranks 2 to 5).

adj_x / adj_y transpose the last two dimensions of lhs / rhs first. TFLM sums each output in the
order of the shared dimension, so float32 results are bit-exact; quantized ones use one per-tensor
multiplier and the zero points of both inputs (int16 requires zero points of 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyinterp.kernels.gemm import ordered_matmul_float, requantize_rows
from tinyinterp.model.ir import TensorType
from tinyinterp.model.options import BatchMatMulOptions
from tinyinterp.ops.base import Array, Op, OpContext, register, required
from tinyinterp.quant import quantize_multiplier

INT8, INT16, FLOAT32 = TensorType.INT8, TensorType.INT16, TensorType.FLOAT32
MIN_RANK, MAX_RANK = 2, 5


def _matrix(x: Array, adjoint: bool) -> Array:
    return np.swapaxes(x, -1, -2) if adjoint else x


def _matrix_shape(shape: tuple[int, ...], adjoint: bool) -> tuple[int, int]:
    """(rows, columns) of the matrices after the optional transpose."""
    return (shape[-1], shape[-2]) if adjoint else (shape[-2], shape[-1])


@register("BATCH_MATMUL", dtypes=("int8", "int16", "float32"))
class BatchMatMul(Op):
    # Batch dimensions broadcast against each other, so dimension 0 is not a batch of items.
    batch_safe = False

    def __init__(self, ctx: OpContext[BatchMatMulOptions]) -> None:
        ctx.expect_count(2)
        lhs, rhs, output = ctx.input(0), ctx.input(1), ctx.output()
        ctx.expect_dtype(lhs, INT8, INT16, FLOAT32)
        ctx.expect_dtype(rhs, lhs.dtype)
        ctx.expect_dtype(output, lhs.dtype)
        for tensor in (lhs, rhs):
            if not MIN_RANK <= len(tensor.shape) <= MAX_RANK:
                ctx.fail(f"{ctx.describe(tensor)} has rank {len(tensor.shape)}, expected 2 to 5")
        self.adj_x, self.adj_y = ctx.options.adj_x, ctx.options.adj_y
        rows, depth = _matrix_shape(lhs.shape, self.adj_x)
        rhs_depth, cols = _matrix_shape(rhs.shape, self.adj_y)
        if depth != rhs_depth:
            ctx.fail(f"lhs {list(lhs.shape)} and rhs {list(rhs.shape)} do not share a summed dimension")
        try:
            self.batch = np.broadcast_shapes(lhs.shape[:-2], rhs.shape[:-2])
        except ValueError:
            ctx.fail(f"batch dimensions of {list(lhs.shape)} and {list(rhs.shape)} do not broadcast")
        ctx.expect_shape(output, (*self.batch, rows, cols))
        self.dtype = output.dtype.numpy
        self.bias = np.zeros(cols, np.float32 if lhs.dtype == FLOAT32 else np.int64)
        if lhs.dtype == FLOAT32:
            return
        (lhs_scale, lhs_zero), (rhs_scale, rhs_zero) = ctx.quantization(lhs), ctx.quantization(rhs)
        output_scale, self.output_offset = ctx.quantization(output)
        if lhs.dtype == INT16 and (lhs_zero, rhs_zero, self.output_offset) != (0, 0, 0):
            zero_points = [lhs_zero, rhs_zero, self.output_offset]
            ctx.fail(f"int16 inputs and output need zero points of 0, got {zero_points}")
        self.offsets = (-lhs_zero, -rhs_zero)
        self.calls_blas = True  # the quantized products
        multiplier, shift = quantize_multiplier(lhs_scale * rhs_scale / output_scale)
        self.multipliers = np.full(cols, multiplier, np.int32)
        self.shifts = np.full(cols, shift, np.int32)
        info = np.iinfo(self.dtype)
        self.act_range = (int(info.min), int(info.max))

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        lhs, rhs = _matrix(required(inputs[0]), self.adj_x), _matrix(required(inputs[1]), self.adj_y)
        lhs = np.broadcast_to(lhs, (*self.batch, *lhs.shape[-2:])).reshape(-1, *lhs.shape[-2:])
        rhs = np.broadcast_to(rhs, (*self.batch, *rhs.shape[-2:])).reshape(-1, *rhs.shape[-2:])
        batches, rows, cols = lhs.shape[0], lhs.shape[1], rhs.shape[2]
        out = np.empty((batches, rows, cols), self.dtype)
        if self.dtype == np.float32:
            infinity = np.float32(np.inf)
            for b in range(batches):
                ordered_matmul_float(
                    lhs[b], np.ascontiguousarray(rhs[b]), self.bias, -infinity, infinity, out[b]
                )
        else:
            # Exact in float64: |sum| <= 65535**2 * depth stays far below 2**53.
            acc = (lhs.astype(np.float64) + self.offsets[0]) @ (rhs.astype(np.float64) + self.offsets[1])
            requantize_rows(
                acc.reshape(-1, cols),
                self.bias,
                self.multipliers,
                self.shifts,
                self.output_offset,
                *self.act_range,
                out.reshape(-1, cols),
                wide=self.dtype == np.int16,
            )
        return [out.reshape(*self.batch, rows, cols)]
