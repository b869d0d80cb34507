"""Cases for RESHAPE and SOFTMAX."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from tinyinterp.model import ModelBuilder
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import cases_for, scales, tensor_values, zero_points


@cases_for("RESHAPE", ("int8",))
@st.composite
def reshape_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    in_shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    size = int(np.prod(in_shape))
    split = draw(st.sampled_from([d for d in range(1, size + 1) if size % d == 0]))
    out_shape = (split, size // split)
    scale, zero_point = draw(scales(1e-3, 1.0)), draw(zero_points(dtype))
    builder = ModelBuilder("tinyinterp.testing case")
    x = builder.input("input", in_shape, dtype, scale=scale, zero_point=zero_point)
    shape = builder.constant("shape", np.array(out_shape, np.int32))
    y = builder.tensor("output", out_shape, dtype, scale=scale, zero_point=zero_point)
    builder.op("RESHAPE", [x, shape], [y])
    builder.output(y)
    return OpCase("RESHAPE", dtype, builder.build(), (draw(tensor_values(in_shape, dtype)),))


@cases_for("SOFTMAX", ("int8",))
@st.composite
def softmax_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    shape = tuple(draw(st.lists(st.integers(1, 12), min_size=1, max_size=3)))
    builder = ModelBuilder("tinyinterp.testing case")
    x = builder.input(
        "input", shape, dtype, scale=draw(scales(1e-3, 2.0)), zero_point=draw(zero_points(dtype))
    )
    y = builder.tensor("output", shape, dtype, scale=1.0 / 256, zero_point=-128)
    builder.op("SOFTMAX", [x], [y], beta=draw(st.sampled_from([1.0, 0.5, 2.0])))
    builder.output(y)
    return OpCase("SOFTMAX", dtype, builder.build(), (draw(tensor_values(shape, dtype)),))
