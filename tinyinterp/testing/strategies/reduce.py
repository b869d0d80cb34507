"""Cases for MEAN and SUM (int8, int16, float32): ranks 0 to 5, several, repeated and negative axes,
keep_dims, the 4-D mean over height and width, zero-size reductions (whose output TFLM fills
with zeros), rescaling by multipliers near 1, tiny (shift limits) or large, and asymmetric 16-bit
zero points (TFLM's reduce kernels do not require symmetric ones)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from tinyinterp.model import ModelBuilder
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import (
    asymmetric_zero_points,
    cases_for,
    effective_multipliers,
    scales,
    tensor_values,
)
from tinyinterp.testing.strategies.shape import DTYPES, rarely, shapes


@st.composite
def _input_and_axes(draw: st.DrawFn, opcode: str, dtype: str) -> tuple[tuple[int, ...], list[int]]:
    if draw(st.integers(0, 7)) == 5:  # TFLM's 4-D mean over height and width has a path of its own
        return draw(shapes(4, 4, max_side=5)), draw(st.sampled_from([[1, 2], [2, 1], [-3, -2]]))
    rank = draw(st.sampled_from([0, 1, 2, 2, 3, 3, 4, 4, 5]))
    # Zero-size inputs, except for float MEAN, which TFLM cannot run on them.
    empty = rank > 0 and (opcode == "SUM" or dtype != "float32") and rarely(draw)
    shape = draw(shapes(rank, rank, max_side=5, min_side=0 if empty else 1))
    # TFLM's float MEAN copies axes into 4 slots: keep to 4 there.
    most = 4 if opcode == "MEAN" and dtype == "float32" else rank + 2
    axes = draw(st.lists(st.integers(-rank, rank - 1), max_size=most)) if rank else [0]
    # Reduce every empty dimension: TFLM refuses zero-size outputs (but 1-D ones).
    axes += [axis for axis, size in enumerate(shape) if size == 0 and axis not in axes]
    # Out of range: TFLM refuses it for float32; for int8 / int16 it reports the error but carries on
    # with zeros as the output (tinyinterp refuses), so it is not tried there.
    if dtype == "float32" and rank and not empty and rarely(draw):
        axes.append(draw(st.sampled_from([rank, -rank - 1])))
    return shape, axes


def _quantizations(draw: st.DrawFn, opcode: str, dtype: str, count: int) -> tuple[dict, dict]:
    if dtype == "float32":
        return {}, {}
    input_scale = draw(scales(1e-3, 1.0))
    multiplier = draw(effective_multipliers())
    if opcode == "SUM" and draw(st.booleans()):  # a sum's output usually needs a coarser scale
        multiplier /= max(count, 1)
    output_scale = float(np.float32(input_scale / multiplier))
    zero_points = asymmetric_zero_points(dtype)
    return (
        {"scale": input_scale, "zero_point": draw(zero_points)},
        {"scale": output_scale, "zero_point": draw(zero_points)},
    )


@st.composite
def _reduce_cases(draw: st.DrawFn, opcode: str, dtype: str) -> OpCase:
    shape, axes = draw(_input_and_axes(opcode, dtype))
    keep_dims = draw(st.booleans())
    reduced = {axis % len(shape) for axis in axes if -len(shape) <= axis < len(shape)} if shape else set()
    out_shape = tuple(1 if a in reduced else d for a, d in enumerate(shape) if keep_dims or a not in reduced)
    input_quant, output_quant = _quantizations(draw, opcode, dtype, math.prod(shape[a] for a in reduced))
    builder = ModelBuilder("tinyinterp.testing case")
    x = builder.input("input", shape, dtype, **input_quant)
    axis = builder.constant("axis", np.array(axes, np.int32))
    y = builder.tensor("output", out_shape, dtype, **output_quant)
    builder.op(opcode, [x, axis], [y], keep_dims=keep_dims)
    builder.output(y)
    return OpCase(opcode, dtype, builder.build(), (draw(tensor_values(shape, dtype)),))


@cases_for("MEAN", DTYPES)
def mean_cases(dtype: str = "int8") -> st.SearchStrategy[OpCase]:
    return _reduce_cases("MEAN", dtype)


@cases_for("SUM", DTYPES)
def sum_cases(dtype: str = "int8") -> st.SearchStrategy[OpCase]:
    return _reduce_cases("SUM", dtype)
