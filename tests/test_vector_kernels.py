"""The vector int8 output stage (kernels/epilogue.py) and the vector depthwise kernel (kernels/depthwise.py):
value for value the same as the scalar kernels, which test_rare_paths and test_differential hold to TFLM
(test_golden and test_differential also run the vector kernels against TFLM's outputs)."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinyinterp import Interpreter
from tinyinterp.interpreter import batch_shape
from tinyinterp.kernels.epilogue import LANES, Int8OutputStage
from tinyinterp.kernels.gemm import requantize_rows
from tinyinterp.numerics import PROFILES, SINGLE_ROUNDING, TFLM_ROUNDING
from tinyinterp.testing import OpCase
from tinyinterp.testing.strategies import CASES
from tinyinterp.testing.strategies.conv import DEPTHWISE_CHANNELS

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# Multipliers: QuantizeMultiplier's range and its ends, 0 (a zero scale) and INT32_MIN (a negative
# scale's), whose square is the one product SaturatingRoundingDoublingHighMul saturates.
MULTIPLIERS = st.sampled_from([0, 1 << 30, INT32_MAX, INT32_MIN, -(1 << 30)]) | st.integers(
    1 << 30, INT32_MAX
)
# Sums: the whole int32 range, its ends, and small values where both roundings meet their ties.
SUMS = (
    st.sampled_from([INT32_MIN, INT32_MAX, 0, -1, 1])
    | st.integers(-40, 40)
    | st.integers(INT32_MIN, INT32_MAX)
)


def scalar_stage(sums, bias, multipliers, shifts, offset, act_min, act_max, rounding) -> np.ndarray:
    """The scalar kernels' output stage (fixedpoint's MultiplyByQuantizedMultiplier per value)."""
    out = np.empty(sums.shape, np.int8)
    requantize_rows(sums, bias, multipliers, shifts, offset, act_min, act_max, out, rounding, False)
    return out


@st.composite
def stages(draw: st.DrawFn) -> tuple:
    rows, channels = draw(st.integers(1, 5)), draw(st.integers(1, 3 * LANES + 3))
    rounding = draw(st.sampled_from([TFLM_ROUNDING, SINGLE_ROUNDING]))
    # TFLM's shifts from QuantizeMultiplier: [-31, 62]; single rounding shifts by 30 - shift, which C
    # leaves undefined past 30.
    shifts = st.integers(-31, 62 if rounding == TFLM_ROUNDING else 30)
    sums = draw(hnp.arrays(np.int32, (rows, channels), elements=SUMS))
    bias = draw(hnp.arrays(np.int64, channels, elements=st.integers(-(2**40), 2**40) | st.integers(-40, 40)))
    multipliers = draw(hnp.arrays(np.int32, channels, elements=MULTIPLIERS))
    shift_values = draw(hnp.arrays(np.int32, channels, elements=shifts))
    offset = draw(st.integers(-128, 127))
    act_min = draw(st.integers(-128, 127))
    act_max = draw(st.integers(act_min, 127))
    return sums, bias, multipliers, shift_values, offset, act_min, act_max, rounding


@settings(max_examples=examples(10))
@given(stage=stages())
def test_vector_stage_equals_scalar_stage(stage: tuple) -> None:
    sums, bias, multipliers, shifts, offset, act_min, act_max, rounding = stage
    out = np.zeros((sums.shape[0], sums.shape[1] + 3), np.int8)
    view = out[:, 2 : 2 + sums.shape[1]]  # columns of a wider array, as a conv group writes them
    Int8OutputStage.of(bias, multipliers, shifts, offset, act_min, act_max, rounding)(sums, view)
    expected = scalar_stage(*stage)
    np.testing.assert_array_equal(view, expected)
    assert not out[:, :2].any() and not out[:, 2 + sums.shape[1] :].any()  # nothing written around it


@pytest.mark.parametrize("rounding", [TFLM_ROUNDING, SINGLE_ROUNDING])
def test_vector_stage_rounds_every_tie_as_the_scalar_stage(rounding: int) -> None:
    """A multiplier of 2**30 halves, so odd sums tie in the doubling high multiply, and shifts of 1..4
    then tie in the rounding division: every sum in [-4096, 4096) against every shift."""
    sums = np.arange(-4096, 4096, dtype=np.int32).reshape(-1, 32)
    for shift in range(-4, 1):
        bias = np.zeros(32, np.int64)
        multipliers = np.full(32, 1 << 30, np.int32)
        shifts = np.full(32, shift, np.int32)
        out = np.empty(sums.shape, np.int8)
        Int8OutputStage.of(bias, multipliers, shifts, 0, -128, 127, rounding)(sums, out)
        np.testing.assert_array_equal(
            out, scalar_stage(sums, bias, multipliers, shifts, 0, -128, 127, rounding)
        )


def batch_outputs(case: OpCase, numerics: str, items: int = 3) -> np.ndarray:
    """The case's op over `items` random inputs at once, in the numerics profile `numerics`."""
    interpreter = Interpreter(model=case.model, numerics=numerics)
    inputs = np.random.default_rng(0).integers(-128, 128, batch_shape(case.inputs[0].shape, items), np.int8)
    return interpreter.run(inputs)[0]


@settings(max_examples=examples(1))
@given(
    case=CASES["DEPTHWISE_CONV_2D", "int8"](
        dtype="int8", channels=DEPTHWISE_CHANNELS | st.sampled_from([16, 17, 32, 48])
    ),
    numerics=st.sampled_from(sorted(PROFILES)),
)
def test_vector_depthwise_equals_per_pixel_depthwise(case: OpCase, numerics: str) -> None:
    """Channel counts below, at and off whole chunks; strides, dilations, paddings, multipliers as
    drawn (the layers the vector kernel refuses take the per-pixel kernel both times)."""
    with mock.patch("tinyinterp.ops.conv.vector_depthwise_fits", return_value=False):
        expected = batch_outputs(case, numerics)
    np.testing.assert_array_equal(batch_outputs(case, numerics), expected)
