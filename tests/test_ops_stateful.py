"""Ops with state (SVDF, UNIDIRECTIONAL_SEQUENCE_LSTM): their variable tensors persist across invokes
as TFLM's do, run() carries them from item to item, and reset_all_variables() restores TFLM's
initial state."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from conftest import examples
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from tinyinterp import Interpreter, ModelError
from tinyinterp.testing import OpCase, assert_bit_exact
from tinyinterp.testing.cases import tflm_arena_size
from tinyinterp.testing.strategies import CASES, tensor_values

STEPS = 4
STATEFUL = [
    ("SVDF", "int8"),
    ("SVDF", "float32"),
    ("UNIDIRECTIONAL_SEQUENCE_LSTM", "int8"),
    ("UNIDIRECTIONAL_SEQUENCE_LSTM", "int16"),
    ("UNIDIRECTIONAL_SEQUENCE_LSTM", "float32"),
]


@st.composite
def sequences(draw: st.DrawFn, opcode: str, dtype: str) -> tuple[OpCase, list[np.ndarray]]:
    """A case and STEPS inputs to feed it one after the other."""
    case = draw(CASES[(opcode, dtype)](dtype=dtype))
    shape = case.inputs[0].shape
    return case, [draw(tensor_values(shape, dtype)) for _ in range(STEPS)]


def invoke_all(interpreter: Interpreter, inputs: list[np.ndarray]) -> list[np.ndarray]:
    (input_detail,), (output_detail,) = interpreter.get_input_details(), interpreter.get_output_details()
    outputs = []
    for x in inputs:
        interpreter.set_tensor(input_detail["index"], x)
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(output_detail["index"]))
    return outputs


@pytest.mark.parametrize(("opcode", "dtype"), STATEFUL)
def test_state_persists_across_invokes_as_in_tflm(opcode: str, dtype: str, tflm: ModuleType) -> None:
    @settings(max_examples=examples(0.3))
    @given(sequences(opcode, dtype))
    def check(sequence: tuple[OpCase, list[np.ndarray]]) -> None:
        case, inputs = sequence
        try:
            reference = tflm.Interpreter.from_bytes(case.tflite, arena_size=tflm_arena_size(case))
        except RuntimeError:  # refused in Prepare: covered by the differential tests
            return
        expected = []
        for x in inputs:
            reference.set_input(x, 0)
            reference.invoke()
            expected.append(reference.get_output(0).copy())
        interpreter = Interpreter(model=case.model)
        interpreter.allocate_tensors()
        assert_bit_exact(invoke_all(interpreter, inputs), expected, case)

    check()


@pytest.mark.parametrize(("opcode", "dtype"), STATEFUL)
def test_reset_and_run_replay_the_invokes(opcode: str, dtype: str) -> None:
    @given(sequences(opcode, dtype))
    @settings(max_examples=examples(0.1))
    def check(sequence: tuple[OpCase, list[np.ndarray]]) -> None:
        replay(*sequence)

    check()


def replay(case: OpCase, inputs: list[np.ndarray]) -> None:
    """The same invokes after a reset, and as one run() (for a model batch of 1), give the same outputs."""
    interpreter = Interpreter(model=case.model)
    try:
        interpreter.allocate_tensors()
    except ModelError:  # refused in Prepare, as TFLM refuses it: covered by the differential tests
        reject()
    first = invoke_all(interpreter, inputs)
    interpreter.reset_all_variables()
    assert_bit_exact(invoke_all(interpreter, inputs), first)
    interpreter.reset_all_variables()
    if inputs[0].shape[0] == 1:  # run() takes items along dimension 0, the model's batch of 1
        batched = interpreter.run(np.concatenate(inputs))[0]
        assert_bit_exact(list(batched[:, np.newaxis]), first)


@pytest.mark.parametrize(("opcode", "dtype"), STATEFUL)
def test_states_start_as_tflm_resets_them(opcode: str, dtype: str) -> None:
    """int8 states at their zero point (TFLM memsets it), others at zero bytes."""

    @given(CASES[(opcode, dtype)](dtype=dtype))
    @settings(max_examples=examples(0.05))
    def check(case: OpCase) -> None:
        interpreter = Interpreter(model=case.model)
        for state in (t for t in case.model.main.tensors if t.is_variable):
            expected = state.quantization.zero_point[0] if state.dtype.name == "INT8" else 0
            assert (interpreter.get_tensor(state.index) == expected).all()

    check()
