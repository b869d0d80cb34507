"""Cases for STRIDED_SLICE, SLICE, PAD and PADV2 (int8, int16, float32): indices in and out of
range, negative indices and strides, every mask (TFLM ignores ellipsis_mask, new_axis_mask and
offset: the expected shapes here follow TFLM), 1-D empty outputs (TFLM's only zero-size outputs),
pad values constant, given at run time, or defaulted."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from tinyinterp.model import ModelBuilder
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import cases_for, quantization, tensor_values
from tinyinterp.testing.strategies.shape import DTYPES, Operand, rarely, shapes, single_op


def _bits(draw: st.DrawFn, rank: int, allowed: list[int] | None = None) -> int:
    """A mask over `rank` axes (over `allowed` ones only if given)."""
    candidates = range(rank) if allowed is None else allowed
    return sum(1 << axis for axis in candidates if draw(st.booleans()))


@cases_for("STRIDED_SLICE", DTYPES)
@st.composite
def strided_slice_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    rank = draw(st.integers(1, 5 if rarely(draw) else 4))  # TFLM refuses rank 5
    shape = draw(shapes(rank, rank, min_side=0 if rank == 1 else 1))
    strides = [draw(st.sampled_from([1, 1, 1, 2, 3, -1, -1, -2])) for _ in shape]
    begin = [draw(st.integers(-size - 2, size + 2)) for size in shape]
    end = [draw(st.integers(-size - 2, size + 2)) for size in shape]
    begin_mask, end_mask = _bits(draw, rank), _bits(draw, rank)
    # Shrinking copies nothing in TFLM unless the index is in range and the stride positive.
    shrinkable = [
        axis
        for axis, size in enumerate(shape)
        if strides[axis] > 0 and size > 0 and (begin_mask >> axis & 1 or -size <= begin[axis] < size)
    ]
    shrink_mask = _bits(draw, rank, shrinkable)
    out_shape = []
    for axis, size in enumerate(shape):
        if shrink_mask >> axis & 1:
            continue
        start = None if begin_mask >> axis & 1 else begin[axis]
        stop = None if end_mask >> axis & 1 else end[axis]
        count = len(range(*slice(start, stop, strides[axis]).indices(size)))
        if count == 0 and rank > 1:  # TFLM refuses zero-size outputs but 1-D ones: take all instead
            begin_mask, end_mask = begin_mask | 1 << axis, end_mask | 1 << axis
            count = len(range(*slice(None, None, strides[axis]).indices(size)))
        out_shape.append(count)
    if rarely(draw):
        out_shape.append(1)  # a wrong output shape, which TFLM refuses
    operands: list[Operand] = [("input", shape), *(np.array(v, np.int32) for v in (begin, end, strides))]
    options = {
        "begin_mask": begin_mask,
        "end_mask": end_mask,
        "shrink_axis_mask": shrink_mask,
        "ellipsis_mask": _bits(draw, rank),
        "new_axis_mask": _bits(draw, rank),
        "offset": draw(st.booleans()),
    }
    return draw(single_op("STRIDED_SLICE", dtype, operands, [tuple(out_shape)], **options))


@cases_for("SLICE", DTYPES)
@st.composite
def slice_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    shape = draw(shapes(1, 5))
    begin = [draw(st.integers(0, size - 1)) for size in shape]
    # Sizes of 0 only for 1-D outputs (TFLM refuses other zero-size outputs).
    low = 0 if len(shape) == 1 else 1
    sizes = [draw(st.sampled_from([-1, draw(st.integers(low, size - b))])) for size, b in zip(shape, begin)]
    out_shape = tuple(size - b if s == -1 else s for size, b, s in zip(shape, begin, sizes))
    index_dtype = draw(st.sampled_from([np.int32, np.int64]))
    operands: list[Operand] = [("input", shape), np.array(begin, index_dtype), np.array(sizes, index_dtype)]
    return draw(single_op("SLICE", dtype, operands, [out_shape]))


@st.composite
def _pad_cases(draw: st.DrawFn, opcode: str, dtype: str) -> OpCase:
    rank = draw(st.integers(1, 6 if rarely(draw) else 5))  # TFLM refuses rank 6
    shape = draw(shapes(rank, rank, min_side=0 if rank == 1 else 1, max_side=3))
    pairs = [(draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in shape]
    out_shape = tuple(size + before + after for size, (before, after) in zip(shape, pairs))
    input_quant, output_quant = draw(quantization(dtype)), draw(quantization(dtype))
    if draw(st.booleans()):  # or not: TFLM copies the input whatever its quantization
        output_quant = input_quant
    builder = ModelBuilder("tinyinterp.testing case")
    x = builder.input("input", shape, dtype, **input_quant)
    operands = [x, builder.constant("paddings", np.array(pairs, np.int32))]
    values = [draw(tensor_values(shape, dtype))]
    with_value = draw(st.booleans()) if opcode == "PAD" else not rarely(draw)  # TFLM: PAD = PADV2
    if with_value:
        value_quant = draw(quantization(dtype)) if rarely(draw) else output_quant  # int8 refused if different
        value = draw(tensor_values(draw(st.sampled_from([(), (1,)])), dtype))
        if draw(st.booleans()):
            operands.append(builder.constant("constant_values", value, dtype, **value_quant))
        else:  # TFLM reads it at run time
            operands.append(builder.input("constant_values", value.shape, dtype, **value_quant))
            values.append(value)
    y = builder.tensor("output", out_shape, dtype, **output_quant)
    builder.op(opcode, operands, [y])
    builder.output(y)
    return OpCase(opcode, dtype, builder.build(), tuple(values))


@cases_for("PAD", DTYPES)
def pad_cases(dtype: str = "int8") -> st.SearchStrategy[OpCase]:
    return _pad_cases("PAD", dtype)


@cases_for("PADV2", DTYPES)
def padv2_cases(dtype: str = "int8") -> st.SearchStrategy[OpCase]:
    return _pad_cases("PADV2", dtype)
