"""Window geometry and MAC counts from shapes and options alone, as TFLM computes them (kernels/padding.h).

One numba-free module for everything that needs them: the ops' prepare step (`ops/padding.py` adds
the checks and errors), the cost model, `tinyinterp info`, the zoo stand-ins and the hypothesis
strategies, so that an output size or a padding is computed the same way everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tinyinterp.model.ir import Operator, Subgraph
from tinyinterp.model.options import (
    Conv2DOptions,
    DepthwiseConv2DOptions,
    Pool2DOptions,
    TransposeConvOptions,
)

# The options of the ops that slide a window: each has a padding and strides.
WindowOptions = Conv2DOptions | DepthwiseConv2DOptions | Pool2DOptions | TransposeConvOptions


def out_size(padding: str, size: int, kernel: int, stride: int, dilation: int = 1) -> int:
    """Output length of a window sliding over `size` (ComputeOutSize); <= 0 when it does not fit."""
    if padding == "SAME":
        return (size + stride - 1) // stride
    effective = (kernel - 1) * dilation + 1
    return (size + stride - effective) // stride


def pad_before(size: int, kernel: int, stride: int, dilation: int, out: int) -> int:
    """Padding before the first element (ComputePaddingWithOffset): half the total, rounded down.
    Zero for VALID padding, whose output never reaches past the input."""
    effective = (kernel - 1) * dilation + 1
    return max((out - 1) * stride + effective - size, 0) // 2


@dataclass(frozen=True)
class Window:
    """A 2-D window over an NHWC input: output size and the padding before the first row and column."""

    out_h: int
    out_w: int
    pad_top: int
    pad_left: int


def window(
    padding: str,
    in_hw: tuple[int, int],
    kernel_hw: tuple[int, int],
    stride_hw: tuple[int, int],
    dilation_hw: tuple[int, int] = (1, 1),
) -> Window:
    """The window of a convolution or pool; the caller checks that strides and sizes are positive."""
    (in_h, in_w), (k_h, k_w), (s_h, s_w), (d_h, d_w) = in_hw, kernel_hw, stride_hw, dilation_hw
    out_h, out_w = out_size(padding, in_h, k_h, s_h, d_h), out_size(padding, in_w, k_w, s_w, d_w)
    return Window(
        out_h, out_w, pad_before(in_h, k_h, s_h, d_h, out_h), pad_before(in_w, k_w, s_w, d_w, out_w)
    )


def dilations(options: WindowOptions) -> tuple[int, int]:
    """(height, width) dilation factors; 1 for the ops without dilation options (pools, transpose conv)."""
    if isinstance(options, (Conv2DOptions, DepthwiseConv2DOptions)):
        return options.dilation_h_factor, options.dilation_w_factor
    return 1, 1


def op_macs(subgraph: Subgraph, op: Operator) -> int:
    """Multiply-accumulates of the ops with weights (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED):
    per output element, the filter's taps it sums; 0 for the other ops."""
    tensors = subgraph.tensors
    if not op.outputs or op.outputs[0] < 0 or len(op.inputs) < 2 or op.inputs[1] < 0:
        return 0
    outputs, weights = math.prod(tensors[op.outputs[0]].shape), tensors[op.inputs[1]].shape
    if op.opcode == "CONV_2D" and len(weights) == 4:
        return outputs * math.prod(weights[1:])
    if op.opcode == "DEPTHWISE_CONV_2D" and len(weights) == 4:
        return outputs * weights[1] * weights[2]
    if op.opcode == "FULLY_CONNECTED" and len(weights) == 2:
        return outputs * weights[1]
    return 0
