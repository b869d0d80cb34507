"""Differential tests: hypothesis generates single-op cases, TFLM and tinyinterp run them, integers
are compared. Profiles (see conftest): `ci` (default, 100 examples per op), `thorough` (10,000):
`pytest tests/test_differential.py --hypothesis-profile=thorough`.

Float results must be equal too, except for cases whose `notes["float_ulps"]` allows a few units in
the last place (float ops computed by the C library, see `strategies.activations.FLOAT_NOT_BIT_EXACT`).
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from hypothesis import given

from tinyinterp.errors import TinyInterpError
from tinyinterp.testing import OpCase, assert_bit_exact, run_tflm
from tinyinterp.testing.strategies import CASES
from tinyinterp.testing.strategies.quantize import QUANTIZE_INPUTS, quantize_cases


def tflm_outputs_or_error(case: OpCase) -> list | Exception:
    try:
        return run_tflm(case)
    except RuntimeError as error:  # TFLM refused the model in Prepare or failed in Eval
        return error


def float_order(x: np.ndarray) -> np.ndarray:
    """float32 bit patterns as integers in the order of the values (distance = ULPs, -0.0 = 0.0)."""
    bits = x.view(np.int32).astype(np.int64)
    return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)


def snap_within_ulps(actual: list[np.ndarray], expected: list, ulps: int) -> list[np.ndarray]:
    """`actual` with float32 values within `ulps` of the expected ones replaced by them."""
    return [
        np.where(np.abs(float_order(a) - float_order(e)) <= ulps, e, a)
        if a.dtype == e.dtype == np.float32 and a.shape == e.shape
        else a
        for a, e in zip(actual, expected)
    ]


def assert_matches_tflm(case: OpCase) -> None:
    """tinyinterp's outputs equal TFLM's, or both refuse the case."""
    expected = tflm_outputs_or_error(case)
    if isinstance(expected, Exception):
        with pytest.raises(TinyInterpError):
            case.expected()
        return
    actual = case.expected()
    if case.notes.get("float_ulps"):
        actual = snap_within_ulps(actual, expected, case.notes["float_ulps"])
    assert_bit_exact(actual, expected, case)


@pytest.mark.parametrize(("opcode", "dtype"), sorted(CASES))
def test_op_matches_tflm(opcode: str, dtype: str, tflm: ModuleType) -> None:
    given(CASES[(opcode, dtype)](dtype=dtype))(assert_matches_tflm)()


@pytest.mark.parametrize(
    ("input_dtype", "output_dtype"),
    [(source, target) for target, sources in QUANTIZE_INPUTS.items() for source in sources],
)
def test_quantize_pair_matches_tflm(input_dtype: str, output_dtype: str, tflm: ModuleType) -> None:
    """Each (input, output) dtype pair of QUANTIZE gets its own examples: `test_op_matches_tflm` spreads
    an output dtype's examples over its input dtypes."""
    given(quantize_cases(dtype=output_dtype, input_dtype=input_dtype))(assert_matches_tflm)()


def test_quantize_cases_refuse_a_pair_tflm_has_no_kernel_for() -> None:
    @given(quantize_cases(dtype="int32", input_dtype="float32"))
    def draw(case: OpCase) -> None:
        pass

    with pytest.raises(TinyInterpError, match="QUANTIZE to int32 takes int8 or int16, not float32"):
        draw()
