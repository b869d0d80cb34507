"""Cases for ADD (int8, int16, float32): broadcast shapes (up to rank 6), scales far apart or powers of
two, fused activations, pot_scale_int16."""

from __future__ import annotations

from typing import Any

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


@cases_for("ADD", ("int8", "int16", "float32"))
@st.composite
def add_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    shape_a, shape_b = draw(broadcast_pair())
    out_shape = np.broadcast_shapes(shape_a, shape_b)
    quantization: list[dict] = [{}, {}, {}]
    options: dict[str, Any] = {"fused_activation_function": draw(activations())}
    if dtype != "float32":
        # Power-of-two scales too: TFLM ignores pot_scale_int16 (its POT kernel would round differently).
        input_scales = st.one_of(scales(1e-3, 1.0), st.integers(-10, 0).map(lambda e: 2.0**e))
        scale_a, scale_b = draw(input_scales), draw(input_scales)
        output_scale = float(np.float32(max(scale_a, scale_b) * draw(st.floats(0.2, 4.0))))
        assume(output_scale > 0)
        quantization = [
            {"scale": scale, "zero_point": draw(zero_points(dtype))}
            for scale in (scale_a, scale_b, output_scale)
        ]
    builder = ModelBuilder("tinyinterp.testing case")
    a = builder.input("a", shape_a, dtype, **quantization[0])
    b = builder.input("b", shape_b, dtype, **quantization[1])
    y = builder.tensor("output", out_shape, dtype, **quantization[2])
    if dtype == "int16":
        options["pot_scale_int16"] = draw(st.booleans())
    builder.op("ADD", [a, b], [y], **options)
    builder.output(y)
    values = (draw(tensor_values(shape_a, dtype)), draw(tensor_values(shape_b, dtype)))
    return OpCase("ADD", dtype, builder.build(), values)
