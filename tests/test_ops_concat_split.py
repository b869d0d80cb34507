"""CONCATENATION, SPLIT, PACK, UNPACK: copies without requantization, and errors that name the
operator, tensor and what was expected."""

from __future__ import annotations

import numpy as np
import pytest

from tinyinterp import Interpreter, ModelBuilder
from tinyinterp.errors import ModelError


def build(
    opcode: str,
    in_shapes: list[tuple[int, ...]],
    out_shapes: list[tuple[int, ...]],
    *,
    dtype: str = "int8",
    scales: list[float] | None = None,
    axis_operand: int | None = None,
    **options,
) -> Interpreter:
    """A prepared one-op model; `scales` are the inputs' (the outputs take 0.5), zero points 0;
    `axis_operand` is SPLIT's constant axis, put first."""
    builder = ModelBuilder()
    scales = scales or [0.5] * len(in_shapes)
    inputs = [
        builder.input(f"x{k}", s, dtype, scale=q, zero_point=0)
        for k, (s, q) in enumerate(zip(in_shapes, scales))
    ]
    if axis_operand is not None:
        inputs.insert(0, builder.constant("axis", np.array(axis_operand, np.int32)))
    outputs = [builder.tensor(f"y{k}", s, dtype, scale=0.5, zero_point=0) for k, s in enumerate(out_shapes)]
    builder.op(opcode, inputs, outputs, **options)
    builder.output(*outputs)
    interpreter = Interpreter(model=builder.build())
    interpreter.allocate_tensors()
    return interpreter


def test_concatenation_copies_int16_inputs_of_other_scales_as_tflm() -> None:
    interpreter = build("CONCATENATION", [(1,), (1,)], [(2,)], dtype="int16", scales=[0.5, 0.125], axis=0)
    x0, x1 = interpreter.get_input_details()
    interpreter.set_tensor(x0["index"], np.array([100], np.int16))
    interpreter.set_tensor(x1["index"], np.array([100], np.int16))
    interpreter.invoke()
    np.testing.assert_array_equal(
        interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), [100, 100]
    )


def test_concatenation_refuses_int8_inputs_of_another_scale() -> None:
    with pytest.raises(
        ModelError, match=r"CONCATENATION\): tensor 1 'x1' has \(scale, zero point\) \(0.25, 0\)"
    ):
        build("CONCATENATION", [(1,), (1,)], [(2,)], scales=[0.5, 0.25], axis=0)


def test_concatenation_refuses_a_fused_activation_as_tflm() -> None:
    with pytest.raises(ModelError, match=r"fused activation RELU is not supported \(TFLM requires NONE\)"):
        build("CONCATENATION", [(1,), (1,)], [(2,)], axis=0, fused_activation_function="RELU")


def test_concatenation_refuses_more_inputs_than_tflm() -> None:
    with pytest.raises(ModelError, match=r"has 11 inputs; TFLM concatenates 1 to 10"):
        build("CONCATENATION", [(1,)] * 11, [(11,)], axis=0)


def test_concatenation_names_an_input_of_another_shape() -> None:
    with pytest.raises(ModelError, match=r"tensor 1 'x1' has shape \[3, 2\], expected \[2, \*\]"):
        build("CONCATENATION", [(2, 1), (3, 2)], [(2, 3)], axis=-1)


def test_split_refuses_parts_of_unequal_size() -> None:
    with pytest.raises(ModelError, match=r"SPLIT\): dimension 1 of size 3 does not split into 2 parts"):
        build("SPLIT", [(2, 3)], [(2, 1), (2, 2)], axis_operand=-1)


def test_split_refuses_an_axis_out_of_range() -> None:
    with pytest.raises(ModelError, match=r"axis 2 is out of range for rank 2 \(expected -2 to 1\)"):
        build("SPLIT", [(2, 2)], [(1, 2), (1, 2)], axis_operand=2)


def test_pack_refuses_a_values_count_other_than_its_inputs() -> None:
    with pytest.raises(ModelError, match=r"PACK\): values_count is 3 but the op has 2 inputs"):
        build("PACK", [(2,), (2,)], [(3, 2)], values_count=3, axis=0)


def test_unpack_refuses_a_num_other_than_the_dimension() -> None:
    with pytest.raises(ModelError, match=r"dimension 0 of tensor 0 'x0' has size 3, not num=2"):
        build("UNPACK", [(3, 2)], [(2,), (2,)], num=2, axis=0)


def test_unpack_of_a_vector_gives_scalars() -> None:
    interpreter = build("UNPACK", [(2,)], [(), ()], num=2, axis=-1)
    interpreter.set_tensor(0, np.array([5, -7], np.int8))
    interpreter.invoke()
    outputs = [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]
    assert [o.shape for o in outputs] == [(), ()] and [int(o) for o in outputs] == [5, -7]
