"""Consecutive int8 FULLY_CONNECTED layers in one numba call (ad01: ten layers of 128 units).

At batch 1 such a layer is a few microseconds of products, so the Python steps and numba dispatches
around it (shift the input to bytes, multiply, requantize: three calls per layer) cost more than the
arithmetic. `fully_connected_chain` runs a whole chain of layers, each reading the previous one's
output, with the products of int_gemm's register tiles (AVX-512 VNNI; `gemm_u8s8`, or `row_products`
below for rows that fill no tile of 8) and the requantization of `gemm.requantize_rows`: the integer
sums and output stage of each layer's own eval, so the same bits.

A layer is one row of an int64 table (the columns below), its packed weights a slice of one int8
array, its per-channel bias (with int_gemm's shift folded in), multipliers and shifts slices of
three arrays. Outputs are written into one int8 arena, layer after layer, at offsets per item.
"""

from __future__ import annotations

import numpy as np

from tinyinterp.jit import jit
from tinyinterp.kernels.gemm import requantize_rows
from tinyinterp.kernels.int_gemm import (
    LANES,
    SHIFT,
    STEP,
    _copy_lanes,
    _tile_intrinsic,
    _tile_single,
    gemm_u8s8,
)

# Columns of a layer's row in the table.
DEPTH = 0  # reduction length
ROW_BYTES = 1  # the reduction padded to whole vpdpbusd steps (PackedWeights.row_bytes)
CHANNELS = 2  # output channels
ROWS = 3  # rows per item (input elements per item / depth)
WEIGHTS_AT = 4  # start and length of the packed weights in the weights array
WEIGHTS_SIZE = 5
CHANNELS_AT = 6  # start of the layer's channels in the bias, multiplier and shift arrays
OUTPUT_AT = 7  # start of the layer's output in the arena, per item
OUTPUT_OFFSET = 8
ACT_MIN = 9
ACT_MAX = 10
ROUNDING = 11
COLUMNS = 12

# 16-channel blocks of a one-row tile: gemm_u8s8's leftover rows take 2 at a time, two chains of
# dependent vpdpbusd that wait on its latency; 8 independent ones keep the unit busy.
ROW_BLOCKS = 8
_tile_wide_row = _tile_intrinsic(1, ROW_BLOCKS)


@jit
def row_products(a, m, packed, steps, c, offsets):
    """Row m of `a` (flat uint8 rows of 4 * steps bytes) times the PackedWeights `packed`, into row m
    of `c` ([rows, channels] int32): gemm_u8s8's sums for a single row, in wide tiles. `offsets`:
    scratch for the tiles' row offset (one int64)."""
    channels = c.shape[1]
    flat = c.reshape(-1)
    offsets[0] = m * steps * STEP  # the row as one segment of the reduction
    reduction = (1, steps, 0)
    whole = channels // LANES
    wide = whole - whole % ROW_BLOCKS
    for j in range(0, wide, ROW_BLOCKS):
        _tile_wide_row(a, offsets, packed, j, reduction, flat, m * channels + j * LANES, channels)
    for j in range(wide, whole):
        _tile_single(a, offsets, packed, j, reduction, flat, m * channels + j * LANES, channels)
    partial = channels % LANES
    if partial:
        scratch = np.empty(LANES, np.int32)
        _tile_single(a, offsets, packed, whole, reduction, scratch, 0, LANES)
        _copy_lanes(scratch, 1, partial, flat, m * channels + whole * LANES, channels)


@jit
def _shifted(source, items, layer, row_bytes):
    """The layer's input rows (flat int8 `source`) as unsigned bytes x + SHIFT, [rows, ROW_BYTES]."""
    rows, depth, padded = items * layer[ROWS], layer[DEPTH], layer[ROW_BYTES]
    shifted = row_bytes[: rows * padded].reshape(rows, padded)
    for m in range(rows):  # bytes past the depth meet zero weights: any value will do
        for d in range(depth):
            shifted[m, d] = np.uint8(source[m * depth + d] + SHIFT)
    return shifted


@jit
def _sums(items, layer, weights, sums):
    """The layer's int32 sums [rows, CHANNELS] in the scratch `sums`, and its packed weights."""
    rows, channels = items * layer[ROWS], layer[CHANNELS]
    packed = weights[layer[WEIGHTS_AT] : layer[WEIGHTS_AT] + layer[WEIGHTS_SIZE]]
    return sums[: rows * channels].reshape(rows, channels), packed


@jit
def _requantized(products, items, layer, bias, multipliers, shifts, arena):
    """The layer's output in `arena` (flat), requantized from its sums: the next layer's input."""
    rows, channels = products.shape
    at, first = items * layer[OUTPUT_AT], layer[CHANNELS_AT]
    out = arena[at : at + rows * channels]
    requantize_rows(
        products, bias[first : first + channels], multipliers[first : first + channels],
        shifts[first : first + channels], layer[OUTPUT_OFFSET], layer[ACT_MIN], layer[ACT_MAX],
        out.reshape(rows, channels), layer[ROUNDING], False,
    )  # fmt: skip
    return out


@jit
def fully_connected_chain(x, items, layers, weights, bias, multipliers, shifts, arena, row_bytes, sums):
    """Every layer of `layers` on `items` items: layer 0 reads `x` (flat int8), layer k the output of
    layer k - 1 in `arena` (flat int8, sized for every layer's output). `row_bytes` (uint8) and `sums`
    (int32) are scratch, flat, large enough for the widest layer's shifted rows and sums. Products in
    gemm_u8s8's register tiles of 8 rows; `fully_connected_chain_rows` for fewer rows."""
    source = x
    for k in range(layers.shape[0]):
        shifted = _shifted(source, items, layers[k], row_bytes)
        products, packed = _sums(items, layers[k], weights, sums)
        gemm_u8s8(shifted, packed, products)
        source = _requantized(products, items, layers[k], bias, multipliers, shifts, arena)


@jit
def fully_connected_chain_rows(x, items, layers, weights, bias, multipliers, shifts, arena, row_bytes, sums):
    """`fully_connected_chain` with every row on its own (`row_products`), for layers of fewer rows
    than a register tile (batch 1). Its own kernel: a fresh process's first batch-1 result then
    compiles no gemm_u8s8 (seconds with an empty cache)."""
    source = x
    offsets = np.empty(1, np.int64)
    for k in range(layers.shape[0]):
        layer = layers[k]
        _shifted(source, items, layer, row_bytes)
        products, packed = _sums(items, layer, weights, sums)
        for m in range(products.shape[0]):
            row_products(row_bytes, m, packed, layer[ROW_BYTES] // STEP, products, offsets)
        source = _requantized(products, items, layer, bias, multipliers, shifts, arena)
