"""Cases for FULLY_CONNECTED: batches, depths, per-tensor and per-channel weights, keep_num_dims."""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from tinyinterp.model import ModelBuilder
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import (
    activations,
    biases,
    cases_for,
    effective_multipliers,
    scales,
    tensor_values,
    weights,
    zero_points,
)


@cases_for("FULLY_CONNECTED", ("int8",))
@st.composite
def fully_connected_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    depth, units = draw(st.integers(1, 64)), draw(st.integers(1, 16))
    leading = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    keep_num_dims = draw(st.booleans())
    in_shape = (*leading, depth)
    rows = int(np.prod(leading))
    out_shape = (*leading, units) if keep_num_dims else (rows, units)
    input_scale, per_channel = draw(scales(1e-3, 1.0)), draw(st.booleans())
    scale_count = units if per_channel else 1
    weight_scales = np.array([draw(scales(1e-3, 0.1)) for _ in range(scale_count)], np.float32)
    output_scale = float(np.float32(input_scale * float(weight_scales[0]) / draw(effective_multipliers())))
    assume(np.isfinite(output_scale) and output_scale > 0)
    builder = ModelBuilder("tinyinterp.testing case")
    x = builder.input("input", in_shape, dtype, scale=input_scale, zero_point=draw(zero_points(dtype)))
    w = builder.constant("weights", draw(weights((units, depth))), scale=weight_scales, zero_point=0)
    inputs = [x, w]
    if draw(st.booleans()):
        bias_scales = (np.float32(input_scale) * weight_scales).astype(np.float32)
        inputs.append(builder.constant("bias", draw(biases(units, dtype)), scale=bias_scales, zero_point=0))
    y = builder.tensor("output", out_shape, dtype, scale=output_scale, zero_point=draw(zero_points(dtype)))
    builder.op(
        "FULLY_CONNECTED",
        inputs,
        [y],
        fused_activation_function=draw(activations()),
        keep_num_dims=keep_num_dims,
    )
    builder.output(y)
    return OpCase("FULLY_CONNECTED", dtype, builder.build(), (draw(tensor_values(in_shape, dtype)),))
