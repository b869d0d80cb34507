"""CONV_2D and DEPTHWISE_CONV_2D as TFLM's reference kernels (NHWC layout): int8 and 16x8
(reference_integer_ops), float32 (reference_ops). DEPTHWISE_CONV_2D is one kernel for the three, as
TFLM's templates would be (int8 layers at a depth multiplier of 1 take the vector kernel of
`depthwise.py`); CONV_2D's quantized products go through int_gemm (int8 on AVX-512 VNNI) or BLAS
(`gemm.py`).

Padding positions contribute nothing to the sums (TFLM skips them), which `pad_with_offset`
reproduces by writing zeros after the input offset has been added.
"""

from __future__ import annotations

import numpy as np

from tinyinterp.jit import jit
from tinyinterp.kernels.fixedpoint import (
    clamp_float,
    multiply_by_quantized_multiplier_int64,
    requantize_with,
    wrap_int32,
)
from tinyinterp.kernels.int_gemm import SHIFT, STEP, gemm_u8s8_int8


@jit
def pad_with_offset(x, input_offset, channel_start, pad_top, pad_left, padded, pad_value=0):
    """padded[n, y, x, c] = x[n, y - pad_top, x - pad_left, channel_start + c] + input_offset, and
    `pad_value` where that position is outside x (TFLM skips padding, so it must add nothing to the
    sums: 0, or what stands for 0 in int_gemm's unsigned bytes).

    Each input value is converted once; the patches are then plain float copies. Flat unsigned
    indices spare numba's negative-index wrap-around checks, and `input_offset` has the padded
    array's float dtype (int8 + float needs no int64, which AVX2 cannot convert), so the copies
    vectorize.
    """
    batches, height, width, depth = x.shape
    _, rows, columns, channels = padded.shape
    source = x.reshape(-1)
    target = padded.reshape(-1)
    # The padded columns that hold input columns, [first, stop); their values are one contiguous run
    # of the input's row when the pixels are whole (no channel group).
    first = min(pad_left, columns)
    stop = max(first, min(pad_left + width, columns))
    whole_pixels = channels == depth
    row_values = np.uint64(columns * channels)
    inside_start, inside_stop = np.uint64(first * channels), np.uint64(stop * channels)
    run = np.uint64(channels)
    for n in range(batches):
        for y in range(rows):
            iy = y - pad_top
            start = np.uint64((n * rows + y) * columns * channels)
            if iy < 0 or iy >= height:
                for k in range(row_values):
                    target[start + k] = pad_value
                continue
            for k in range(inside_start):
                target[start + k] = pad_value
            for k in range(inside_stop, row_values):
                target[start + k] = pad_value
            pixel = ((n * height + iy) * width + first - pad_left) * depth + channel_start
            if whole_pixels:
                begin, position = np.uint64(pixel), start + inside_start
                for k in range(inside_stop - inside_start):
                    target[position + k] = source[begin + k] + input_offset
                continue
            for column in range(first, stop):
                begin = np.uint64(pixel + (column - first) * depth)
                position = start + np.uint64(column) * run
                for c in range(run):
                    target[position + c] = source[begin + c] + input_offset


