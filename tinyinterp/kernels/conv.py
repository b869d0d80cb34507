"""CONV_2D and DEPTHWISE_CONV_2D, int8, as TFLM's reference_integer_ops (NHWC layout).

Padding positions contribute nothing to the sums (TFLM skips them), which im2col
reproduces by writing zeros after the input offset has been added.
"""

from __future__ import annotations

import numpy as np

from tinyinterp.quant import jit, multiply_by_quantized_multiplier, wrap_int32


@jit
def im2col(
    x,
    input_offset,
    channel_start,
    channels,
    kernel_h,
    kernel_w,
    stride_h,
    stride_w,
    dilation_h,
    dilation_w,
    pad_top,
    pad_left,
    out_h,
    out_w,
    patches,
):
    """patches[(n, oy, ox), (ky, kx, c)] = x[n, iy, ix, channel_start + c] + input_offset (0 in padding).

    Flat unsigned indices spare numba's negative-index wrap-around checks, and `input_offset`
    has the patches' float dtype (int8 + float needs no int64, which AVX2 cannot convert to
    float), so the channel loop vectorizes.
    """
    batches, height, width, depth = x.shape
    source = x.reshape(-1)
    target = patches.reshape(-1)
    run = np.uint64(channels)
    position = np.uint64(0)
    for n in range(batches):
        for oy in range(out_h):
            for ox in range(out_w):
                for ky in range(kernel_h):
                    iy = oy * stride_h - pad_top + ky * dilation_h
                    for kx in range(kernel_w):
                        ix = ox * stride_w - pad_left + kx * dilation_w
                        if 0 <= iy < height and 0 <= ix < width:
                            start = np.uint64(((n * height + iy) * width + ix) * depth + channel_start)
                            for c in range(run):
                                target[position + c] = source[start + c] + input_offset
                        else:
                            for c in range(run):
                                target[position + c] = 0
                        position += run


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
    depth_multiplier,
    stride_h,
    stride_w,
    dilation_h,
    dilation_w,
    pad_top,
    pad_left,
    out,
):
    """DepthwiseConvPerChannel: filters [kh, kw, out_channels]; out channel = c * multiplier + m.

    The channel loop is innermost and the accumulator int32 (as in TFLM), so it vectorizes.
    """
    batches, height, width, channels = x.shape
    _, out_h, out_w, out_channels = out.shape
    kernel_h, kernel_w, _ = filters.shape
    acc = np.empty(out_channels, np.int32)
    shifted = np.empty(out_channels, np.int32)
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
                                shifted[c] = x[n, iy, ix, c] + input_offset
                        else:
                            for oc in range(out_channels):
                                shifted[oc] = x[n, iy, ix, oc // depth_multiplier] + input_offset
                        for oc in range(out_channels):
                            acc[oc] += shifted[oc] * filters[ky, kx, oc]
                for oc in range(out_channels):
                    total = wrap_int32(np.int64(acc[oc]) + bias[oc])
                    scaled = multiply_by_quantized_multiplier(total, multipliers[oc], shifts[oc])
                    out[n, oy, ox, oc] = min(max(scaled + output_offset, act_min), act_max)
