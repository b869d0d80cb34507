"""Scratch buffers an op's kernel asks TFLM for: TFLM's reference kernels, and CMSIS-NN's get_buffer_size
functions (GCC builds) for the core's path. registry.py says which op uses which rule."""

from __future__ import annotations

import math

from tinyinterp.cost.profiles import CoreProfile
from tinyinterp.geometry import WindowOptions, dilations
from tinyinterp.model.ir import Operator, Subgraph, TensorType
from tinyinterp.model.options import options_record


def reference(subgraph: Subgraph, op: Operator) -> list[int]:
    """TFLM's reference kernels: the unpacked filter of int4 conv, depthwise and fully connected; reductions'
    accumulators and index buffers."""
    tensors = subgraph.tensors
    if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and len(op.inputs) > 1:
        weights = tensors[op.inputs[1]]
        return [math.prod(weights.shape)] if weights.dtype == TensorType.INT4 else []
    if op.opcode in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"):
        # reduce_common.cc: an int32 accumulator per output (MEAN/SUM of int8/int16), then index scratch.
        x, axis, y = tensors[op.inputs[0]], tensors[op.inputs[1]], tensors[op.outputs[0]]
        sizes = [4 * len(x.shape), 4 * math.prod(axis.shape)]
        if op.opcode in ("MEAN", "SUM") and x.dtype in (TensorType.INT8, TensorType.INT16):
            sizes.insert(0, 4 * math.prod(y.shape))
        return sizes
    return []


def _undilated(op: Operator) -> bool:
    options = options_record(op.opcode, op.options)
    assert isinstance(options, WindowOptions)  # the rules of convolutions only
    return dilations(options) == (1, 1)


def cmsis_conv(core: CoreProfile, subgraph: Subgraph, op: Operator) -> list[int]:
    x, w = subgraph.tensors[op.inputs[0]], subgraph.tensors[op.inputs[1]]
    _, k_h, k_w, in_c = w.shape
    if k_h == k_w == 1 and _undilated(op) and x.shape[-1] == in_c:
        return []  # 1x1 kernels (never padded): none with GCC (Arm Compiler's DSP fast path asks 4 * in_c)
    cols = k_h * k_w * in_c
    if core.mve:
        return [4 * ((cols + 15) // 16) * 16]  # four s8 im2col rows, padded to 16 lanes
    return [2 * 2 * (cols + (-cols % 4))]  # two s16 im2col columns, aligned to 4


def cmsis_depthwise(core: CoreProfile, subgraph: Subgraph, op: Operator) -> list[int]:
    x, w = subgraph.tensors[op.inputs[0]], subgraph.tensors[op.inputs[1]]
    _, k_h, k_w, out_c = w.shape
    if x.shape[-1] != out_c or not _undilated(op) or not core.dsp:
        return []  # arm_depthwise_conv_s8, or the plain-C _opt path: no buffer
    if core.mve:
        return [4 * 124 * k_h * k_w]  # CH_IN_BLOCK_MVE = 124
    return [] if (k_h, k_w) == (3, 3) else [2 * out_c * k_h * k_w]  # the s16 im2col of one pixel


def cmsis_fully_connected(core: CoreProfile, subgraph: Subgraph, op: Operator) -> list[int]:
    w, y = subgraph.tensors[op.inputs[1]], subgraph.tensors[op.outputs[0]]
    if w.dtype == TensorType.INT4:
        return reference(subgraph, op)
    units, depth = y.shape[-1], w.shape[-1]
    if len(y.shape) > 2 and depth % 4 == 0:  # run as a 1x1 convolution, faking per-channel multipliers
        per_tensor = w.quantization is None or w.quantization.scale.size <= 1
        return [8 * units] if per_tensor else []
    return [4 * units] if core.mve else []  # MVE: kernel sums of the output channels


def cmsis_avgpool(core: CoreProfile, subgraph: Subgraph, op: Operator) -> list[int]:
    """arm_avgpool_s8's DSP path sums into an s32 per channel; the MVE and plain-C paths need none."""
    return [4 * subgraph.tensors[op.inputs[0]].shape[-1]] if core.dsp and not core.mve else []
