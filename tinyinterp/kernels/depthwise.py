"""int8 DEPTHWISE_CONV_2D (depth multiplier 1), 16 outputs at a time in vector registers with the output
stage fused, emitted as LLVM vector IR through numba (generic vectors: any CPU lowers them).

The input comes padded (`pad_with_offset`) with the byte whose value plus the input offset is 0, so a
window that leaves the input reads values that add nothing, as TFLM skips them: every output then sums
all its taps, and the input offset's share, `input_offset * sum(w)` per channel, folds into the bias.
Each output row is flat, (column, channel) in NHWC order, and cut in chunks of 16 lanes: per tap, one
load of 16 input bytes, one of 16 weights (the filters repeated along the row), a multiply-add in int32
lanes (wrapping as TFLM's int32 sums), then the output stage and one store of 16 bytes. At stride 1 a
chunk's inputs are contiguous whatever the channel count; at other strides, a chunk stays within one
pixel, which needs a multiple of 16 channels (`vector_depthwise_fits`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from tinyinterp.jit import jit
from tinyinterp.kernels.conv import pad_with_offset
from tinyinterp.kernels.epilogue import LANES, lane_address, output_stage, store_lanes
from tinyinterp.kernels.int_gemm import vnni_available

UNROLLED_WIDTH = 3  # the kernel width whose taps are emitted without a loop


def vector_depthwise_fits(channels: int, depth_multiplier: int, stride_w: int) -> bool:
    """Whether `depthwise_int8` computes this layer: a chunk of lanes must read contiguous inputs."""
    return depth_multiplier == 1 and (stride_w == 1 or channels % LANES == 0)


def tiled_weights(filters: np.ndarray, out_w: int) -> np.ndarray:
    """int8 filters [kh, kw, channels] repeated for the out_w pixels of an output row, each an int32
    holding the weight's int16 bits in its low half (see `_multiply_add`), each row padded with zeros
    to whole chunks: [kh, kw, chunks * 16], flat."""
    kernel_h, kernel_w, channels = filters.shape
    row = out_w * channels
    tiled = np.zeros((kernel_h, kernel_w, -(-row // LANES) * LANES), np.int32)
    tiled[:, :, :row] = np.tile(filters.astype(np.uint16), (1, 1, out_w))
    return tiled.reshape(-1)


def _multiply_add(builder: ir.IRBuilder) -> Callable[[ir.Value, ir.Value, ir.Value], ir.Value]:
    """(sums, inputs, weights) -> sums + inputs * weights on 16 int32 lanes, inputs sign-extended
    bytes and weights `tiled_weights`' (a byte's int16 value in the low half of the lane, 0 above).

    With AVX-512 VNNI, one vpdpwssd: it reads each lane as two int16 (the input and its sign; the
    weight and 0) and adds their products, the input times the weight. Elsewhere, the weight's low half
    sign-extended, then a multiply and an add."""
    wide = ir.VectorType(ir.IntType(32), LANES)
    if vnni_available():
        pairs = ir.VectorType(ir.IntType(16), 2 * LANES)
        dot = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(wide, [wide, pairs, pairs]), "llvm.x86.avx512.vpdpwssd.512"
        )
        return lambda sums, inputs, weights: builder.call(
            dot, [sums, builder.bitcast(inputs, pairs), builder.bitcast(weights, pairs)]
        )
    sixteen = ir.Constant(wide, [16] * LANES)

    def multiply_add(sums: ir.Value, inputs: ir.Value, weights: ir.Value) -> ir.Value:
        weights = builder.ashr(builder.shl(weights, sixteen), sixteen)
        return builder.add(sums, builder.mul(inputs, weights))

    return multiply_add


@intrinsic
def _chunk(
    typingctx, x, image_row, in_j, geometry, weights, j, table, out, out_row, count, scalars, rounding
):
    """_chunk(x, image_row, in_j, geometry, weights, j, table, out, out_row, count, scalars, rounding):
    out[out_row, j + lane] for the 16 lanes (or the first `count`).

    x: the padded input, flat int8; image_row: the padded row of the window's top tap; in_j: the
    byte of the chunk's first input in a row; geometry: (row_bytes, dilation_h, kernel_h, kernel_w,
    kx_step, weights_row), kx_step the bytes from one tap column to the next; weights: `tiled_weights`;
    table: the epilogue's `stage_table` over the row; out: [rows, row length] int8; scalars, rounding:
    `Int8OutputStage.arguments`."""

    def codegen(context, builder, signature, args):
        x_array, weights_array, table_array, out_array = (
            context.make_array(signature.args[k])(context, builder, args[k]) for k in (0, 4, 6, 7)
        )
        image_row, in_j, geometry, _, j, _, _, out_row, count = args[1:10]
        row_bytes, dilation_h, kernel_h, kernel_w, kx_step, weights_row = cgutils.unpack_tuple(
            builder, geometry, 6
        )
        sums_type = ir.VectorType(ir.IntType(32), LANES)
        bytes_type = ir.VectorType(ir.IntType(8), LANES)
        x_data = builder.bitcast(x_array.data, ir.IntType(8).as_pointer())
        sums = cgutils.alloca_once_value(builder, ir.Constant(sums_type, [0] * LANES))

        multiply_add = _multiply_add(builder)

        def tap(row_start: ir.Value, first_weight: ir.Value, column: ir.Value) -> None:
            """sums += inputs * weights of the tap in `column` of the row."""
            at = builder.add(row_start, builder.mul(column, kx_step))
            source = builder.bitcast(builder.gep(x_data, [at]), bytes_type.as_pointer())
            weight_at = builder.add(builder.mul(builder.add(first_weight, column), weights_row), j)
            weight_pointer = builder.bitcast(
                builder.gep(weights_array.data, [weight_at]), sums_type.as_pointer()
            )
            inputs = builder.sext(builder.load(source, align=1), sums_type)
            sums_value = multiply_add(builder.load(sums), inputs, builder.load(weight_pointer, align=4))
            builder.store(sums_value, sums)

        with cgutils.for_range(builder, kernel_h) as rows:
            tap_row = builder.add(image_row, builder.mul(rows.index, dilation_h))
            row_start = builder.add(builder.mul(tap_row, row_bytes), in_j)
            first_weight = builder.mul(rows.index, kernel_w)
            # The common 3-wide kernel in straight-line code: a loop of 3 costs more than its taps.
            three = ir.Constant(kernel_w.type, UNROLLED_WIDTH)
            with builder.if_else(builder.icmp_signed("==", kernel_w, three)) as (unrolled, looped):
                with unrolled:
                    for column in range(UNROLLED_WIDTH):
                        tap(row_start, first_weight, ir.Constant(kernel_w.type, column))
                with looped, cgutils.for_range(builder, kernel_w) as columns:
                    tap(row_start, first_weight, columns.index)
        scalars = tuple(cgutils.unpack_tuple(builder, args[10], 4))
        result = output_stage(builder, builder.load(sums), table_array, j, scalars, args[11])
        target = lane_address(builder, out_array, out_row, j, ir.IntType(8))
        store_lanes(builder, result, target, count)
        return context.get_dummy_value()

    index = types.intp
    arguments = (x, index, index, geometry, weights, index, table, out, index, index, scalars, types.int64)
    return types.void(*arguments), codegen


@jit
def depthwise_int8(
    x, pad_top, pad_left, pad_byte, padded_h, padded_w, kernel_h, kernel_w, stride_h, stride_w, dilation_h,
    dilation_w, weights, table, scalars, rounding, out,
):  # fmt: skip
    """DepthwiseConvPerChannel (int8, depth multiplier 1) of x [items, height, width, channels] into out
    [items, out_h, out_w, channels], with the `tiled_weights` and the output row's `stage_table` (the
    input offset's share of the sums in its bias; scalars: `Int8OutputStage.scalars`). The input
    is padded to padded_h x padded_w with `pad_byte`, the byte that stands for 0, then 16 bytes of
    slack (a last partial chunk loads whole lanes)."""
    items, _, _, channels = x.shape
    out_h = out.shape[1]
    size = items * padded_h * padded_w * channels
    padded = np.empty(size + LANES, np.int8)
    pad_with_offset(
        x, 0, 0, pad_top, pad_left, padded[:size].reshape((items, padded_h, padded_w, channels)), pad_byte
    )
    rows = out.reshape((items * out_h, -1))
    row_length = rows.shape[1]
    row_bytes = padded_w * channels
    geometry = (
        row_bytes,
        dilation_h,
        kernel_h,
        kernel_w,
        dilation_w * channels,
        len(weights) // (kernel_h * kernel_w),
    )
    for out_row in range(items * out_h):
        n, oy = divmod(out_row, out_h)
        image_row = n * padded_h + oy * stride_h
        for j in range(0, row_length, LANES):
            in_j = j if stride_w == 1 else (j // channels) * stride_w * channels + j % channels
            count = min(LANES, row_length - j)
            _chunk(
                padded, image_row, in_j, geometry, weights, j, table, rows, out_row, count, scalars, rounding
            )
