"""MEAN and SUM: TFLM's float summation order, its multiplier folding, zero-size reductions, and
errors that name the operator, tensor and what was expected."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from tinyinterp import ModelBuilder
from tinyinterp.errors import ModelError
from tinyinterp.ops.reduce import mean_multiplier
from tinyinterp.testing import OpCase, assert_bit_exact, run_tflm


def case(opcode: str, x: np.ndarray, axes: list[int], out_shape: tuple[int, ...], **quantization) -> OpCase:
    builder = ModelBuilder()
    dtype = x.dtype.name
    tensor = builder.input("x", x.shape, dtype, **quantization)
    axis = builder.constant("axis", np.array(axes, np.int32))
    y = builder.tensor("y", out_shape, dtype, **quantization)
    builder.op(opcode, [tensor, axis], [y])
    builder.output(y)
    return OpCase(opcode, dtype, builder.build(), (x,))


def test_mean_multiplier_folds_in_one_over_the_count() -> None:
    # 2**30 * 2**0 / 3: shifted left by floor(log2(3)) = 1 bit first.
    assert mean_multiplier(1 << 30, 0, 3) == ((1 << 31) // 3, -1)
    # The shift left stops where the final right shift would pass 31 bits.
    assert mean_multiplier(1 << 30, -30, 16) == ((1 << 31) // 16, -31)


def test_float_sum_adds_in_tflm_order(tflm: ModuleType) -> None:
    # One after the other, 1e8 + 1 rounds to 1e8 and the sum is 7; numpy's pairwise sum gives 6.
    x = np.array([[1e8, 1, -1e8, 1, 1, 1, 1, 1, 1, 1]], np.float32)
    sum_case = case("SUM", x, [1], (1,))
    assert_bit_exact(sum_case.expected(), run_tflm(sum_case), sum_case)
    assert sum_case.expected()[0][0] == 7.0 != x.sum()


@pytest.mark.parametrize("opcode", ["MEAN", "SUM"])
def test_float_reductions_turn_negative_zeros_positive(opcode: str, tflm: ModuleType) -> None:
    reduce_case = case(opcode, np.array([-0.0, -0.0], np.float32), [], (2,))
    (got,) = reduce_case.expected()
    assert_bit_exact(got, run_tflm(reduce_case)[0], reduce_case)
    assert not np.signbit(got).any()


def test_an_empty_quantized_mean_gives_zeros_not_the_zero_point(tflm: ModuleType) -> None:
    empty = case("MEAN", np.zeros((2, 0), np.int8), [1], (2,), scale=0.5, zero_point=7)
    assert_bit_exact(empty.expected(), run_tflm(empty), empty)
    np.testing.assert_array_equal(empty.expected()[0], [0, 0])


def test_an_empty_float_mean_is_refused() -> None:
    with pytest.raises(
        ModelError, match=r"MEAN\): tensor 0 'x' is empty: TFLM's float MEAN reads outside it"
    ):
        case("MEAN", np.zeros((2, 0), np.float32), [1], (2,)).expected()


def test_an_axis_out_of_range_is_refused() -> None:
    # TFLM refuses it for float32; for int8 it reports the error but runs on, outputting zeros.
    with pytest.raises(ModelError, match=r"SUM\): axis -3 is out of range for rank 2 \(expected -2 to 1\)"):
        case("SUM", np.zeros((2, 2), np.int8), [-3], (2,), scale=0.5, zero_point=0).expected()


def test_the_output_shape_follows_keep_dims() -> None:
    with pytest.raises(ModelError, match=r"tensor 2 'y' has shape \[2, 1\], expected \[2\]"):
        case("MEAN", np.zeros((2, 3), np.float32), [1], (2, 1)).expected()


def test_axes_of_a_scalar_are_ignored_as_in_tflm(tflm: ModuleType) -> None:
    scalar = case("SUM", np.array(3, np.int8), [5], (), scale=0.5, zero_point=1)
    assert_bit_exact(scalar.expected(), run_tflm(scalar), scalar)
