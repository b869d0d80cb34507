"""The window of a windowed op at prepare time: geometry.window with its options checked."""

from __future__ import annotations

from tinyinterp.geometry import Window, WindowOptions, dilations
from tinyinterp.geometry import window as geometry_window
from tinyinterp.ops.base import OpContext

__all__ = ["Window", "window"]


def window(ctx: OpContext[WindowOptions], in_h: int, in_w: int, kernel_h: int, kernel_w: int) -> Window:
    """Reads padding, strides and dilations (if the op has them) from the options."""
    options = ctx.options
    padding, strides, factors = options.padding, (options.stride_h, options.stride_w), dilations(options)
    for stride, factor in zip(strides, factors):
        if stride <= 0 or factor <= 0:
            ctx.fail(f"stride {stride} and dilation {factor} must be positive")
    found = geometry_window(padding, (in_h, in_w), (kernel_h, kernel_w), strides, factors)
    if found.out_h <= 0 or found.out_w <= 0:
        ctx.fail(f"a {kernel_h}x{kernel_w} window does not fit a {in_h}x{in_w} input with {padding} padding")
    return found
