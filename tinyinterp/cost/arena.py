"""The tensor arena as TFLM plans it, and flash and RAM estimates around it.

`plan()` follows TFLM: lifetimes as micro_allocation_info.cc marks them (subgraph inputs live from the start,
outputs until the end, an op's scratch buffers for its own step), sizes aligned to 16 bytes (micro_arena_
constants.h), offline-planned offsets from "OfflineMemoryAllocation" metadata, then greedy_memory_planner.cc:
buffers in decreasing size (ties in reverse order of addition: its bubble sort is stable over a reversed
list), each at the lowest offset where it overlaps no buffer live at the same time. The plan's extent is
the arena "head" that TFLM's RecordingMicroAllocator reports.

Scratch buffers depend on the kernels: `REFERENCE` are TFLM's reference kernels (what the tflite-micro
Python interpreter runs): they ask for scratch only for int4 filters (conv, depthwise, fully connected: the
unpacked filter) and for reductions; `cmsis_nn(core)` are the CMSIS-NN kernels' get_buffer_size functions.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass

from tinyinterp.cost import scratch
from tinyinterp.cost.profiles import CoreProfile
from tinyinterp.cost.registry import op_cost
from tinyinterp.errors import ModelError
from tinyinterp.model.ir import Model, Operator, Subgraph, Tensor, TensorType

ALIGNMENT = 16  # MicroArenaBufferAlignment()
ONLINE = -1  # kOnlinePlannedBuffer
OFFLINE_METADATA = "OfflineMemoryAllocation"

ScratchRule = Callable[[Subgraph, Operator], list[int]]


@dataclass(frozen=True)
class Buffer:
    size: int  # aligned bytes
    first: int  # first step alive (allocation scope count)
    last: int
    offline_offset: int = ONLINE
    name: str = ""
    tensor: int = -1  # the tensor's index in the main subgraph; -1 for a scratch buffer
    op: int = -1  # a scratch buffer's operator (index in the main subgraph); -1 for a tensor


@dataclass(frozen=True)
class Plan:
    head_bytes: int
    buffers: tuple[Buffer, ...]
    offsets: tuple[int, ...]


def align(size: int) -> int:
    return (size + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def _nbytes(tensor: Tensor) -> int:
    if tensor.dtype == TensorType.INT4:
        return (math.prod(tensor.shape) + 1) // 2
    try:
        return math.prod(tensor.shape) * tensor.dtype.numpy.itemsize
    except ModelError:
        raise ModelError(
            f"tensor {tensor.index} '{tensor.name}' has type {tensor.dtype.name}: size unknown"
        ) from None


# --- scratch buffers ---------------------------------------------------------------------------------------

REFERENCE: ScratchRule = scratch.reference


def cmsis_nn(core: CoreProfile) -> ScratchRule:
    """CMSIS-NN scratch sizes (arm_*_get_buffer_size, GCC) for the core's path, as TFLM's kernels ask; TFLM's
    reference rule for ops CMSIS-NN does not implement."""

    def rule(subgraph: Subgraph, op: Operator) -> list[int]:
        cmsis = op_cost(op.opcode).cmsis_scratch
        return cmsis(core, subgraph, op) if cmsis else scratch.reference(subgraph, op)

    return rule


def scratch_for(kernels: str, core: CoreProfile) -> ScratchRule:
    return REFERENCE if kernels == "reference" else cmsis_nn(core)


# --- lifetimes and the greedy plan -------------------------------------------------------------------------


def _offline_offsets(model: Model) -> list[int] | None:
    """Per-tensor offsets from "OfflineMemoryAllocation" metadata: [version, subgraph, count, offsets...]."""
    for name, data in model.metadata:
        if name == OFFLINE_METADATA:
            if len(data) < 12:
                raise ModelError(f"{OFFLINE_METADATA} metadata is {len(data)} bytes, shorter than its header")
            count = struct.unpack_from("<I", data, 8)[0]
            tensors = sum(len(sg.tensors) for sg in model.subgraphs)
            if count != tensors or len(data) < 12 + 4 * count:
                raise ModelError(f"{OFFLINE_METADATA} has {count} offsets for {tensors} tensors")
            return list(struct.unpack_from(f"<{count}i", data, 12))
    return None


def buffers(model: Model, scratch: ScratchRule = REFERENCE) -> list[Buffer]:
    """The planner's buffers in TFLM's order: tensors of the main subgraph by index, then scratch requests."""
    subgraph = model.main
    offline = _offline_offsets(model)
    first = [-1] * len(subgraph.tensors)
    last = [-1] * len(subgraph.tensors)

    def use(index: int, step: int, create: bool) -> None:
        if create and first[index] == -1:
            first[index] = step
        last[index] = step

    for index in subgraph.inputs:
        use(index, 0, True)
    requests: list[tuple[int, int]] = []  # (bytes, step)
    step = 0
    for op in subgraph.operators:
        step += 1
        for index in op.outputs:
            if first[index] == -1:
                first[index] = step
        for index in (*op.inputs, *op.outputs):
            if index >= 0:
                use(index, step, False)
        requests += [(size, step) for size in scratch(subgraph, op)]
    for index in subgraph.outputs:
        use(index, step, True)

    planned = []
    for tensor in subgraph.tensors:
        offset = offline[tensor.index] if offline else ONLINE
        size = _nbytes(tensor)
        allocate = tensor.data is None and not tensor.is_variable and size != 0
        if tensor.is_variable and offset != ONLINE:
            allocate = True
        if allocate:
            index = tensor.index
            planned.append(Buffer(align(size), first[index], last[index], offset, tensor.name, index))
    for size, at in requests:
        planned.append(Buffer(align(size), at, at, ONLINE, f"scratch of op {at - 1}", op=at - 1))
    return planned


def _overlap(a: Buffer, b: Buffer) -> bool:
    return not (a.first > b.last or b.first > a.last)


def greedy_offsets(items: list[Buffer]) -> list[int]:
    """GreedyMemoryPlanner::CalculateOffsetsIfNeeded: offline buffers first, then online ones by size."""
    offline = [i for i, b in enumerate(items) if b.offline_offset != ONLINE]
    online = [i for i, b in enumerate(items) if b.offline_offset == ONLINE][::-1]
    order = offline + sorted(online, key=lambda i: -items[i].size)  # stable, like its bubble sort
    offsets = [0] * len(items)
    placed: list[int] = []  # buffer ids by increasing offset
    for i in order:
        wanted = items[i]
        if wanted.offline_offset != ONLINE:
            offset = wanted.offline_offset
        else:
            offset = 0
            for j in placed:
                if not _overlap(items[j], wanted):
                    continue
                if offsets[j] - offset >= wanted.size:
                    break
                offset = max(offset, offsets[j] + items[j].size)
        offsets[i] = offset
        position = next((k for k, j in enumerate(placed) if offsets[j] > offset), len(placed))
        placed.insert(position, i)
    return offsets


def plan(model: Model, scratch: ScratchRule = REFERENCE) -> Plan:
    items = buffers(model, scratch)
    offsets = greedy_offsets(items)
    head = max((o + b.size for o, b in zip(offsets, items)), default=0)
    return Plan(head, tuple(items), tuple(offsets))


# --- around the plan: persistent allocations and code size --------------------------------------------------

# Persistent ("tail") allocations, bytes: TfLiteEvalTensor per tensor, NodeAndRegistration (and bookkeeping)
# per operator, the interpreter's own objects, and each kernel's OpData (registry.py; with per-channel
# multipliers and shifts). Read off TFLM's RecordingMicroAllocator on the reference models; an estimate for
# others.
EVAL_TENSOR, NODE, FIXED = 24, 82, 810


def persistent_bytes(model: Model) -> int:
    subgraph = model.main
    total = FIXED + EVAL_TENSOR * len(subgraph.tensors) + NODE * len(subgraph.operators)
    for op in subgraph.operators:
        cost = op_cost(op.opcode)
        total += cost.op_data_bytes
        if cost.per_channel_data or _per_channel_fully_connected(subgraph, op):
            total += 8 * subgraph.tensors[op.outputs[0]].shape[-1]
    return total


def _per_channel_fully_connected(subgraph: Subgraph, op: Operator) -> bool:
    """TFLM's FULLY_CONNECTED keeps per-channel multipliers only for per-channel weights."""
    if op.opcode != "FULLY_CONNECTED":
        return False
    quantization = subgraph.tensors[op.inputs[1]].quantization
    return quantization is not None and quantization.scale.size > 1


# Code in flash, bytes: TFLM's interpreter, allocator and flatbuffer reader, plus each kernel type used
# (registry.py: TFLM glue + CMSIS-NN functions, GCC -Os for Cortex-M4; other stacks are assumed similar).
RUNTIME_CODE = 28_000


def code_bytes(model: Model) -> int:
    opcodes = {op.opcode for sg in model.subgraphs for op in sg.operators}
    return RUNTIME_CODE + sum(op_cost(opcode).code_bytes for opcode in opcodes)
