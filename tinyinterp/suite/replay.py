"""`infer N W` as a TFLM board runs it: the input loaded once, then N + W invocations on one tensor arena.

TFLM plans the activations into one arena, where a tensor (or a kernel's scratch buffer) that lives after
the input's last use may take the input's bytes. A board's `th_load_tensor` copies the stimulus into the
input tensor once per `infer N W`; invocations 2 to N + W then run on whatever the previous one left
there, and the board prints the outputs of the last (EEMBC's `ee_infer`). `ArenaReplay` keeps every
planned tensor at its planned offset in one byte array and runs the operators on it, so the input drifts
as on the board.

What lands on the input depends on the planner and on the kernels' scratch buffers (their sizes move the
layout; what a kernel leaves in one it shares with the input becomes input). `ARENAS` names the builds
this is known for, each measured on published performance logs (docs/numerics.md):
- `tflm`: today's TFLM (greedy planner, `tinyinterp.cost.arena`) with its reference kernels, which ask
  these models for no scratch;
- `tflm-2020`: TensorFlow v2.3.1's TFLM with the CMSIS-NN of spring 2020 (the MLPerf Tiny v0.5 reference
  submission), `tflm-2021`: TFLM with the CMSIS-NN of 2021 (Renesas' EK-RA6M4 submission of v0.7), both
  on a core with the DSP extension. DEPTHWISE_CONV_2D with one channel per input channel asks for one
  output pixel's int16 im2col and fills it in `arm_depthwise_conv_s8_opt` (2021: 3x3 filters padded by at
  most 1 run `arm_depthwise_conv_3x3_s8`, which leaves it alone); CONV_2D fills two int16 im2col columns
  in `arm_convolve_s8` unless 1x1 `arm_convolve_1x1_s8_fast` applies; AVERAGE_POOL_2D sums one output
  pixel's window per channel, in int16 (2020) or int32 (2021). TF 2.3's allocator lists scratch requests
  newest first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import cast

import numpy as np

from tinyinterp.cost import arena
from tinyinterp.errors import ModelError
from tinyinterp.geometry import WindowOptions, pad_before
from tinyinterp.model.ir import Model, Operator, Subgraph, Tensor
from tinyinterp.model.options import Pool2DOptions, options_record

NO_ARENA = "none"  # every invocation on the loaded input (a stack that keeps its input apart)

# What a kernel leaves in its scratch buffer, from the op's inputs; None when it writes nothing there.
# What a kernel leaves in its scratch buffers, from the op and the values of its first input.
ScratchContents = Callable[[Subgraph, Operator, np.ndarray], bytes | None]


@dataclass(frozen=True)
class ArenaLayout:
    """A build's arena: its kernels' scratch requests, what they leave there, the planner's order."""

    description: str
    scratch: arena.ScratchRule
    contents: ScratchContents
    newest_scratch_first: bool = False  # TF 2.3's MicroAllocator kept its scratch handles in reverse order


# ---- TFLM with the CMSIS-NN of 2020 and 2021, DSP extension ----------------------------------------------


@dataclass(frozen=True)
class CmsisNn:
    """What differs between the CMSIS-NN versions the dated layouts know."""

    pool_sum_bytes: int  # AVERAGE_POOL_2D's sums per channel: int16 (2020) or int32 (since September 2020)
    depthwise_3x3: bool  # arm_depthwise_conv_wrapper_s8 runs 3x3 filters without touching the buffer


def _window_options(op: Operator) -> WindowOptions:
    return cast(WindowOptions, options_record(op.opcode, op.options))


def _window_start(op: Operator, x: Tensor, y: Tensor, k_h: int, k_w: int, pixel: int) -> tuple[int, int]:
    """Where output pixel `pixel` (row-major) reads the input from, padded as TFLM's
    ComputePaddingHeightWidth (no dilation): (row, column), negative in the padding."""
    options = _window_options(op)
    stride_h, stride_w = options.stride_h, options.stride_w
    pad_h = pad_before(x.shape[1], k_h, stride_h, 1, y.shape[1])
    pad_w = pad_before(x.shape[2], k_w, stride_w, 1, y.shape[2])
    row, column = divmod(pixel, y.shape[2])
    return row * stride_h - pad_h, column * stride_w - pad_w


