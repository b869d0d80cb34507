"""MAX_POOL_2D: std::max's handling of signed zeros, TFLM's 1e-6 scale tolerance, and errors that
name the operator, tensor and what was expected."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from tinyinterp import ModelBuilder
from tinyinterp.errors import ModelError
from tinyinterp.testing import OpCase, assert_bit_exact, run_tflm


def pool_case(x: np.ndarray, output_quantization: dict | None = None, **options) -> OpCase:
    """A 1x2 VALID max pool with stride 2 along the width of `x` ([1, 1, W, 1])."""
    quant = {} if x.dtype == np.float32 else {"scale": 0.5, "zero_point": -1}
    builder = ModelBuilder()
    tensor = builder.input("x", x.shape, x.dtype.name, **quant)
    # At least one column: a declared output with no elements is refused before the window is checked.
    y = builder.tensor(
        "y", (1, 1, max(x.shape[2] // 2, 1), 1), x.dtype.name, **(output_quantization or quant)
    )
    window = {"filter_height": 1, "filter_width": 2, "stride_h": 1, "stride_w": 2, "padding": "VALID"}
    builder.op("MAX_POOL_2D", [tensor], [y], **window, **options)
    builder.output(y)
    return OpCase("MAX_POOL_2D", x.dtype.name, builder.build(), (x,))


@pytest.mark.parametrize("activation", ["NONE", "RELU"])
def test_the_first_of_equal_zeros_wins(activation: str, tflm: ModuleType) -> None:
    x = np.array([-0.0, 0.0, 0.0, -0.0], np.float32).reshape(1, 1, 4, 1)
    pool = pool_case(x, fused_activation_function=activation)
    (got,) = pool.expected()
    assert_bit_exact(got, run_tflm(pool)[0], pool)
    assert np.signbit(got).ravel().tolist() == [True, False]


def test_output_scales_1e_6_apart_are_accepted(tflm: ModuleType) -> None:
    x = np.array([-5, 3, 127, -128], np.int8).reshape(1, 1, 4, 1)
    pool = pool_case(x, {"scale": 0.5 + 9e-7, "zero_point": -1})
    assert_bit_exact(pool.expected(), run_tflm(pool), pool)


def test_another_output_zero_point_is_refused() -> None:
    x = np.zeros((1, 1, 4, 1), np.int16)
    pool = pool_case(x, {"scale": 0.5, "zero_point": 0})
    with pytest.raises(
        ModelError, match=r"MAX_POOL_2D\): input zero point -1 and output zero point 0 differ"
    ):
        pool.expected()


def test_a_window_larger_than_the_input_is_refused() -> None:
    x = np.zeros((1, 1, 1, 1), np.float32)
    with pytest.raises(ModelError, match=r"a 1x2 window does not fit a 1x1 input with VALID padding"):
        pool_case(x).expected()
