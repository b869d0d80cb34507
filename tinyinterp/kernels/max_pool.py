"""MAX_POOL_2D as TFLM's reference MaxPool (float) and reference_integer_ops::MaxPool (int8, int16)."""

from __future__ import annotations

from tinyinterp.jit import jit


@jit
def max_pool(x, filter_h, filter_w, stride_h, stride_w, pad_top, pad_left, lowest, act_min, act_max, out):
    """The maximum of the part of each window inside the input, clamped to [act_min, act_max].

    The comparisons are std::max's (a later value wins only if strictly greater, so NaNs are
    skipped and the first of -0.0 and +0.0 is kept); `lowest` is the starting maximum.
    """
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
                for c in range(channels):
                    maximum = lowest
                    for fy in range(y_start, y_end):
                        for fx in range(x_start, x_end):
                            value = x[n, y_origin + fy, x_origin + fx, c]
                            if maximum < value:
                                maximum = value
                    if maximum < act_min:
                        maximum = act_min
                    if act_max < maximum:
                        maximum = act_max
                    out[n, oy, ox, c] = maximum
