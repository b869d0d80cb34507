"""MAX_POOL_2D and AVERAGE_POOL_2D as TFLM's reference kernels (reference_ops for float32,
reference_integer_ops for int8 and int16): one window loop, two reductions."""

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
def window_average(total, count):
    """A window's average: float32 sums over a float32 count; integer sums rounded half away from zero."""
    if isinstance(total, (float, np.float32)):  # decided at compile time: one branch per dtype
        return total / np.float32(count)
    half = count // 2
    return truncating_divide(total + half if total > 0 else total - half, count)


@jit
def pool_2d(
    x, filter_h, filter_w, stride_h, stride_w, pad_top, pad_left, average, start, act_min, act_max, out
):
    """The average (`average`) or the maximum of the part of each window inside the input, clamped to
    [act_min, act_max].

    `start` is the reduction's initial value: 0 in the sum's type for the average (an int64, or a
    float32 summed in (fy, fx) order), the dtype's lowest value for the maximum. The maximum's
    comparisons are std::max's (a later value wins only if strictly greater, so NaNs are skipped and
    the first of -0.0 and +0.0 is kept).
    """
    batches, height, width, channels = x.shape
    _, out_h, out_w, _ = out.shape
    # Channels innermost (each channel still reduces its window in (fy, fx) order), so they vectorize.
    reduced = np.full(channels, start)
    for n in range(batches):
        for oy in range(out_h):
            y_origin = oy * stride_h - pad_top
            y_start = max(0, -y_origin)
            y_end = min(filter_h, height - y_origin)
            for ox in range(out_w):
                x_origin = ox * stride_w - pad_left
                x_start = max(0, -x_origin)
                x_end = min(filter_w, width - x_origin)
                reduced[:] = start
                for fy in range(y_start, y_end):
                    for fx in range(x_start, x_end):
                        values = x[n, y_origin + fy, x_origin + fx]
                        for c in range(channels):
                            if average:
                                reduced[c] += values[c]
                            elif reduced[c] < values[c]:
                                reduced[c] = values[c]
                count = max(0, y_end - y_start) * max(0, x_end - x_start)
                for c in range(channels):
                    result = window_average(reduced[c], count) if average else reduced[c]
                    out[n, oy, ox, c] = clamp_float(result, act_min, act_max)
