"""The window of a windowed op at prepare time: geometry.window with its options checked."""

from __future__ import annotations

from tinyinterp.geometry import PADDINGS, Window
from tinyinterp.geometry import window as geometry_window
from tinyinterp.ops.base import OpContext

__all__ = ["Window", "window"]


def window(ctx: OpContext, in_h: int, in_w: int, kernel_h: int, kernel_w: int, *, dilation: bool) -> Window:
    """Reads padding, strides (and dilation if the op has it) from the options."""
    padding = ctx.option("padding")
    strides = (ctx.option("stride_h"), ctx.option("stride_w"))
    dilations = (ctx.option("dilation_h_factor"), ctx.option("dilation_w_factor")) if dilation else (1, 1)
    if padding not in PADDINGS:
        ctx.fail(f"padding {padding!r} is not SAME or VALID")
    for stride, factor in zip(strides, dilations):
        if stride <= 0 or factor <= 0:
            ctx.fail(f"stride {stride} and dilation {factor} must be positive")
    found = geometry_window(padding, (in_h, in_w), (kernel_h, kernel_w), strides, dilations)
    if found.out_h <= 0 or found.out_w <= 0:
        ctx.fail(f"a {kernel_h}x{kernel_w} window does not fit a {in_h}x{in_w} input with {padding} padding")
    return found
