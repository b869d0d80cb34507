"""Cases for SVDF (int8 with int8 or int16 time weights and state, float32): batches, memory sizes,
ranks, scales near 1 or tiny, zero points at the extremes, every float activation."""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from tinyinterp.model import ModelBuilder
from tinyinterp.model.schema import ENUMS
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import (
    biases,
    cases_for,
    effective_multipliers,
    float_weights,
    scales,
    tensor_values,
    weights,
    zero_points,
)


@st.composite
def _scale_below(draw: st.DrawFn, product: float) -> float:
    """A scale that makes `product / scale` an effective multiplier worth testing."""
    scale = float(np.float32(product / draw(effective_multipliers())))
    assume(np.isfinite(scale) and scale > 0)
    return scale


@cases_for("SVDF", ("int8", "float32"))
@st.composite
def svdf_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    batch, input_size = draw(st.integers(1, 3)), draw(st.integers(1, 16))
    memory, rank, units = draw(st.integers(1, 8)), draw(st.integers(1, 3)), draw(st.integers(1, 6))
    filters = units * rank
    builder = ModelBuilder("tinyinterp.testing case")
    if dtype == "float32":
        x = builder.input("input", (batch, input_size), dtype)
        feature = builder.constant("feature_weights", draw(float_weights((filters, input_size))))
        time = builder.constant("time_weights", draw(float_weights((filters, memory))))
        bias = builder.constant("bias", draw(tensor_values((units,), dtype)))
        state = builder.tensor("state", (batch, filters * memory), dtype, is_variable=True)
        y = builder.tensor("output", (batch, units), dtype)
        activation = draw(st.sampled_from(ENUMS["ActivationFunctionType"]))
    else:
        state_dtype = draw(st.sampled_from(["int8", "int16"]))
        input_scale, feature_scale = draw(scales(1e-3, 1.0)), draw(scales(1e-3, 0.1))
        state_scale = draw(_scale_below(input_scale * feature_scale))
        time_scale = draw(scales(1e-4, 0.1))
        output_scale = draw(_scale_below(state_scale * time_scale))
        x = builder.input(
            "input", (batch, input_size), dtype, scale=input_scale, zero_point=draw(zero_points(dtype))
        )
        feature = builder.constant(
            "feature_weights", draw(weights((filters, input_size))), scale=feature_scale, zero_point=0
        )
        time_values = draw(
            weights((filters, memory)) if state_dtype == "int8" else tensor_values((filters, memory), "int16")
        )
        time = builder.constant("time_weights", time_values, scale=time_scale, zero_point=0)
        bias_scale = float(np.float32(state_scale) * np.float32(time_scale))
        bias = builder.constant("bias", draw(biases(units, dtype)), scale=bias_scale, zero_point=0)
        state = builder.tensor(
            "state",
            (batch, filters * memory),
            state_dtype,
            scale=state_scale,
            zero_point=draw(zero_points(state_dtype)),
            is_variable=True,
        )
        y = builder.tensor(
            "output", (batch, units), dtype, scale=output_scale, zero_point=draw(zero_points(dtype))
        )
        activation = "NONE"
    builder.op("SVDF", [x, feature, time, bias, state], [y], rank=rank, fused_activation_function=activation)
    builder.output(y)
    return OpCase("SVDF", dtype, builder.build(), (draw(tensor_values((batch, input_size), dtype)),))
