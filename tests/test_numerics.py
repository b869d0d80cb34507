"""Numerics profiles: the single-rounding requantization, its use by the kernels, and TFLM's default."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyinterp import Interpreter, ModelBuilder
from tinyinterp.errors import TinyInterpError
from tinyinterp.kernels.fixedpoint import (
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_single_rounding,
)
from tinyinterp.quant import quantize_multiplier

INT32 = st.integers(-(2**31), 2**31 - 1)


@given(x=INT32, multiplier=st.integers(2**30, 2**31 - 1), shift=st.integers(-31, 7))
def test_single_rounding_rounds_the_exact_product_once_half_up(x: int, multiplier: int, shift: int) -> None:
    """floor(x * multiplier / 2**(31 - shift) + 1/2), in exact integers (CMSIS-NN's arm_nn_requantize with
    CMSIS_NN_USE_SINGLE_ROUNDING), while the result fits int32."""
    exact = (2 * x * multiplier + (1 << (31 - shift))) // (1 << (32 - shift))
    if -(2**31) <= exact < 2**31:
        assert multiply_by_quantized_multiplier_single_rounding(x, multiplier, shift) == exact


def test_double_rounding_can_round_up_what_single_rounding_rounds_down() -> None:
    """5 * 0.5 / 2 = 1.25: TFLM rounds 5 * 0.5 to 3 first, then 3 / 2 to 2; rounded once it is 1."""
    assert multiply_by_quantized_multiplier(5, 1 << 30, -1) == 2
    assert multiply_by_quantized_multiplier_single_rounding(5, 1 << 30, -1) == 1


def fully_connected_model(rng: np.random.Generator) -> tuple[bytes, np.ndarray, float]:
    """An int8 FULLY_CONNECTED: 16 inputs, 8 outputs; its weights and the real multiplier."""
    weights = rng.integers(-127, 128, (8, 16), dtype=np.int8)
    b = ModelBuilder()
    x = b.input("x", (1, 16), "int8", scale=0.05, zero_point=3)
    w = b.constant("w", weights, scale=0.01)
    bias = b.constant("b", np.zeros(8, np.int32), scale=0.0005)
    y = b.tensor("y", (1, 8), "int8", scale=0.037, zero_point=-5)
    b.op("FULLY_CONNECTED", [x, w, bias], [y])
    b.output(y)
    return b.build_bytes(), weights, 0.05 * 0.01 / 0.037


def test_a_layer_requantizes_with_single_rounding_under_that_profile() -> None:
    rng = np.random.default_rng(1)
    model, weights, real_multiplier = fully_connected_model(rng)
    multiplier, shift = quantize_multiplier(real_multiplier)
    items = rng.integers(-128, 128, (500, 16), dtype=np.int8)
    sums = (items.astype(np.int64) - 3) @ weights.astype(np.int64).T
    once = (2 * sums * multiplier + (1 << (31 - shift))) // (1 << (32 - shift))
    expected = np.clip(once - 5, -128, 127)
    single = Interpreter(model_content=model, numerics="single-rounding").run(items)[0]
    tflm = Interpreter(model_content=model).run(items)[0]
    assert np.array_equal(single, expected)
    assert not np.array_equal(tflm, expected)  # the inputs include halves, where the roundings part


def test_an_unknown_profile_is_refused_by_name() -> None:
    model, _, _ = fully_connected_model(np.random.default_rng(0))
    with pytest.raises(
        TinyInterpError, match="unknown numerics profile 'cmsis'; known: tflm, single-rounding"
    ):
        Interpreter(model_content=model, numerics="cmsis")
