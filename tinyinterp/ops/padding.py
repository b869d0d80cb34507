"""Output sizes and padding of windowed ops, as TFLM's kernels/padding.h computes them."""

from __future__ import annotations

from dataclasses import dataclass

from tinyinterp.ops.base import OpContext


@dataclass(frozen=True)
class Window:
    out_h: int
    out_w: int
    pad_top: int
    pad_left: int


def _out_size(ctx: OpContext, padding: str, size: int, kernel: int, stride: int, dilation: int) -> int:
    if stride <= 0 or dilation <= 0:
        ctx.fail(f"stride {stride} and dilation {dilation} must be positive")
    effective = (kernel - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    if padding == "VALID":
        return (size + stride - effective) // stride
    ctx.fail(f"padding {padding!r} is not SAME or VALID")


def _padding(stride: int, dilation: int, size: int, kernel: int, out_size: int) -> int:
    effective = (kernel - 1) * dilation + 1
    total = max((out_size - 1) * stride + effective - size, 0)
    return total // 2


def window(ctx: OpContext, in_h: int, in_w: int, kernel_h: int, kernel_w: int, *, dilation: bool) -> Window:
    """Reads padding, strides (and dilation if the op has it) from the options."""
    padding = ctx.option("padding")
    stride_h, stride_w = ctx.option("stride_h"), ctx.option("stride_w")
    dil_h = ctx.option("dilation_h_factor", 1) if dilation else 1
    dil_w = ctx.option("dilation_w_factor", 1) if dilation else 1
    out_h = _out_size(ctx, padding, in_h, kernel_h, stride_h, dil_h)
    out_w = _out_size(ctx, padding, in_w, kernel_w, stride_w, dil_w)
    if out_h <= 0 or out_w <= 0:
        ctx.fail(f"a {kernel_h}x{kernel_w} window does not fit a {in_h}x{in_w} input with {padding} padding")
    return Window(
        out_h,
        out_w,
        _padding(stride_h, dil_h, in_h, kernel_h, out_h),
        _padding(stride_w, dil_w, in_w, kernel_w, out_w),
    )
