"""Cases for CONCATENATION, SPLIT, PACK and UNPACK (int8, int16, float32): ranks up to TFLM's
limits, negative axes, empty inputs to concatenate, int16 inputs of different scales (copied as
they are), and the quantization mismatches and counts TFLM refuses."""

from __future__ import annotations

from hypothesis import strategies as st

from tinyinterp.model import ModelBuilder
from tinyinterp.quant import ACTIVATIONS
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import cases_for, quantization, scales, tensor_values
from tinyinterp.testing.strategies.shape import DTYPES, Operand, axes, one_value, rarely, shapes, single_op


def _concatenation_quantizations(draw: st.DrawFn, dtype: str, count: int) -> tuple[list[dict], dict]:
    """(input quantizations, output quantization): int8 all equal, int16 any scales and zero point 0;
    rarely one input breaks that, which TFLM refuses."""
    output = draw(quantization(dtype))
    if dtype == "int16":
        inputs = [{"scale": draw(scales()), "zero_point": 0} for _ in range(count)]
    else:
        inputs = [output] * count
    if dtype != "float32" and rarely(draw):
        inputs[draw(st.integers(0, count - 1))] = {"scale": draw(scales()), "zero_point": 1}
    return inputs, output


@cases_for("CONCATENATION", DTYPES)
@st.composite
def concatenation_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    count = draw(st.integers(1, 11 if rarely(draw) else 10))  # TFLM takes at most 10 inputs
    rank = draw(st.integers(1, 7 if rarely(draw) else 6))  # and ranks up to 6
    shape = draw(shapes(rank, rank, max_side=3))
    axis = draw(axes(rank))
    before, after = shape[: axis % rank], shape[axis % rank + 1 :]
    sizes = [draw(st.integers(0, 3)) for _ in range(count)]
    if sum(sizes) == 0 and rank > 1:  # TFLM refuses zero-size outputs but 1-D ones
        sizes[0] = 1
    in_shapes = [(*before, size, *after) for size in sizes]
    out_shape = (*before, sum(sizes), *after)
    input_quants, output_quant = _concatenation_quantizations(draw, dtype, count)
    builder = ModelBuilder("tinyinterp.testing case")
    xs = [builder.input(f"input{k}", s, dtype, **q) for k, (s, q) in enumerate(zip(in_shapes, input_quants))]
    y = builder.tensor("output", out_shape, dtype, **output_quant)
    activation = draw(st.sampled_from(ACTIVATIONS)) if rarely(draw) else "NONE"  # TFLM requires NONE
    builder.op("CONCATENATION", xs, [y], axis=axis, fused_activation_function=activation)
    builder.output(y)
    values = tuple(draw(tensor_values(s, dtype)) for s in in_shapes)
    return OpCase("CONCATENATION", dtype, builder.build(), values)


@cases_for("SPLIT", DTYPES)
@st.composite
def split_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    shape = list(draw(shapes(1, 5)))
    axis, parts = draw(axes(len(shape))), draw(st.integers(1, 4))
    shape[axis] = parts * draw(st.integers(0 if len(shape) == 1 else 1, 3))  # empty: 1-D outputs only
    part_shape = list(shape)
    part_shape[axis] //= parts
    if rarely(draw):  # out of range, which TFLM refuses
        axis = draw(st.sampled_from([-len(shape) - 1, len(shape)]))
    operands: list[Operand] = [draw(one_value(axis)), ("input", tuple(shape))]
    return draw(single_op("SPLIT", dtype, operands, [tuple(part_shape)] * parts, num_splits=parts))


@cases_for("PACK", DTYPES)
@st.composite
def pack_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    shape, count = draw(shapes(0, 4)), draw(st.integers(1, 5))
    axis = draw(axes(len(shape) + 1))
    position = axis % (len(shape) + 1)
    out_shape = (*shape[:position], count, *shape[position:])
    operands = [(f"input{k}", shape) for k in range(count)]
    return draw(single_op("PACK", dtype, operands, [out_shape], values_count=count, axis=axis))


@cases_for("UNPACK", DTYPES)
@st.composite
def unpack_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    shape = draw(shapes(1, 5))
    axis = draw(axes(len(shape)))
    count = shape[axis]
    out_shape = shape[: axis % len(shape)] + shape[axis % len(shape) + 1 :]
    return draw(single_op("UNPACK", dtype, [("input", shape)], [out_shape] * count, num=count, axis=axis))
