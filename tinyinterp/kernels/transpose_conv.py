"""TRANSPOSE_CONV as TFLM's reference kernels: each input pixel scatters its products into the output.

One kernel serves every dtype: `acc` is int64 for int8 and 16x8 (exact; TFLM's int32 scratch of the
int8 kernel wraps, which `requantize_rows` reproduces) and float32 for float models, where each
output sums its products in TFLM's (in_y, in_x, in_channel, filter_y, filter_x) order.
"""

from __future__ import annotations

from tinyinterp.jit import jit
from tinyinterp.kernels.fixedpoint import clamp_float


@jit
def transpose_conv_scatter(x, filters, input_offset, stride_h, stride_w, pad_top, pad_left, acc):
    """acc[n, oy, ox, oc] += (x[n, iy, ix, ic] + input_offset) * filters[ky, kx, ic, oc] over the
    output positions inside acc, which must start at zero. `input_offset` has acc's dtype (a float
    +0.0 leaves every product's value alone: a sum starting at +0.0 never holds -0.0)."""
    batches, in_h, in_w, in_channels = x.shape
    kernel_h, kernel_w, _, out_channels = filters.shape
    _, out_h, out_w, _ = acc.shape
    for n in range(batches):
        for iy in range(in_h):
            for ix in range(in_w):
                for ic in range(in_channels):
                    value = x[n, iy, ix, ic] + input_offset
                    for ky in range(kernel_h):
                        oy = iy * stride_h - pad_top + ky
                        if oy < 0 or oy >= out_h:
                            continue
                        for kx in range(kernel_w):
                            ox = ix * stride_w - pad_left + kx
                            if ox < 0 or ox >= out_w:
                                continue
                            for oc in range(out_channels):
                                acc[n, oy, ox, oc] += value * filters[ky, kx, ic, oc]


@jit
def bias_and_clamp_float(acc, bias, act_min, act_max, out):
    """out = clamp(acc + bias) over [rows, channels] float32 arrays."""
    rows, channels = acc.shape
    for m in range(rows):
        for c in range(channels):
            out[m, c] = clamp_float(acc[m, c] + bias[c], act_min, act_max)
