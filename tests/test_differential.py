"""Differential tests: hypothesis generates single-op cases, TFLM and tinyinterp run them, integers
are compared. Profiles (see conftest): `ci` (default, 100 examples per op), `thorough` (10,000):
`pytest tests/test_differential.py --hypothesis-profile=thorough`.
"""

from __future__ import annotations

from types import ModuleType

import pytest
from hypothesis import given

from tinyinterp.errors import TinyInterpError
from tinyinterp.testing import OpCase, assert_bit_exact
from tinyinterp.testing.strategies import CASES


def tflm_outputs_or_error(runtime: ModuleType, case: OpCase) -> list | Exception:
    try:
        interpreter = runtime.Interpreter.from_bytes(case.tflite)
        for position, value in enumerate(case.inputs):
            interpreter.set_input(value, position)
        interpreter.invoke()
    except RuntimeError as error:  # TFLM refused the model in Prepare or failed in Eval
        return error
    return [interpreter.get_output(k).copy() for k in range(len(case.model.main.outputs))]


@pytest.mark.parametrize(("opcode", "dtype"), sorted(CASES))
def test_op_matches_tflm(opcode: str, dtype: str, tflm: ModuleType) -> None:
    @given(CASES[(opcode, dtype)](dtype=dtype))
    def check(case: OpCase) -> None:
        expected = tflm_outputs_or_error(tflm, case)
        if isinstance(expected, Exception):
            with pytest.raises(TinyInterpError):
                case.expected()
            return
        assert_bit_exact(case.expected(), expected, case)

    check()