def _cmsis_scratch(build: CmsisNn, subgraph: Subgraph, op: Operator) -> list[int]:
    """TFLM's CMSIS-NN kernels' scratch requests (CMSIS-NN's get_buffer_size functions of the time)."""
    tensors = subgraph.tensors
    if op.opcode == "CONV_2D":
        _, k_h, k_w, in_c = tensors[op.inputs[1]].shape
        options = _window_options(op)
        strides = options.stride_h, options.stride_w
        fast_1x1 = k_h == k_w == 1 and in_c % 4 == 0 and strides == (1, 1)
        return [] if fast_1x1 else [2 * in_c * k_h * k_w * 2]
    if op.opcode == "DEPTHWISE_CONV_2D":
        in_c = tensors[op.inputs[0]].shape[-1]
        _, k_h, k_w, out_c = tensors[op.inputs[1]].shape
        return [in_c * k_h * k_w * 2] if in_c == out_c else []
    if op.opcode == "AVERAGE_POOL_2D":
        return [build.pool_sum_bytes * tensors[op.inputs[0]].shape[-1]]
    return []


def _patch(x: np.ndarray, top: int, left: int, k_h: int, k_w: int, offset: int) -> bytes:
    """The int16 im2col of one output pixel whose window starts at (top, left): input + input offset,
    zeros outside the input (arm_q7_to_q15_with_offset, memset)."""
    patch = np.zeros((k_h, k_w, x.shape[-1]), np.int16)
    for i in range(k_h):
        for j in range(k_w):
            if 0 <= top + i < x.shape[1] and 0 <= left + j < x.shape[2]:
                patch[i, j] = x[0, top + i, left + j].astype(np.int16) + offset
    return patch.astype("<i2").tobytes()


def _cmsis_contents(build: CmsisNn, subgraph: Subgraph, op: Operator, values: np.ndarray) -> bytes | None:
    """What the CMSIS-NN kernels leave in their scratch: the last output pixel's work."""
    x, y = subgraph.tensors[op.inputs[0]], subgraph.tensors[op.outputs[0]]
    pixels = y.shape[1] * y.shape[2]
    if op.opcode == "AVERAGE_POOL_2D":  # the last window's sums per channel (int16: __QADD16 saturates)
        pool = cast(Pool2DOptions, options_record(op.opcode, op.options))
        k_h, k_w = pool.filter_height, pool.filter_width
        top, left = _window_start(op, x, y, k_h, k_w, pixels - 1)
        window = values[0, max(top, 0) : top + k_h, max(left, 0) : left + k_w].astype(np.int64)
        sums = window.reshape(-1, window.shape[-1]).sum(axis=0)
        if build.pool_sum_bytes == 2:
            return np.clip(sums, -(1 << 15), (1 << 15) - 1).astype("<i2").tobytes()
        return sums.astype("<i4").tobytes()
    quant = x.quantization
    offset = -int(quant.zero_point[0]) if quant is not None and quant.zero_point.size else 0
    _, k_h, k_w, _ = subgraph.tensors[op.inputs[1]].shape

    def column(pixel: int) -> bytes:
        return _patch(values, *_window_start(op, x, y, k_h, k_w, pixel), k_h, k_w, offset)

    if op.opcode == "DEPTHWISE_CONV_2D":  # arm_depthwise_conv_s8_opt: the last pixel's column
        # arm_depthwise_conv_3x3_s8 also needs padding of at most 1, which TFLM's padding of an undilated
        # 3x3 window always is ((out - 1) x stride + 3 - in is at most 2 in all).
        return None if build.depthwise_3x3 and (k_h, k_w) == (3, 3) else column(pixels - 1)
    if op.opcode == "CONV_2D":  # arm_convolve_s8: output pixel p's column is im2col column p % 2
        last = {p % 2: p for p in range(max(pixels - 2, 0), pixels)}
        return b"".join(column(last[c]) for c in sorted(last))
    return None


def _no_contents(subgraph: Subgraph, op: Operator, values: np.ndarray) -> bytes | None:
    raise ModelError(
        f"operator {op.index} ({op.opcode}) has a scratch buffer that shares the input's bytes, and what "
        "its kernel leaves there is not known"
    )


def _cmsis_layout(description: str, build: CmsisNn, newest_scratch_first: bool) -> ArenaLayout:
    scratch, contents = partial(_cmsis_scratch, build), partial(_cmsis_contents, build)
    return ArenaLayout(description, scratch, contents, newest_scratch_first)