@jit
def patches_from_padded(
    padded, kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, out_h, out_w, patches
):
    """im2col of a `pad_with_offset` array: patches[(n, oy, ox), (ky, kx, c)] = padded[n, oy * stride_h
    + ky * dilation_h, ox * stride_w + kx * dilation_w, c]. Without dilation along the width, a
    kernel row's (kx, c) values are adjacent in `padded`, so they are copied as one run. A row of
    `patches` may be longer than a patch (int_gemm's rows, padded to whole steps): the rest is left alone."""
    batches, rows, columns, channels = padded.shape
    source = padded.reshape(-1)
    target = patches.reshape(-1)
    pieces = 1 if dilation_w == 1 else kernel_w
    run = np.uint64(kernel_w * channels // pieces)
    piece_step = np.uint64(dilation_w * channels)
    row_start = np.uint64(0)
    for n in range(batches):
        for oy in range(out_h):
            for ox in range(out_w):
                position = row_start
                row_start += np.uint64(patches.shape[1])
                for ky in range(kernel_h):
                    y = n * rows + oy * stride_h + ky * dilation_h
                    start = np.uint64((y * columns + ox * stride_w) * channels)
                    for piece in range(pieces):
                        begin = start + np.uint64(piece) * piece_step
                        for c in range(run):
                            target[position + c] = source[begin + c]
                        position += run


@jit
def conv_int8_implicit(
    x, channel_start, pad_top, pad_left, padded_shape, pad_byte, tile_items, pixel_offsets, reduction,
    packed, table, scalars, rounding, out,
):  # fmt: skip
    """int8 CONV_2D on AVX-512 VNNI for the channel group starting at `channel_start`, without a patch
    matrix: tile by tile of items (`tile_items`, sized to stay in cache), pad and shift the input
    (padded_shape: rows, columns, group channels), then `gemm_u8s8_int8` reads the windows from it
    (`pixel_offsets`, `reduction`) and writes out [items * pixels, group's out channels] int8."""
    items = x.shape[0]
    rows, columns, channels = padded_shape
    item_bytes = rows * columns * channels
    pixels = len(pixel_offsets)
    tile = max(1, min(tile_items, items))
    # A step of bytes past the last item: a window's last run is read in whole 4-byte steps.
    padded = np.empty(tile * item_bytes + STEP, np.uint8)
    for start in range(0, items, tile):
        count = min(tile, items - start)
        window = padded[: count * item_bytes].reshape((count, rows, columns, channels))
        pad_with_offset(
            x[start : start + count], np.int16(SHIFT), channel_start, pad_top, pad_left, window, pad_byte
        )
        tile_out = out[start * pixels : (start + count) * pixels]
        gemm_u8s8_int8(
            padded, pixel_offsets, item_bytes, reduction, packed, table, scalars, rounding, tile_out
        )


@jit
def offset_input(value, input_offset):
    """An input value plus the input offset; a float value as it is (float kernels have no offset)."""
    if isinstance(value, (float, np.float32)):  # numba decides this at compile time, per dtype
        return value
    return value + input_offset


@jit
def sums_for(value, channels):
    """Room for one sum per channel, of the type TFLM's kernels sum an input like `value` in: int32 for
    int8 (wrapping alike), int64 for int16 (16x8), float32 for float32. Decided at compile time (an
    array or dtype argument instead costs each call more than the int8 kernel's work)."""
    if isinstance(value, (float, np.float32)):
        return np.empty(channels, np.float32)
    if isinstance(value, np.int16):
        return np.empty(channels, np.int64)
    return np.empty(channels, np.int32)


@jit
def depthwise_conv(
    x,
    filters,
    bias,
    multipliers,
    shifts,
    input_offset,
    output_offset,
    act_min,
    act_max,
    rounding,
    depth_multiplier,
    stride_h,
    stride_w,
    dilation_h,
    dilation_w,
    pad_top,
    pad_left,
    out,
):
    """DepthwiseConvPerChannel (int8, 16x8) and reference_ops::DepthwiseConv (float32), one loop: filters
    [kh, kw, out_channels]; out channel = c * multiplier + m.

    The sums have the type TFLM's kernels give them (`sums_for`). The channel loop is innermost, so it
    vectorizes; each tap's products go straight into the sums.
    """
    batches, height, width, channels = x.shape
    _, out_h, out_w, out_channels = out.shape
    kernel_h, kernel_w, _ = filters.shape
    acc = sums_for(np.zeros(1, x.dtype)[0], out_channels)  # by type: x may hold no items
    for n in range(batches):
        for oy in range(out_h):
            for ox in range(out_w):
                acc[:] = 0
                for ky in range(kernel_h):
                    iy = oy * stride_h - pad_top + ky * dilation_h
                    if iy < 0 or iy >= height:
                        continue
                    for kx in range(kernel_w):
                        ix = ox * stride_w - pad_left + kx * dilation_w
                        if ix < 0 or ix >= width:
                            continue
                        if depth_multiplier == 1:
                            for c in range(channels):
                                acc[c] += offset_input(x[n, iy, ix, c], input_offset) * filters[ky, kx, c]
                        else:
                            for oc in range(out_channels):
                                shifted = offset_input(x[n, iy, ix, oc // depth_multiplier], input_offset)
                                acc[oc] += shifted * filters[ky, kx, oc]
                # The sums' type (`sums_for`) picks the output stage at compile time: float32,
                # clamp(sum + bias) (reference_ops); int64, TFLM's 16x8 kernel (64-bit sum and
                # multiplier); int32, its int8 kernel (the sum wraps as C's; `rounding`: see
                # fixedpoint.requantize_with). Inline: a call per pixel costs the int8 kernel a tenth.
                if isinstance(acc[0], (float, np.float32)):
                    for oc in range(out_channels):
                        out[n, oy, ox, oc] = clamp_float(acc[oc] + bias[oc], act_min, act_max)
                elif isinstance(acc[0], np.int64):
                    for oc in range(out_channels):
                        total = acc[oc] + bias[oc]
                        scaled = multiply_by_quantized_multiplier_int64(total, multipliers[oc], shifts[oc])
                        out[n, oy, ox, oc] = min(max(scaled + output_offset, act_min), act_max)
                else:
                    for oc in range(out_channels):
                        total = wrap_int32(np.int64(acc[oc]) + bias[oc])
                        scaled = requantize_with(total, multipliers[oc], shifts[oc], rounding)
                        out[n, oy, ox, oc] = min(max(scaled + output_offset, act_min), act_max)


@jit
def conv_float(
    x, weights, bias, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, act_min, act_max, out
):
    """reference_ops::Conv in float32. weights are [kh, kw, c, out_channels] (out channels last, so
    they are the innermost, vectorized loop); each output still sums its products in TFLM's
    (ky, kx, c) order, which fixes its bits."""
    batches, height, width, in_channels = x.shape
    _, out_h, out_w, out_channels = out.shape
    kernel_h, kernel_w, group_channels, _ = weights.shape
    groups = in_channels // group_channels
    per_group = out_channels // groups
    acc = np.empty(out_channels, np.float32)
    for n in range(batches):
        for oy in range(out_h):
            for ox in range(out_w):
                acc[:] = 0
                for ky in range(kernel_h):
                    iy = oy * stride_h - pad_top + ky * dilation_h
                    if iy < 0 or iy >= height:
                        continue
                    for kx in range(kernel_w):
                        ix = ox * stride_w - pad_left + kx * dilation_w
                        if ix < 0 or ix >= width:
                            continue
                        for g in range(groups):
                            for c in range(group_channels):
                                value = x[n, iy, ix, g * group_channels + c]
                                for oc in range(g * per_group, (g + 1) * per_group):
                                    acc[oc] += value * weights[ky, kx, c, oc]
                for oc in range(out_channels):
                    out[n, oy, ox, oc] = clamp_float(acc[oc] + bias[oc], act_min, act_max)
