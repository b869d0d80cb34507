"""AVERAGE_POOL_2D as TFLM's reference kernels: int8 and int16 (reference_integer_ops), float32."""

from __future__ import annotations

import numpy as np

from tinyinterp.jit import jit
from tinyinterp.kernels.fixedpoint import clamp_float


@jit
def truncating_divide(numerator: int, denominator: int) -> int:
    """C integer division (rounds toward zero) for a positive denominator."""
    if numerator >= 0:
        return numerator // denominator
    return -((-numerator) // denominator)


@jit
def average_pool(x, filter_h, filter_w, stride_h, stride_w, pad_top, pad_left, act_min, act_max, out):
    """Average over the part of each window inside the input, rounded half away from zero."""
    batches, height, width, channels = x.shape
    _, out_h, out_w, _ = out.shape
    for n in range(batches):
        for oy in range(out_h):
            y_origin = oy * stride_h - pad_top
            y_start = max(0, -y_origin)
            y_end = min(filter_h, height - y_origin)
            for ox in range(out_w):
                x_origin = ox * stride_w - pad_left
                x_start = max(0, -x_origin)
                x_end = min(filter_w, width - x_origin)
                count = max(0, y_end - y_start) * max(0, x_end - x_start)
                for c in range(channels):
                    acc = 0
                    for fy in range(y_start, y_end):
                        for fx in range(x_start, x_end):
                            acc += x[n, y_origin + fy, x_origin + fx, c]
                    half = count // 2
                    average = truncating_divide(acc + half if acc > 0 else acc - half, count)
                    out[n, oy, ox, c] = min(max(average, act_min), act_max)


@jit
def average_pool_float(x, filter_h, filter_w, stride_h, stride_w, pad_top, pad_left, act_min, act_max, out):
    """reference_ops::AveragePool in float32: the window's sum in (fy, fx) order over a float count."""
    batches, height, width, channels = x.shape
    _, out_h, out_w, _ = out.shape
    for n in range(batches):
        for oy in range(out_h):
            y_origin = oy * stride_h - pad_top
            y_start = max(0, -y_origin)
            y_end = min(filter_h, height - y_origin)
            for ox in range(out_w):
                x_origin = ox * stride_w - pad_left
                x_start = max(0, -x_origin)
                x_end = min(filter_w, width - x_origin)
                count = np.float32(max(0, y_end - y_start) * max(0, x_end - x_start))
                for c in range(channels):
                    total = np.float32(0)
                    for fy in range(y_start, y_end):
                        for fx in range(x_start, x_end):
                            total += x[n, y_origin + fy, x_origin + fx, c]
                    out[n, oy, ox, c] = clamp_float(total / count, act_min, act_max)
