"""TRANSPOSE, SQUEEZE, EXPAND_DIMS: errors name the operator, tensor and what was expected.

Also batched runs of every data-movement, pooling and reduce op and of the arithmetic, conv and
fully connected families, on every input layout their strategies draw (leading 1 or not, scalars):
`Interpreter.run` over several items equals invoking item by item, whether the items go through at
once (dimension 0 as a batch) or one by one.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import examples
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tinyinterp import Interpreter, ModelBuilder
from tinyinterp.errors import ModelError
from tinyinterp.interpreter import batch_shape
from tinyinterp.testing import OpCase, assert_bit_exact
from tinyinterp.testing.strategies import CASES, tensor_values

ITEMS = 3
BATCHED = [
    ("MAX_POOL_2D", "int8"),
    ("CONCATENATION", "int8"),
    ("PAD", "int16"),
    ("PADV2", "int8"),
    ("STRIDED_SLICE", "int8"),
    ("SLICE", "float32"),
    ("TRANSPOSE", "int8"),
    ("SQUEEZE", "int8"),
    ("EXPAND_DIMS", "int8"),
    ("SPLIT", "int8"),
    ("PACK", "int8"),
    ("UNPACK", "int8"),
    ("MEAN", "int8"),
    ("MEAN", "float32"),
    ("SUM", "int16"),
    ("SUM", "float32"),
    ("ADD", "int16"),
    ("SUB", "int16"),
    ("MUL", "int8"),
    ("FULLY_CONNECTED", "int8"),
    ("RESHAPE", "int8"),
    ("CONV_2D", "int8"),
    ("DEPTHWISE_CONV_2D", "int16"),
    ("SOFTMAX", "int8"),
    ("LOGISTIC", "int16"),
    ("BATCH_MATMUL", "int8"),
]


@st.composite
def batches(draw: st.DrawFn, opcode: str, dtype: str) -> tuple[OpCase, list[np.ndarray]]:
    """A case and ITEMS items per input, laid out as `run` takes them (`batch_shape`)."""
    case = draw(CASES[(opcode, dtype)](dtype=dtype))
    shapes = [case.model.main.tensors[i].shape for i in case.model.main.inputs]
    items = [[draw(tensor_values(s, dtype)) for _ in range(ITEMS)] for s in shapes]
    return case, [as_batch(values, shape) for values, shape in zip(items, shapes)]


def as_batch(values: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    return np.concatenate([v.reshape(batch_shape(shape, 1)) for v in values])


def item_by_item(interpreter: Interpreter, inputs: list[np.ndarray]) -> list[np.ndarray]:
    outputs = []
    for k in range(ITEMS):
        for detail, x in zip(interpreter.get_input_details(), inputs):
            interpreter.set_tensor(detail["index"], x[k : k + 1].reshape(detail["shape"]))
        interpreter.invoke()
        outputs.append([interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()])
    shapes = [tuple(d["shape"]) for d in interpreter.get_output_details()]
    return [as_batch(list(items), shape) for items, shape in zip(zip(*outputs), shapes)]


@pytest.mark.parametrize(("opcode", "dtype"), BATCHED)
def test_batched_run_equals_item_by_item(opcode: str, dtype: str) -> None:
    @settings(
        max_examples=examples(0.4), suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
    )
    @given(batches(opcode, dtype))
    def check(batch: tuple[OpCase, list[np.ndarray]]) -> None:
        case, inputs = batch
        try:  # the strategies now and then draw a model TFLM refuses (e.g. a zero-size output)
            interpreter = Interpreter(model=case.model)
            interpreter.allocate_tensors()
        except ModelError:
            assume(False)
        assert_bit_exact(interpreter.run(*inputs), item_by_item(interpreter, inputs), case)

    check()


def prepare(
    opcode: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...], *operands: np.ndarray, **options
) -> None:
    builder = ModelBuilder()
    x = builder.input("x", in_shape, "int8", scale=0.5, zero_point=0)
    constants = [builder.constant(f"operand{k}", value) for k, value in enumerate(operands)]
    y = builder.tensor("y", out_shape, "int8", scale=0.5, zero_point=0)
    builder.op(opcode, [x, *constants], [y], **options)
    builder.output(y)
    Interpreter(model=builder.build()).allocate_tensors()


def test_transpose_refuses_a_perm_with_a_repeated_axis() -> None:
    with pytest.raises(ModelError, match=r"operator 0 \(TRANSPOSE\): perm \[0, 0\] is not a permutation"):
        prepare("TRANSPOSE", (2, 3), (2, 2), np.array([0, 0], np.int32))


def test_transpose_names_the_output_and_the_shape_it_expected() -> None:
    with pytest.raises(ModelError, match=r"tensor 2 'y' has shape \[2, 3\], expected \[3, 2\]"):
        prepare("TRANSPOSE", (2, 3), (2, 3), np.array([1, 0], np.int32))


def test_transpose_refuses_rank_6_as_tflm() -> None:
    with pytest.raises(ModelError, match=r"tensor 0 'x' has rank 6; TFLM's TRANSPOSE supports ranks 1 to 5"):
        prepare("TRANSPOSE", (1,) * 6, (1,) * 6, np.arange(6, dtype=np.int32))


def test_transpose_needs_a_constant_perm() -> None:
    builder = ModelBuilder()
    x = builder.input("x", (2, 3), "int8", scale=0.5, zero_point=0)
    perm = builder.input("perm", (2,), "int32")
    y = builder.tensor("y", (3, 2), "int8", scale=0.5, zero_point=0)
    builder.op("TRANSPOSE", [x, perm], [y])
    builder.output(y)
    with pytest.raises(ModelError, match=r"tensor 1 'perm' must be a constant"):
        Interpreter(model=builder.build()).allocate_tensors()


def test_squeeze_refuses_a_dimension_larger_than_1() -> None:
    with pytest.raises(ModelError, match=r"cannot squeeze dimension 1 of tensor 0 'x': its size is 3"):
        prepare("SQUEEZE", (1, 3), (1,), squeeze_dims=(-1,))


def test_squeeze_refuses_an_axis_out_of_range() -> None:
    with pytest.raises(
        ModelError, match=r"squeeze dimension 2 is out of range for rank 2 \(expected -2 to 1\)"
    ):
        prepare("SQUEEZE", (1, 3), (3,), squeeze_dims=(2,))


def test_expand_dims_refuses_an_axis_past_the_output() -> None:
    with pytest.raises(ModelError, match=r"output axis 3 is out of range for rank 3 \(expected -3 to 2\)"):
        prepare("EXPAND_DIMS", (2, 3), (2, 3, 1), np.array(3, np.int32))


def test_expand_dims_takes_a_negative_axis_from_the_end() -> None:
    builder = ModelBuilder()
    x = builder.input("x", (2, 3), "int8", scale=0.5, zero_point=0)
    axis = builder.constant("axis", np.array([-2], np.int32))
    y = builder.tensor("y", (2, 1, 3), "int8", scale=0.5, zero_point=0)
    builder.op("EXPAND_DIMS", [x, axis], [y])
    builder.output(y)
    interpreter = Interpreter(model=builder.build())
    interpreter.allocate_tensors()
    value = np.arange(6, dtype=np.int8).reshape(2, 3)
    interpreter.set_tensor(0, value)
    interpreter.invoke()
    np.testing.assert_array_equal(interpreter.get_tensor(2), value.reshape(2, 1, 3))
