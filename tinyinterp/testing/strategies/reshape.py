"""Cases for RESHAPE and SOFTMAX."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from tinyinterp.model import ModelBuilder
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import cases_for, scales, tensor_values, zero_points


@cases_for("RESHAPE", ("int8", "int16", "float32"))
@st.composite
def reshape_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    in_shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    size = int(np.prod(in_shape))
    split = draw(st.sampled_from([d for d in range(1, size + 1) if size % d == 0]))
    out_shape = (split, size // split)
    quantization: dict[str, Any] = {}
    if dtype != "float32":
        quantization = {"scale": draw(scales(1e-3, 1.0)), "zero_point": draw(zero_points(dtype))}
    builder = ModelBuilder("tinyinterp.testing case")
    x = builder.input("input", in_shape, dtype, **quantization)
    shape = builder.constant("shape", np.array(out_shape, np.int32))
    y = builder.tensor("output", out_shape, dtype, **quantization)
    builder.op("RESHAPE", [x, shape], [y])
    builder.output(y)
    return OpCase("RESHAPE", dtype, builder.build(), (draw(tensor_values(in_shape, dtype)),))


# Input dtype -> output dtype and its fixed (scale, zero point); int8 may also go to int16.
SOFTMAX_OUTPUTS = {
    "int8": (("int8", 1.0 / 256, -128), ("int16", 1.0 / 65536, -32768)),
    "int16": (("int16", 1.0 / 32768, 0),),
    "float32": (("float32", None, None),),
}


@cases_for("SOFTMAX", ("int8", "int16", "float32"))
@st.composite
def softmax_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    """int8 in with int8 or int16 out, int16, float32; beta and input scales from tiny to large."""
    shape = tuple(draw(st.lists(st.integers(1, 12), min_size=1, max_size=3)))
    out_dtype, out_scale, out_zero_point = draw(st.sampled_from(SOFTMAX_OUTPUTS[dtype]))
    input_quantization: dict[str, Any] = {}
    if dtype != "float32":
        input_quantization = {"scale": draw(scales(1e-4, 2.0)), "zero_point": draw(zero_points(dtype))}
    builder = ModelBuilder("tinyinterp.testing case")
    x = builder.input("input", shape, dtype, **input_quantization)
    y = builder.tensor("output", shape, out_dtype, scale=out_scale, zero_point=out_zero_point)
    builder.op("SOFTMAX", [x], [y], beta=draw(st.sampled_from([1.0, 0.5, 2.0, 0.1, 10.0])))
    builder.output(y)
    return OpCase("SOFTMAX", dtype, builder.build(), (draw(tensor_values(shape, dtype)),))
