"""STRIDED_SLICE, SLICE, PAD, PADV2: TFLM's semantics where they differ from TensorFlow's, and
errors that name the operator, tensor and what was expected."""

from __future__ import annotations

import numpy as np
import pytest

from tinyinterp import Interpreter, ModelBuilder
from tinyinterp.errors import ModelError


def run(
    opcode: str,
    x: np.ndarray,
    out_shape: tuple[int, ...],
    *operands: np.ndarray,
    quantization: dict | None = None,
    **options,
) -> np.ndarray:
    """The op's output on `x`, with constant `operands` after it."""
    quant = {"scale": 0.5, "zero_point": 3} if quantization is None else quantization
    builder = ModelBuilder()
    dtype = x.dtype.name
    tensor = builder.input("x", x.shape, dtype, **quant)
    constants = [builder.constant(f"operand{k}", value) for k, value in enumerate(operands)]
    y = builder.tensor("y", out_shape, dtype, **quant)
    builder.op(opcode, [tensor, *constants], [y], **options)
    builder.output(y)
    interpreter = Interpreter(model=builder.build())
    interpreter.allocate_tensors()
    interpreter.set_tensor(0, x)
    interpreter.invoke()
    return interpreter.get_tensor(y)


def strided_slice(x: np.ndarray, out_shape: tuple[int, ...], begin, end, strides, **options) -> np.ndarray:
    indices = (np.array(v, np.int32) for v in (begin, end, strides))
    return run("STRIDED_SLICE", x, out_shape, *indices, **options)


X = np.arange(6, dtype=np.int8)


def test_strided_slice_ignores_offset_as_tflm() -> None:
    # TensorFlow would take 2 values from index 1; TFLM (and tinyinterp) take [1, 2).
    np.testing.assert_array_equal(strided_slice(X, (1,), [1], [2], [1], offset=True), [1])


def test_strided_slice_ignores_ellipsis_and_new_axis_masks_as_tflm() -> None:
    x = np.arange(12, dtype=np.int8).reshape(3, 4)
    got = strided_slice(x, (1, 2), [1, 0], [2, 4], [1, 2], ellipsis_mask=1, new_axis_mask=2)
    np.testing.assert_array_equal(got, [[4, 6]])


def test_strided_slice_counts_down_to_index_0_with_a_negative_stride() -> None:
    np.testing.assert_array_equal(strided_slice(X, (3,), [-1], [0], [-2], end_mask=1), [5, 3, 1])


def test_strided_slice_refuses_a_shrink_with_a_negative_stride() -> None:
    with pytest.raises(ModelError, match=r"STRIDED_SLICE\): dimension 0 \(size 6\) is shrunk to index 2"):
        strided_slice(X, (), [2], [3], [-1], shrink_axis_mask=1)


def test_strided_slice_refuses_a_shrink_out_of_range() -> None:
    with pytest.raises(ModelError, match=r"TFLM supports an index in \[-6, 6\)"):
        strided_slice(X, (), [6], [7], [1], shrink_axis_mask=1)


def test_strided_slice_refuses_rank_5_as_tflm() -> None:
    x = np.zeros((1, 1, 1, 1, 2), np.int8)
    with pytest.raises(ModelError, match=r"has rank 5; TFLM's STRIDED_SLICE supports ranks 0 to 4"):
        strided_slice(x, x.shape, [0] * 5, [1] * 5, [1] * 5)


def test_strided_slice_refuses_a_zero_stride() -> None:
    with pytest.raises(ModelError, match=r"stride of dimension 0 is 0"):
        strided_slice(X, (1,), [0], [1], [0])


def test_slice_takes_int64_indices_and_size_minus_1() -> None:
    begin, size = np.array([4], np.int64), np.array([-1], np.int64)
    np.testing.assert_array_equal(run("SLICE", X, (2,), begin, size), [4, 5])


def test_slice_refuses_a_box_outside_the_input() -> None:
    begin, size = np.array([4], np.int32), np.array([3], np.int32)
    with pytest.raises(ModelError, match=r"begin 4 and size 3 of dimension 0 do not fit its size 6"):
        run("SLICE", X, (3,), begin, size)


def test_slice_refuses_mixed_index_dtypes() -> None:
    begin, size = np.array([0], np.int32), np.array([1], np.int64)
    with pytest.raises(ModelError, match=r"tensor 2 'operand1' has dtype INT64, expected INT32"):
        run("SLICE", X, (1,), begin, size)


def test_pad_fills_int8_with_the_zero_point_and_int16_with_0() -> None:
    paddings = np.array([[1, 0]], np.int32)
    np.testing.assert_array_equal(run("PAD", X[:2], (3,), paddings), [3, 0, 1])
    x16 = X[:2].astype(np.int16)
    np.testing.assert_array_equal(run("PAD", x16, (3,), paddings), [0, 0, 1])  # though its zero point is 3


def test_pad_refuses_negative_paddings() -> None:
    with pytest.raises(
        ModelError, match=r"paddings \[-1, 0\] must be 1 non-negative \(before, after\) pairs"
    ):
        run("PAD", X, (5,), np.array([[-1, 0]], np.int32))


def test_padv2_takes_its_value_at_run_time() -> None:
    builder = ModelBuilder()
    x = builder.input("x", (2,), "float32")
    paddings = builder.constant("paddings", np.array([[0, 2]], np.int32))
    value = builder.input("value", (), "float32")
    y = builder.tensor("y", (4,), "float32")
    builder.op("PADV2", [x, paddings, value], [y])
    builder.output(y)
    interpreter = Interpreter(model=builder.build())
    interpreter.allocate_tensors()
    interpreter.set_tensor(x, np.array([1, 2], np.float32))
    interpreter.set_tensor(value, np.array(-0.0, np.float32))
    interpreter.invoke()
    got = interpreter.get_tensor(y)
    np.testing.assert_array_equal(got, [1, 2, 0, 0])
    assert np.signbit(got[2:]).all()


def test_padv2_refuses_an_int8_value_of_another_quantization() -> None:
    builder = ModelBuilder()
    x = builder.input("x", (2,), "int8", scale=0.5, zero_point=3)
    paddings = builder.constant("paddings", np.array([[0, 1]], np.int32))
    value = builder.constant("value", np.array([7], np.int8), scale=0.25, zero_point=3)
    y = builder.tensor("y", (3,), "int8", scale=0.5, zero_point=3)
    builder.op("PADV2", [x, paddings, value], [y])
    builder.output(y)
    with pytest.raises(
        ModelError, match=r"PADV2\): constant_values \(tensor 2 'value'\) has \(scale, zero point\)"
    ):
        Interpreter(model=builder.build()).allocate_tensors()
