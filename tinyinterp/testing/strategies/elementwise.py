"""Cases for ADD: broadcast shapes (up to rank 6), scales far apart, fused activations."""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinyinterp.model import ModelBuilder
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import activations, cases_for, scales, tensor_values, zero_points


@st.composite
def broadcast_pair(draw: st.DrawFn, max_dims: int = 6) -> tuple[tuple[int, ...], tuple[int, ...]]:
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=max_dims, max_side=4))
    return tuple(shapes.input_shapes[0]), tuple(shapes.input_shapes[1])


@cases_for("ADD", ("int8",))
@st.composite
def add_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    shape_a, shape_b = draw(broadcast_pair())
    out_shape = np.broadcast_shapes(shape_a, shape_b)
    scale_a, scale_b = draw(scales(1e-3, 1.0)), draw(scales(1e-3, 1.0))
    output_scale = float(np.float32(max(scale_a, scale_b) * draw(st.floats(0.2, 4.0))))
    assume(output_scale > 0)
    builder = ModelBuilder("tinyinterp.testing case")
    a = builder.input("a", shape_a, dtype, scale=scale_a, zero_point=draw(zero_points(dtype)))
    b = builder.input("b", shape_b, dtype, scale=scale_b, zero_point=draw(zero_points(dtype)))
    y = builder.tensor("output", out_shape, dtype, scale=output_scale, zero_point=draw(zero_points(dtype)))
    builder.op("ADD", [a, b], [y], fused_activation_function=draw(activations()))
    builder.output(y)
    values = (draw(tensor_values(shape_a, dtype)), draw(tensor_values(shape_b, dtype)))
    return OpCase("ADD", dtype, builder.build(), values)
