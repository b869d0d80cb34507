"""Cases for TRANSPOSE, SQUEEZE and EXPAND_DIMS (int8, int16, float32), and the pieces every
data-movement strategy shares: shapes, axes, a model holding one op.

A few cases in each family are invalid in ways TFLM refuses cleanly (a rank it does not support,
an axis out of range...), to check that tinyinterp refuses them too; cases TFLM would run with
undefined behaviour (it only debug-checks them) are never generated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinyinterp.model import ModelBuilder
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import cases_for, quantization, tensor_values

DTYPES = ("int8", "int16", "float32")


def shapes(min_rank: int, max_rank: int, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy[tuple]:
    return hnp.array_shapes(min_dims=min_rank, max_dims=max_rank, min_side=min_side, max_side=max_side)


def rarely(draw: st.DrawFn) -> bool:
    """True in about 1 case in 16: for the invalid variants of a case."""
    return draw(st.integers(0, 15)) == 11  # not an end of the range, which hypothesis favours


def axes(rank: int) -> st.SearchStrategy[int]:
    """An axis of `rank` dimensions, as often negative as not."""
    return st.integers(-rank, rank - 1)


def one_value(value: int) -> st.SearchStrategy[np.ndarray]:
    """An int32 operand holding one value, as a scalar or a [1] tensor (TFLM reads both)."""
    return st.sampled_from([(), (1,)]).map(lambda shape: np.full(shape, value, np.int32))


# An operand of `single_op`: a (name, shape) activation or a constant array.
Operand = tuple[str, tuple[int, ...]] | np.ndarray


@st.composite
def single_op(
    draw: st.DrawFn,
    opcode: str,
    dtype: str,
    inputs: Sequence[Operand],
    outputs: Sequence[tuple[int, ...]],
    **options: Any,
) -> OpCase:
    """A one-op model: `inputs` are (name, shape) activations, given random values, or constant
    int operands; activations share one drawn quantization."""
    quant = draw(quantization(dtype))
    builder = ModelBuilder("tinyinterp.testing case")
    tensors, values = [], []
    for k, operand in enumerate(inputs):
        if isinstance(operand, np.ndarray):
            tensors.append(builder.constant(f"operand{k}", operand))
        else:
            name, shape = operand
            tensors.append(builder.input(name, shape, dtype, **quant))
            values.append(draw(tensor_values(shape, dtype)))
    results = [builder.tensor(f"output{k}", shape, dtype, **quant) for k, shape in enumerate(outputs)]
    builder.op(opcode, tensors, results, **options)
    builder.output(*results)
    return OpCase(opcode, dtype, builder.build(), tuple(values))


@cases_for("TRANSPOSE", DTYPES)
@st.composite
def transpose_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    shape = draw(shapes(1, 6 if rarely(draw) else 5))  # TFLM refuses rank 6
    perm = list(draw(st.permutations(range(len(shape)))))
    out_shape = tuple(shape[p] for p in perm)
    if rarely(draw):  # an entry out of range, which TFLM refuses
        perm[draw(st.integers(0, len(perm) - 1))] = draw(st.sampled_from([-1, len(shape)]))
    operands: list[Operand] = [("input", shape), np.array(perm, np.int32)]
    return draw(single_op("TRANSPOSE", dtype, operands, [out_shape]))


@cases_for("SQUEEZE", DTYPES)
@st.composite
def squeeze_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    shape = tuple(draw(st.lists(st.sampled_from([1, 1, 2, 3]), min_size=0, max_size=8)))
    ones = [axis for axis, size in enumerate(shape) if size == 1]
    dims = draw(st.lists(st.sampled_from(ones), max_size=4)) if ones else []
    squeezed = set(dims) if dims else set(ones)
    out_shape = tuple(size for axis, size in enumerate(shape) if axis not in squeezed)
    # Each dimension negative or not, sometimes repeated; rarely one that is not of size 1.
    dims = [axis - len(shape) if draw(st.booleans()) else axis for axis in dims]
    if shape and len(ones) < len(shape) and rarely(draw):
        dims.append(draw(st.sampled_from([a for a, size in enumerate(shape) if size != 1])))
    return draw(single_op("SQUEEZE", dtype, [("input", shape)], [out_shape], squeeze_dims=tuple(dims)))


@cases_for("EXPAND_DIMS", DTYPES)
@st.composite
def expand_dims_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    shape = draw(shapes(0, 4))
    axis = draw(axes(len(shape) + 1))
    position = axis % (len(shape) + 1)
    out_shape = (*shape[:position], 1, *shape[position:])
    if rarely(draw):  # past the end, which TFLM refuses
        axis = len(shape) + 1
    operands: list[Operand] = [("input", shape), draw(one_value(axis))]
    return draw(single_op("EXPAND_DIMS", dtype, operands, [out_shape]))