ARENAS: dict[str, ArenaLayout] = {
    "tflm": ArenaLayout("today's TFLM, reference kernels", arena.REFERENCE, _no_contents),
    "tflm-2020": _cmsis_layout(
        "TF v2.3.1's TFLM with CMSIS-NN of spring 2020, DSP extension (MLPerf Tiny v0.5 reference)",
        CmsisNn(pool_sum_bytes=2, depthwise_3x3=False),
        newest_scratch_first=True,
    ),
    "tflm-2021": _cmsis_layout(
        "TFLM with CMSIS-NN of 2021, DSP extension (Renesas EK-RA6M4, MLPerf Tiny v0.7)",
        CmsisNn(pool_sum_bytes=4, depthwise_3x3=True),
        newest_scratch_first=False,
    ),
}


def planned_buffers(model: Model, layout: ArenaLayout) -> list[arena.Buffer]:
    """The planner's buffers in the order the layout's allocator hands them to the greedy planner."""
    items = arena.buffers(model, layout.scratch)
    if not layout.newest_scratch_first:
        return items
    tensors = [b for b in items if b.tensor >= 0]
    return tensors + [b for b in items if b.tensor < 0][::-1]


class ArenaReplay:
    """One model's activations at their planned offsets in one arena; `invoke` runs on what is there."""

    def __init__(self, model: Model, layout: str, rounding: int) -> None:
        self.layout = ARENAS[layout]
        self.subgraph = subgraph = model.main
        variables = [t.name for t in subgraph.tensors if t.is_variable]
        if variables:
            raise ModelError(
                f"replaying invocations on one arena does not keep state: variable {variables[0]}"
            )
        from tinyinterp.ops import OPS, OpContext  # the kernels (numba): not for the CLI's --arena choices

        self.ops = [
            (node, OPS[node.opcode](OpContext(subgraph, node, rounding))) for node in subgraph.operators
        ]
        items = planned_buffers(model, self.layout)
        offsets = arena.greedy_offsets(items)
        self.offsets = {b.tensor: o for b, o in zip(items, offsets) if b.tensor >= 0}
        self.scratch: dict[int, list[tuple[int, int]]] = {}
        for b, o in zip(items, offsets):
            if b.tensor < 0:
                self.scratch.setdefault(b.op, []).append((o, b.size))
        self.memory = np.zeros(max((o + b.size for o, b in zip(offsets, items)), default=0), np.uint8)
        self.input = subgraph.inputs[0]
        start = self.offsets[self.input]
        self.input_bytes = range(start, start + arena.align(_nbytes(subgraph.tensors[self.input])))

    def load(self, value: np.ndarray) -> None:
        """`th_load_tensor`: the stimulus into the input tensor."""
        self._write(self.input, value)

    def invoke(self) -> np.ndarray:
        """One invocation on the arena as it is; the first output after it."""
        for node, op in self.ops:
            if all(self.subgraph.tensors[i].empty for i in node.outputs):
                continue  # computes nothing (as the interpreter, and TFLM's kernels over no element)
            inputs = [self._read(i) if i >= 0 else None for i in node.inputs]
            outputs = op(inputs)
            for offset, size in self.scratch.get(node.index, []):
                if self._shares_input(offset, size):
                    first = inputs[0]
                    assert first is not None  # conv, depthwise and pool inputs are never optional
                    data = self.layout.contents(self.subgraph, node, first)
                    if data is not None:
                        self.memory[offset : offset + len(data)] = np.frombuffer(data, np.uint8)
            for index, value in zip(node.outputs, outputs):
                if index in self.offsets:
                    self._write(index, value)
        return self._read(self.subgraph.outputs[0])

    def _shares_input(self, offset: int, size: int) -> bool:
        """Only bytes on the input matter for the next invocation: others are rewritten before use."""
        return offset < self.input_bytes.stop and self.input_bytes.start < offset + size

    def _read(self, index: int) -> np.ndarray:
        tensor = self.subgraph.tensors[index]
        if index not in self.offsets:  # a constant, or a tensor with no element (not in the arena)
            return tensor.data if tensor.data is not None else np.zeros(tensor.shape, tensor.dtype.numpy)
        start = self.offsets[index]
        raw = self.memory[start : start + _nbytes(tensor)]
        return raw.view(tensor.dtype.numpy).reshape(tensor.shape).copy()

    def _write(self, index: int, value: np.ndarray) -> None:
        tensor = self.subgraph.tensors[index]
        data = np.ascontiguousarray(value, tensor.dtype.numpy).reshape(-1).view(np.uint8)
        start = self.offsets[index]
        self.memory[start : start + data.size] = data


def _nbytes(tensor: Tensor) -> int:
    return math.prod(tensor.shape) * tensor.dtype.numpy.itemsize
