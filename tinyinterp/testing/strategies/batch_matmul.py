"""Cases for BATCH_MATMUL (int8, int16, float32): ranks 2 to 5, broadcast batch dimensions, adj_x and
adj_y, a constant or variable rhs, scales whose ratio is near 1 or tiny, extreme zero points."""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinyinterp.model import ModelBuilder
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import (
    cases_for,
    effective_multipliers,
    scales,
    tensor_values,
    zero_points,
)


@cases_for("BATCH_MATMUL", ("int8", "int16", "float32"))
@st.composite
def batch_matmul_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
    lhs_batch, rhs_batch = batch.input_shapes
    rows, depth, cols = draw(st.integers(1, 8)), draw(st.integers(1, 16)), draw(st.integers(1, 8))
    adj_x, adj_y = draw(st.booleans()), draw(st.booleans())
    lhs_shape = (*lhs_batch, *((depth, rows) if adj_x else (rows, depth)))
    rhs_shape = (*rhs_batch, *((cols, depth) if adj_y else (depth, cols)))
    out_shape = (*batch.result_shape, rows, cols)
    quantization: list[dict] = [{}, {}, {}]
    if dtype != "float32":
        lhs_scale, rhs_scale = draw(scales(1e-3, 1.0)), draw(scales(1e-3, 1.0))
        output_scale = float(np.float32(lhs_scale * rhs_scale / draw(effective_multipliers())))
        assume(np.isfinite(output_scale) and output_scale > 0)
        quantization = [
            {"scale": scale, "zero_point": draw(zero_points(dtype))}
            for scale in (lhs_scale, rhs_scale, output_scale)
        ]
    builder = ModelBuilder("tinyinterp.testing case")
    lhs = builder.input("lhs", lhs_shape, dtype, **quantization[0])
    rhs_values = draw(tensor_values(rhs_shape, dtype))
    constant_rhs = draw(st.booleans())
    if constant_rhs:
        rhs = builder.constant("rhs", rhs_values, **quantization[1])
    else:
        rhs = builder.input("rhs", rhs_shape, dtype, **quantization[1])
    y = builder.tensor("output", out_shape, dtype, **quantization[2])
    builder.op("BATCH_MATMUL", [lhs, rhs], [y], adj_x=adj_x, adj_y=adj_y)
    builder.output(y)
    inputs = (draw(tensor_values(lhs_shape, dtype)),) + (() if constant_rhs else (rhs_values,))
    return OpCase("BATCH_MATMUL", dtype, builder.build(), inputs)
