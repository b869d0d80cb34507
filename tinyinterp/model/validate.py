"""Checks of a whole graph that no single op can make, run once before anything is prepared.

Each check keeps a later step away from input it was not written for: operators come in
execution order and read only tensors that hold a value by then (so no op ever sees an unset
tensor), every tensor an op touches has a numpy dtype, quantization parameters are finite and
in their dtype's range (so multipliers and zero points stay within int32 arithmetic), option
floats are finite, and the activations the model declares fit a memory budget (checked before
anything is allocated, so a hostile shape is a ModelError and not a MemoryError).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from tinyinterp.errors import ModelError
from tinyinterp.model.ir import NUMPY_TENSOR_TYPES, Operator, Subgraph, Tensor, TensorType

# Bytes of activations (every non-constant tensor) one inference may declare. The MLPerf Tiny
# models need under 100 KB; a MobileNet at 224x224 needs tens of MB.
DEFAULT_MEMORY_BUDGET = 1 << 30

_INTEGER_RANGES = {
    dtype: (int(np.iinfo(dtype.numpy).min), int(np.iinfo(dtype.numpy).max))
    for dtype in (TensorType.INT8, TensorType.UINT8, TensorType.INT16, TensorType.INT32, TensorType.INT64)
}


def describe(tensor: Tensor) -> str:
    return f"tensor {tensor.index} '{tensor.name}'"


def validate_subgraph(subgraph: Subgraph, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> None:
    """ModelError naming the first operator, tensor or option that the interpreter cannot run."""
    for tensor in _used_tensors(subgraph):
        _check_dtype(tensor)
        _check_quantization(tensor)
    _check_inputs(subgraph)
    _check_execution_order(subgraph)
    for op in subgraph.operators:
        _check_options(op)
    _check_memory(subgraph, memory_budget)


def activation_bytes(subgraph: Subgraph) -> int:
    """Bytes of every tensor that holds a computed value (everything but constants)."""
    return sum(_tensor_bytes(t) for t in _used_tensors(subgraph) if not t.is_constant)


def _tensor_bytes(tensor: Tensor) -> int:
    return math.prod(tensor.shape) * tensor.dtype.numpy.itemsize


def _used_tensors(subgraph: Subgraph) -> Iterator[Tensor]:
    """Each tensor that an operator or the subgraph's inputs and outputs refer to, once."""
    used = set(subgraph.inputs) | set(subgraph.outputs)
    for op in subgraph.operators:
        used.update(i for i in (*op.inputs, *op.outputs, *op.intermediates) if i >= 0)
    return (subgraph.tensors[i] for i in sorted(used))


def _check_dtype(tensor: Tensor) -> None:
    if tensor.dtype not in NUMPY_TENSOR_TYPES:
        raise ModelError(f"{describe(tensor)}: {tensor.dtype.name} tensors are not supported")


def _check_quantization(tensor: Tensor) -> None:
    """Scales finite and positive (zero allowed on constants: a dead weight channel), zero points
    within the tensor's dtype. Float tensors carry no quantization that any op reads."""
    quant = tensor.quantization
    if quant is None or tensor.dtype not in _INTEGER_RANGES:
        return
    scales = quant.scale.astype(np.float64)
    bad = ~np.isfinite(scales) | np.signbit(scales)  # signbit: negatives and -0.0
    if not tensor.is_constant:
        bad |= scales == 0
    if bad.any():
        required = "finite and >= 0" if tensor.is_constant else "finite and > 0"
        raise ModelError(f"{describe(tensor)}: scale {scales[bad][0]:g} must be {required}")
    low, high = _INTEGER_RANGES[tensor.dtype]
    outside = (quant.zero_point < low) | (quant.zero_point > high)
    if outside.any():
        raise ModelError(
            f"{describe(tensor)}: zero point {int(quant.zero_point[outside][0])} is outside "
            f"{tensor.dtype.name}'s range {low}..{high}"
        )


def _check_inputs(subgraph: Subgraph) -> None:
    """Model inputs are set by the user: each listed once, none a constant (its data is the model's)."""
    seen: set[int] = set()
    for index in subgraph.inputs:
        tensor = subgraph.tensors[index]
        if index in seen:
            raise ModelError(f"model input {describe(tensor)} is listed twice")
        if tensor.is_constant:
            raise ModelError(f"model input {describe(tensor)} is a constant")
        seen.add(index)


def _check_execution_order(subgraph: Subgraph) -> None:
    """Operators run in file order: each reads constants, variables, model inputs, tensors with no
    elements (stored without a buffer) or what an earlier operator wrote; each tensor is written by
    one operator at most."""
    tensors = subgraph.tensors
    holds_value = set(subgraph.inputs) | {
        t.index for t in tensors if t.is_constant or t.is_variable or t.empty
    }
    writer: dict[int, int] = {}
    for op in subgraph.operators:
        what = f"operator {op.index} ({op.opcode})"
        for k, index in enumerate(op.inputs):
            if index >= 0 and index not in holds_value:
                later = _writer_after(subgraph, op, index)
                source = (
                    "it is not a constant, a variable or a model input, and no operator computes it"
                    if later is None
                    else f"operator {later} computes it later"
                )
                raise ModelError(
                    f"{what}: input {k} is {describe(tensors[index])}, which has no value: {source}"
                )
        for index in op.outputs:
            _check_writable(subgraph, what, tensors[index], writer)
            writer[index] = op.index
        holds_value.update(op.outputs)
    for index in subgraph.outputs:
        if index not in holds_value:
            raise ModelError(f"model output {describe(tensors[index])} is never computed")


def _writer_after(subgraph: Subgraph, reader: Operator, index: int) -> int | None:
    later = subgraph.operators[reader.index :]
    return next((op.index for op in later if index in op.outputs), None)


def _check_writable(subgraph: Subgraph, what: str, tensor: Tensor, writer: dict[int, int]) -> None:
    if tensor.empty and len(tensor.shape) > 1:
        raise ModelError(
            f"{what}: output {describe(tensor)} has no elements (shape {list(tensor.shape)}), which "
            "TFLM takes for a dynamic tensor and refuses"
        )
    if tensor.is_constant:
        raise ModelError(f"{what}: output {describe(tensor)} is a constant")
    if tensor.is_variable:
        raise ModelError(f"{what}: output {describe(tensor)} is a variable (state is updated in place)")
    if tensor.index in subgraph.inputs:
        raise ModelError(f"{what}: output {describe(tensor)} is a model input")
    if tensor.index in writer:
        raise ModelError(
            f"{what}: output {describe(tensor)} is already written by operator {writer[tensor.index]}"
        )


def _check_options(op: Operator) -> None:
    for name, value in op.options.items():
        values = value if isinstance(value, tuple) else (value,)
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            raise ModelError(f"operator {op.index} ({op.opcode}): option {name} is {value!r}, not finite")


def _check_memory(subgraph: Subgraph, budget: int) -> None:
    needed = activation_bytes(subgraph)
    if needed > budget:
        largest = max((t for t in _used_tensors(subgraph) if not t.is_constant), key=_tensor_bytes)
        raise ModelError(
            f"the model's activations need {needed:,} bytes, over the memory budget of {budget:,} "
            f"(largest: {describe(largest)}, shape {list(largest.shape)}, {largest.dtype.name}); "
            "pass a larger memory_budget to allow it"
        )
