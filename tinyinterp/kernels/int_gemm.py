"""Exact int8 matrix products with AVX-512 VNNI (`vpdpbusd`), emitted as LLVM IR through numba.

`vpdpbusd` multiplies unsigned bytes by signed bytes, four pairs per int32 lane, and adds them to the
lane without saturation. TFLM's int8 sums are `sum (x + input_offset) * w` over int8 x and w, wrapping
in int32. With `u = x + 128` (unsigned) that sum is `sum u * w + (input_offset - 128) * sum w`: the
product runs on unsigned bytes and the second term, fixed per output channel, folds into the bias at
prepare time. Every step is exact modulo 2**32, so the int32 result wraps exactly as TFLM's does.
A padding position, which TFLM skips, must add nothing: its byte is `128 - input_offset`.

Weights are packed once (`PackedWeights`): blocks of 16 output channels, and in each block, for every
group of 4 reduction steps, the 16 x 4 bytes one `vpdpbusd` takes (64 bytes, one zmm register). The
reduction is padded to a multiple of 4 with zero weights and the channels to a multiple of 16 with
zero columns. A register tile of ROWS rows by BLOCKS blocks of 16 channels keeps its sums in zmm
registers over the whole reduction: per 4 steps, one broadcast of 4 input bytes per row, one load of
64 weight bytes per block, and ROWS x BLOCKS `vpdpbusd`.

A tile reads each row through an offset and runs of bytes (`_tile_intrinsic`), so a convolution's rows
can be its windows over the padded input (implicit GEMM, `gemm_u8s8_int8`) as well as the rows of a
matrix (`gemm_u8s8`). `gemm_u8s8_int8` runs the int8 output stage (`epilogue.py`) on each tile's sums.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from tinyinterp.jit import jit
from tinyinterp.kernels.epilogue import stage_block

LANES = 16  # int32 lanes of a zmm register: output channels per block
STEP = 4  # reduction steps per vpdpbusd (bytes per lane)
ROWS = 8  # rows of the register tile
BLOCKS = 2  # 16-channel blocks of the register tile (ROWS * BLOCKS accumulators + BLOCKS + 1 <= 32)
SHIFT = 128  # int8 x -> unsigned byte x + SHIFT


@cache
def vnni_available() -> bool:
    """Whether numba compiles for AVX-512 VNNI: the host CPU's features, unless NUMBA_CPU_FEATURES (or
    NUMBA_ENABLE_AVX=0) says otherwise. They also key numba's cache, so a cached kernel never runs on
    another CPU."""
    from numba.core import codegen, config

    features = config.CPU_FEATURES if config.CPU_FEATURES is not None else codegen.get_host_cpu_features()
    return {"+avx512vnni", "+avx512bw"} <= set(features.split(","))


def padded_depth(depth: int) -> int:
    """The reduction length rounded up to whole vpdpbusd steps: the length of an input row in bytes."""
    return -(-depth // STEP) * STEP


class PackedWeights:
    """int8 weights [channels, depth] packed once for `gemm_u8s8`, with what their sums owe the shift.

    `bias_shift[c] = (input_offset - SHIFT) * sum_k w[c, k]`: added to the bias, it turns the products
    of shifted bytes into TFLM's sums of `(x + input_offset) * w` (modulo 2**32, as TFLM wraps).
    `pad_byte` is the byte of a padding position, whose `x + input_offset` is 0.
    """

    def __init__(self, weights: np.ndarray, input_offset: int) -> None:
        self.channels, depth = weights.shape
        self.row_bytes = padded_depth(depth)
        blocks = -(-self.channels // LANES)
        full = np.zeros((blocks * LANES, self.row_bytes), np.int8)
        full[: self.channels, :depth] = weights
        # [blocks, 16, depth / 4, 4] -> [blocks, depth / 4, 16, 4]: one zmm load per block and step.
        packed = full.reshape(blocks, LANES, -1, STEP).transpose(0, 2, 1, 3)
        self.packed = np.ascontiguousarray(packed).reshape(-1)
        self.bias_shift = (input_offset - SHIFT) * weights.sum(axis=1, dtype=np.int64)
        self.pad_byte = np.uint8(SHIFT - input_offset)

    def sums(self, rows: np.ndarray, out: np.ndarray) -> np.ndarray:
        """`out` ([m, channels] int32) set to the products of `rows` ([m, row_bytes] uint8), both
        C-contiguous."""
        gemm_u8s8(rows, self.packed, out)
        return out

    def empty_sums(self, rows: int) -> np.ndarray:
        return np.empty((rows, self.channels), np.int32)


def shifted_rows(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """`out`, its [:, :depth] set to x + SHIFT as unsigned bytes for int8 rows x [m, depth] (the rest
    is left alone)."""
    np.bitwise_xor(x.view(np.uint8), np.uint8(SHIFT), out=out[:, : x.shape[1]])
    return out


def _splat(builder: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """An int32 broadcast to the 16 lanes (one vpbroadcastd)."""
    vector = ir.VectorType(value.type, LANES)
    single = builder.insert_element(ir.Constant(vector, None), value, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(single, single, ir.Constant(vector, [0] * LANES))


def _tile_intrinsic(rows: int, blocks: int) -> Any:
    """tile(a, offsets, packed, j, reduction, c, c_start, ldc): c[c_start + r * ldc + 16 b + lane] =
    the sum of row r with channel 16 (j + b) + lane, for r < `rows` and b < `blocks`: rows x blocks
    int32 sums held in zmm registers over the whole reduction, then stored.

    Row r's bytes are read from `a` (flat uint8) at offsets[r]: `reduction` = (segments, steps per
    segment, segment stride) says the reduction runs over `segments` runs of 4 * steps bytes, the
    stride apart. A patch matrix's row is one segment; a convolution's window over its padded input
    is a segment per kernel row (implicit GEMM: no patch matrix). packed: PackedWeights.packed, whose
    reduction steps follow the segments in order; c: flat int32."""

    @intrinsic
    def tile(typingctx, a, offsets, packed, j, reduction, c, c_start, ldc):
        def codegen(context, builder, signature, args):
            _, _, _, j, reduction, _, c_start, ldc = args
            i32 = ir.IntType(32)
            vector = ir.VectorType(i32, LANES)
            dot = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vector, [vector] * 3), "llvm.x86.avx512.vpdpbusd.512"
            )
            # Byte pointers (uint8 and int8 data), the row offsets and an int32 pointer.
            a_data, offsets_data, packed_data, c_data = (
                context.make_array(signature.args[k])(context, builder, args[k]).data for k in (0, 1, 2, 5)
            )
            segments, segment_steps, segment_stride = cgutils.unpack_tuple(builder, reduction, 3)

            def constant(value: int) -> ir.Constant:
                return ir.Constant(j.type, value)

            block_bytes = builder.mul(builder.mul(segments, segment_steps), constant(STEP * LANES))
            row_starts = [
                builder.gep(a_data, [builder.load(builder.gep(offsets_data, [constant(r)]))])
                for r in range(rows)
            ]
            block_starts = [
                builder.gep(packed_data, [builder.mul(builder.add(j, constant(b)), block_bytes)])
                for b in range(blocks)
            ]
            sums = [
                [cgutils.alloca_once_value(builder, ir.Constant(vector, [0] * LANES)) for _ in range(blocks)]
                for _ in range(rows)
            ]
            with cgutils.for_range(builder, segments) as segment:
                segment_start = builder.mul(segment.index, segment_stride)
                first_step = builder.mul(segment.index, segment_steps)
                with cgutils.for_range(builder, segment_steps) as loop:
                    step = builder.add(first_step, loop.index)
                    weights = [
                        builder.load(
                            builder.bitcast(
                                builder.gep(start, [builder.mul(step, constant(STEP * LANES))]),
                                vector.as_pointer(),
                            ),
                            align=1,
                        )
                        for start in block_starts
                    ]
                    byte = builder.add(segment_start, builder.mul(loop.index, constant(STEP)))
                    for start, row_sums in zip(row_starts, sums, strict=True):
                        four_bytes = builder.bitcast(builder.gep(start, [byte]), i32.as_pointer())
                        inputs = _splat(builder, builder.load(four_bytes, align=1))
                        for slot, block in zip(row_sums, weights, strict=True):
                            builder.store(builder.call(dot, [builder.load(slot), inputs, block]), slot)
            for r, row_sums in enumerate(sums):
                row_start = builder.add(c_start, builder.mul(constant(r), ldc))
                for b, slot in enumerate(row_sums):
                    at = builder.add(row_start, constant(b * LANES))
                    builder.store(
                        builder.load(slot),
                        builder.bitcast(builder.gep(c_data, [at]), vector.as_pointer()),
                        align=4,
                    )
            return context.get_dummy_value()

        index = types.intp
        return types.void(a, offsets, packed, index, reduction, c, index, index), codegen

    return tile


_tile_full = _tile_intrinsic(ROWS, BLOCKS)
_tile_rows = _tile_intrinsic(ROWS, 1)
_tile_row = _tile_intrinsic(1, BLOCKS)
_tile_single = _tile_intrinsic(1, 1)


@jit
def _copy_lanes(scratch, rows, lanes, c, c_start, ldc):
    """c[c_start + r * ldc + lane] = scratch[16 r + lane] for r < rows, lane < lanes."""
    for r in range(rows):
        for lane in range(lanes):
            c[c_start + r * ldc + lane] = scratch[r * LANES + lane]


@jit
def gemm_u8s8(rows_2d, packed, c_2d):
    """c[m, n] = sum_k a[m, k] * w[n, k] (uint8 x int8 in int32, wrapping) for the PackedWeights w:
    `rows_2d` a [rows, 4 * steps] uint8, `c_2d` [rows, channels] int32, both C-contiguous (the tiles
    address their flat views; numba refuses to compile the reshape of any other layout).
    Full register tiles, then narrower ones for the last whole blocks and the last rows; a last
    partial block of channels is stored through a scratch tile (a zmm store would overrun the row)."""
    rows, channels = c_2d.shape
    row_bytes = rows_2d.shape[1]
    reduction = (1, row_bytes // STEP, 0)
    a = rows_2d.reshape(-1)
    c = c_2d.reshape(-1)
    whole = channels // LANES
    paired = whole - whole % BLOCKS
    partial = channels % LANES
    scratch = np.empty(ROWS * LANES, np.int32)
    offsets = np.empty(ROWS, np.int64)
    full_rows = rows - rows % ROWS
    for m in range(0, full_rows, ROWS):
        for r in range(ROWS):
            offsets[r] = (m + r) * row_bytes
        for j in range(0, paired, BLOCKS):
            _tile_full(a, offsets, packed, j, reduction, c, m * channels + j * LANES, channels)
        for j in range(paired, whole):
            _tile_rows(a, offsets, packed, j, reduction, c, m * channels + j * LANES, channels)
        if partial:
            _tile_rows(a, offsets, packed, whole, reduction, scratch, 0, LANES)
            _copy_lanes(scratch, ROWS, partial, c, m * channels + whole * LANES, channels)
    for m in range(full_rows, rows):
        offsets[0] = m * row_bytes
        for j in range(0, paired, BLOCKS):
            _tile_row(a, offsets, packed, j, reduction, c, m * channels + j * LANES, channels)
        for j in range(paired, whole):
            _tile_single(a, offsets, packed, j, reduction, c, m * channels + j * LANES, channels)
        if partial:
            _tile_single(a, offsets, packed, whole, reduction, scratch, 0, LANES)
            _copy_lanes(scratch, 1, partial, c, m * channels + whole * LANES, channels)


@jit
def _stage_tile(scratch, rows, m, j, blocks, channels, table, scalars, rounding, out):
    """The output stage of a tile's sums (scratch [rows, BLOCKS * 16] int32, channel blocks j..j +
    blocks) into out's rows m..m + rows, the last block's lanes cut at `channels`."""
    for r in range(rows):
        for b in range(blocks):
            channel = (j + b) * LANES
            count = min(LANES, channels - channel)
            stage_block(scratch, r, b * LANES, table, out, m + r, channel, count, scalars, rounding)


@jit
def gemm_u8s8_int8(a, pixel_offsets, item_bytes, reduction, packed, table, scalars, rounding, out):
    """out[m, n] = the int8 output stage (`table`, `scalars`, `rounding`: Int8OutputStage.arguments)
    of sum_k a_m[k] * w[n, k] for the PackedWeights w, where row m = item * pixels + pixel reads `a`
    (flat uint8) from item * item_bytes + pixel_offsets[pixel] as `reduction` says (see
    _tile_intrinsic). out: [rows, channels] int8 with contiguous rows (a view of some columns works).

    Each register tile stores its int32 sums to a scratch tile that stays in L1, whose output stage
    runs at once: the sums never travel to memory."""
    rows, channels = out.shape
    pixels = len(pixel_offsets)
    blocks = -(-channels // LANES)
    scratch = np.empty((ROWS, BLOCKS * LANES), np.int32)
    flat = scratch.reshape(-1)
    offsets = np.empty(ROWS, np.int64)
    for m in range(0, rows, ROWS):
        count = min(ROWS, rows - m)
        for r in range(count):
            item, pixel = divmod(m + r, pixels)
            offsets[r] = item * item_bytes + pixel_offsets[pixel]
        for j in range(0, blocks, BLOCKS):
            pair = min(BLOCKS, blocks - j)
            if count == ROWS and pair == BLOCKS:
                _tile_full(a, offsets, packed, j, reduction, flat, 0, BLOCKS * LANES)
            elif count == ROWS:
                _tile_rows(a, offsets, packed, j, reduction, flat, 0, BLOCKS * LANES)
            else:
                for r in range(count):
                    if pair == BLOCKS:
                        _tile_row(a, offsets[r:], packed, j, reduction, flat, r * BLOCKS * LANES, 0)
                    else:
                        _tile_single(a, offsets[r:], packed, j, reduction, flat, r * BLOCKS * LANES, 0)
            _stage_tile(scratch, count, m, j, pair, channels, table, scalars, rounding, out)
