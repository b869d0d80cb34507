"""A single-op test case: the model, its inputs, our reference outputs and the prepared parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from tinyinterp.interpreter import Interpreter
from tinyinterp.model import Model, save_model
from tinyinterp.ops import OPS, OpContext


@dataclass(frozen=True, eq=False)
class OpCase:
    """One operator in a one-op model, with values for the model's inputs.

    `expected()` is tinyinterp's bit-exact output; `prepared` is the op after TFLM-style Prepare,
    whose attributes (multipliers, shifts, padding, activation range, weights) a kernel under test
    can be called with; `tflite` is the model as a `.tflite` file for any other runtime.
    """

    opcode: str
    dtype: str
    model: Model
    inputs: tuple[np.ndarray, ...]
    notes: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def tflite(self) -> bytes:
        return save_model(self.model)

    @cached_property
    def prepared(self) -> Any:
        subgraph = self.model.main
        return OPS[self.opcode](OpContext(subgraph, subgraph.operators[0]))

    def expected(self) -> list[np.ndarray]:
        interpreter = Interpreter(model=self.model)
        interpreter.allocate_tensors()
        for detail, value in zip(interpreter.get_input_details(), self.inputs):
            interpreter.set_tensor(detail["index"], value)
        interpreter.invoke()
        return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]

    def describe(self) -> str:
        op = self.model.main.operators[0]
        shapes = [list(self.model.main.tensors[i].shape) for i in op.inputs if i >= 0]
        return f"{self.opcode} ({self.dtype}) inputs {shapes} options {dict(op.options)}"


def tflm_outputs(model: bytes, inputs: np.ndarray) -> np.ndarray:
    """TFLM's output 0 for each item of a batch of one-input runs, one invoke per item (TFLM runs
    batch 1). Needs the `tflite-micro` package, the oracle."""
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model)
    outputs = []
    for item in inputs:
        interpreter.set_input(item[np.newaxis], 0)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0)[0].copy())
    return np.stack(outputs)


def run_tflm(case: OpCase) -> list[np.ndarray]:
    """TFLM's outputs for the case (needs the `tflite-micro` package, the oracle)."""
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(case.tflite, arena_size=tflm_arena_size(case))
    for position, value in enumerate(case.inputs):
        interpreter.set_input(value, position)
    interpreter.invoke()
    return [interpreter.get_output(k).copy() for k in range(len(case.model.main.outputs))]


def tflm_arena_size(case: OpCase) -> int:
    """Arena bytes for TFLM: its default, 10x the model's size, is too small for a one-op model with
    large activations, so add every tensor twice over (alignment, TFLM's own bookkeeping) and 16 KiB."""
    tensors = sum(int(np.prod(t.shape)) * t.dtype.numpy.itemsize for t in case.model.main.tensors)
    return 10 * len(case.tflite) + 2 * tensors + 16384
