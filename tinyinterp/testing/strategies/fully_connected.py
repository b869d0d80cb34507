"""Cases for FULLY_CONNECTED (int8, 16x8, float32): batches, depths, per-tensor and per-channel weights,
bias types, keep_num_dims."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from tinyinterp.model import ModelBuilder
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import (
    activations,
    biases,
    cases_for,
    float_weights,
    scales,
    tensor_values,
    typed_biases,
    zero_points,
)
from tinyinterp.testing.strategies.conv import quantized_weights

# Bias dtypes per activation dtype, None for no bias (16x8 then sums as quantized_bias_type says).
BIAS_DTYPES = {"int8": ("int32", None), "int16": ("int32", "int64", None), "float32": ("float32", None)}


@cases_for("FULLY_CONNECTED", ("int8", "int16", "float32"))
@st.composite
def fully_connected_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    depth, units = draw(st.integers(1, 64)), draw(st.integers(1, 16))
    leading = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    keep_num_dims = draw(st.booleans())
    in_shape = (*leading, depth)
    rows = int(np.prod(leading))
    out_shape = (*leading, units) if keep_num_dims else (rows, units)
    bias_dtype = draw(st.sampled_from(BIAS_DTYPES[dtype]))
    options: dict[str, Any] = {
        "fused_activation_function": draw(activations()),
        "keep_num_dims": keep_num_dims,
    }
    builder = ModelBuilder("tinyinterp.testing case")
    if dtype == "float32":
        x = builder.input("input", in_shape, dtype)
        inputs = [x, builder.constant("weights", draw(float_weights((units, depth))))]
        if bias_dtype is not None:
            inputs.append(builder.constant("bias", draw(tensor_values((units,), dtype))))
        y = builder.tensor("output", out_shape, dtype)
    else:
        input_scale = draw(scales(1e-3, 1.0))
        x = builder.input("input", in_shape, dtype, scale=input_scale, zero_point=draw(zero_points(dtype)))
        values, weight_scales, output_scale = draw(quantized_weights((units, depth), 0, input_scale))
        inputs = [x, builder.constant("weights", values, scale=weight_scales, zero_point=0)]
        if bias_dtype is not None:
            bias_scales = (np.float32(input_scale) * weight_scales).astype(np.float32)
            bias = draw(biases(units, dtype) if dtype == "int8" else typed_biases(units, bias_dtype))
            inputs.append(builder.constant("bias", bias, scale=bias_scales, zero_point=0))
        elif dtype == "int16":
            options["quantized_bias_type"] = draw(st.sampled_from(["FLOAT32", "INT32", "INT64"]))
        y = builder.tensor(
            "output", out_shape, dtype, scale=output_scale, zero_point=draw(zero_points(dtype))
        )
    builder.op("FULLY_CONNECTED", inputs, [y], **options)
    builder.output(y)
    return OpCase("FULLY_CONNECTED", dtype, builder.build(), (draw(tensor_values(in_shape, dtype)),))
