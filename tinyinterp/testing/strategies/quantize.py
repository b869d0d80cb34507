"""Cases for QUANTIZE (the dtype named is the output's; the input is any dtype TFLM converts from to
it) and DEQUANTIZE (the dtype named is the input's): any zero points, float inputs at rounding ties
and beyond int32, int32 inputs at their extremes and near their zero point, rescaling multipliers up
to 2**29.5 (int32 arithmetic wraps around in TFLM's left shift)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinyinterp.errors import TinyInterpError
from tinyinterp.model import ModelBuilder
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import (
    DTYPE_RANGES,
    asymmetric_zero_points,
    cases_for,
    effective_multipliers,
    log_uniform,
    scales,
    tensor_values,
)

QUANTIZED = ("int8", "int16")
# QUANTIZE's input dtypes by output dtype: the pairs TFLM's reference kernel runs (quantize_common.cc),
# uint8 aside. It has no kernel from float32 or int32 to int32.
QUANTIZE_INPUTS = {
    "int8": ("float32", "int8", "int16", "int32"),
    "int16": ("float32", "int8", "int16", "int32"),
    "int32": ("int8", "int16"),
}


def shapes() -> st.SearchStrategy[tuple[int, ...]]:
    return hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=6)


def rounding_ties(shape: tuple[int, ...], scale: float) -> st.SearchStrategy[np.ndarray]:
    """Floats (k + 1/2) * scale: their quotient by the scale is often exactly a tie in float32."""

    def ties(seed: int) -> np.ndarray:
        halves = np.random.default_rng(seed).integers(-300, 300, size=shape) + 0.5
        return (halves * np.float32(scale)).astype(np.float32)

    return st.integers(0, 2**32 - 1).map(ties)


def requantize_multipliers() -> st.SearchStrategy[float]:
    """input_scale / output_scale: `effective_multipliers`, tiny ones (an int32 accumulator rescaled to
    8 or 16 bits), or large ones whose left shift of x wraps around in int32 (below 2**30, which
    tinyinterp refuses)."""
    return st.one_of(effective_multipliers(), log_uniform(2.0**-31, 1e-5), log_uniform(4.0, 2.0**29.5))


def near_zero_point(
    shape: tuple[int, ...], dtype: str, zero_point: int, multiplier: float, output_dtype: str
) -> st.SearchStrategy[np.ndarray]:
    """Integers whose offsets from the zero point rescale into (about twice) the output's range, so
    that not every value clamps; wrapped to `dtype` as C's int32 arithmetic would."""
    low, high = DTYPE_RANGES[output_dtype]
    span = int(min((high - low) / multiplier, 2.0**32))

    def values(seed: int) -> np.ndarray:
        offsets = np.random.default_rng(seed).integers(-span, span + 1, size=shape)
        return (offsets + zero_point).astype(dtype)  # numpy's int64 -> int32 cast wraps around

    return st.integers(0, 2**32 - 1).map(values)


@cases_for("QUANTIZE", tuple(QUANTIZE_INPUTS))
@st.composite
def quantize_cases(draw: st.DrawFn, dtype: str = "int8", input_dtype: str | None = None) -> OpCase:
    """A QUANTIZE to `dtype` from `input_dtype` (any that TFLM converts from when None)."""
    if input_dtype is None:
        input_dtype = draw(st.sampled_from(QUANTIZE_INPUTS[dtype]))
    elif input_dtype not in QUANTIZE_INPUTS[dtype]:
        allowed = " or ".join(QUANTIZE_INPUTS[dtype])
        raise TinyInterpError(f"QUANTIZE to {dtype} takes {allowed}, not {input_dtype}")
    shape = draw(shapes())
    output_scale = draw(scales())
    builder = ModelBuilder("tinyinterp.testing case")
    if input_dtype == "float32":
        x = builder.input("input", shape, input_dtype)
        values = draw(st.one_of(tensor_values(shape, input_dtype), rounding_ties(shape, output_scale)))
    else:
        multiplier = draw(requantize_multipliers())
        input_scale = float(np.float32(output_scale * multiplier))
        zero_point = draw(asymmetric_zero_points(input_dtype))
        x = builder.input("input", shape, input_dtype, scale=input_scale, zero_point=zero_point)
        if draw(st.booleans()):
            values = draw(near_zero_point(shape, input_dtype, zero_point, multiplier, dtype))
        else:
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
