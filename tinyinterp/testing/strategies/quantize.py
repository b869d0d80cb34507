"""Cases for QUANTIZE (float32, int8 or int16 in; the dtype named is the output's) and DEQUANTIZE
(the dtype named is the input's): any zero points, float inputs at rounding ties and beyond int32."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinyinterp.model import ModelBuilder
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import (
    asymmetric_zero_points,
    cases_for,
    effective_multipliers,
    scales,
    tensor_values,
)

QUANTIZED = ("int8", "int16")


def shapes() -> st.SearchStrategy[tuple[int, ...]]:
    return hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=6)


def rounding_ties(shape: tuple[int, ...], scale: float) -> st.SearchStrategy[np.ndarray]:
    """Floats (k + 1/2) * scale: their quotient by the scale is often exactly a tie in float32."""

    def ties(seed: int) -> np.ndarray:
        halves = np.random.default_rng(seed).integers(-300, 300, size=shape) + 0.5
        return (halves * np.float32(scale)).astype(np.float32)

    return st.integers(0, 2**32 - 1).map(ties)


@cases_for("QUANTIZE", QUANTIZED)
@st.composite
def quantize_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    shape = draw(shapes())
    input_dtype = draw(st.sampled_from(("float32", *QUANTIZED)))
    output_scale = draw(scales())
    builder = ModelBuilder("tinyinterp.testing case")
    if input_dtype == "float32":
        x = builder.input("input", shape, input_dtype)
        values = draw(st.one_of(tensor_values(shape, input_dtype), rounding_ties(shape, output_scale)))
    else:
        input_scale = float(np.float32(output_scale * draw(effective_multipliers())))
        zero_point = draw(asymmetric_zero_points(input_dtype))
        x = builder.input("input", shape, input_dtype, scale=input_scale, zero_point=zero_point)
        values = draw(tensor_values(shape, input_dtype))
    y = builder.tensor(
        "output", shape, dtype, scale=output_scale, zero_point=draw(asymmetric_zero_points(dtype))
    )
    builder.op("QUANTIZE", [x], [y])
    builder.output(y)
    return OpCase("QUANTIZE", dtype, builder.build(), (values,))


@cases_for("DEQUANTIZE", QUANTIZED)
@st.composite
def dequantize_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    shape = draw(shapes())
    builder = ModelBuilder("tinyinterp.testing case")
    x = builder.input(
        "input", shape, dtype, scale=draw(scales(1e-6, 1e3)), zero_point=draw(asymmetric_zero_points(dtype))
    )
    y = builder.tensor("output", shape, "float32")
    builder.op("DEQUANTIZE", [x], [y])
    builder.output(y)
    return OpCase("DEQUANTIZE", dtype, builder.build(), (draw(tensor_values(shape, dtype)),))
