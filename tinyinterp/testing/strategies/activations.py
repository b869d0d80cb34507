"""Cases for LOGISTIC, TANH, RELU, RELU6, LEAKY_RELU, HARD_SWISH, PRELU: every dtype TFLM runs, with
scales at the edges of TFLM's rescalings (saturation radius, power-of-two int16 scales, rounding
ties from power-of-two ratios) and, now and then, quantization TFLM refuses (so must we)."""

from __future__ import annotations

import numba
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinyinterp.model import ModelBuilder
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import (
    CaseStrategy,
    asymmetric_zero_points,
    cases_for,
    effective_multipliers,
    log_uniform,
    scales,
    tensor_values,
    zero_points,
)
from tinyinterp.testing.strategies.elementwise import broadcast_pair
from tinyinterp.testing.strategies.shape import rarely

# Float ops whose results come from the C library (expf, tanhf), not from IEEE arithmetic: equal to
# TFLM's only because both call the same libm function, which tinyinterp cannot guarantee everywhere.
FLOAT_NOT_BIT_EXACT: dict[str, str] = {
    "LOGISTIC": "1 / (1 + expf(-x)): expf is the C library's (numba calls it as TFLM's std::exp does; "
    "numpy's exp differs by an ULP on ~1 value in 6)",
    "TANH": "tanhf is the C library's (numba calls it as TFLM's std::tanh does; numpy's tanh differs "
    "by an ULP on ~1 value in 3)",
}
# ULPs allowed against TFLM for those ops: none while numba calls the C library's functions, one if
# numba has Intel SVML, whose vectorized versions are accurate to 1 ULP but not identical. (numba.config
# sets its options at import time, out of its type hints' sight.)
FLOAT_ULPS = 1 if numba.config.USING_SVML else 0  # type: ignore[attr-defined]

ALL = ("int8", "int16", "float32")


def shapes() -> st.SearchStrategy[tuple[int, ...]]:
    return hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=6)


def rescaling_ratios() -> st.SearchStrategy[float]:
    """input_scale / output_scale: typical and edge ratios, and powers of two, whose requantization
    lands on exact rounding ties (where a wrong rounding shows)."""
    return st.one_of(effective_multipliers(), st.integers(-12, 2).map(lambda e: 2.0**e))


def float_values(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """`tensor_values`, or uniform over [-40, 40] to pass LOGISTIC's cut-offs (-9 and 16.6)."""

    def wide(seed: int) -> np.ndarray:
        return np.random.default_rng(seed).uniform(-40.0, 40.0, size=shape).astype(np.float32)

    return st.one_of(tensor_values(shape, "float32"), st.integers(0, 2**32 - 1).map(wide))


def unary_case(
    draw: st.DrawFn, opcode: str, dtype: str, input_quantization: dict, output_quantization: dict, **options
) -> OpCase:
    shape = draw(shapes())
    builder = ModelBuilder("tinyinterp.testing case")
    x = builder.input("input", shape, dtype, **input_quantization)
    y = builder.tensor("output", shape, dtype, **output_quantization)
    builder.op(opcode, [x], [y], **options)
    builder.output(y)
    values = draw(float_values(shape) if dtype == "float32" else tensor_values(shape, dtype))
    notes = {"float_ulps": FLOAT_ULPS} if dtype == "float32" and opcode in FLOAT_NOT_BIT_EXACT else {}
    return OpCase(opcode, dtype, builder.build(), (values,), notes)


def sigmoid_family_cases(opcode: str) -> CaseStrategy:
    """LOGISTIC or TANH. int8: input scales up to 16 (saturation radius down to 0); TFLM reads the
    output as scale 1/256 zero point -128 (LOGISTIC, which checks the zero point) or 1/128 and 0
    (TANH, which checks nothing). int16: power-of-two input scales (TFLM's exact path) or any, output
    scale 2**-15 and zero points 0, which TFLM requires."""
    exact_scales = [2.0**-12] if opcode == "LOGISTIC" else [2.0**-12, 2.0**-11]
    output_int8 = {"LOGISTIC": (1 / 256, -128), "TANH": (1 / 128, 0)}[opcode]

    @st.composite
    def cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
        if dtype == "float32":
            return unary_case(draw, opcode, dtype, {}, {})
        if dtype == "int8":
            input_q = {"scale": draw(scales(1e-4, 16.0)), "zero_point": draw(zero_points(dtype))}
            output_scale = draw(scales()) if rarely(draw) else output_int8[0]
            output_zero = draw(asymmetric_zero_points(dtype)) if rarely(draw) else output_int8[1]
            output_q = {"scale": output_scale, "zero_point": output_zero}
            return unary_case(draw, opcode, dtype, input_q, output_q)
        input_scale = draw(st.one_of(st.sampled_from(exact_scales), scales(1e-5, 2.6)))
        input_zero = draw(asymmetric_zero_points(dtype)) if rarely(draw) else 0
        input_q = {"scale": input_scale, "zero_point": input_zero}
        output_scale = draw(scales()) if rarely(draw) else 2.0**-15
        return unary_case(draw, opcode, dtype, input_q, {"scale": output_scale, "zero_point": 0})

    return cases


logistic_cases = cases_for("LOGISTIC", ALL)(sigmoid_family_cases("LOGISTIC"))
tanh_cases = cases_for("TANH", ALL)(sigmoid_family_cases("TANH"))


@cases_for("RELU", ALL)
@st.composite
def relu_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    """Quantized: int16 zero points are 0 (TFLM refuses others, now and then drawn)."""
    if dtype == "float32":
        return unary_case(draw, "RELU", dtype, {}, {})
    input_scale = draw(scales())
    output_scale = float(np.float32(input_scale / draw(rescaling_ratios())))
    zeros = asymmetric_zero_points(dtype) if rarely(draw) else zero_points(dtype)
    input_q = {"scale": input_scale, "zero_point": draw(zeros)}
    return unary_case(draw, "RELU", dtype, input_q, {"scale": output_scale, "zero_point": draw(zeros)})


@cases_for("RELU6", ALL)
@st.composite
def relu6_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    """Quantized: TFLM uses the input's quantization only (any zero point); the output's is random."""
    if dtype == "float32":
        return unary_case(draw, "RELU6", dtype, {}, {})
    input_q = {"scale": draw(scales(1e-4, 0.5)), "zero_point": draw(asymmetric_zero_points(dtype))}
    output_q = {"scale": draw(scales()), "zero_point": draw(asymmetric_zero_points(dtype))}
    return unary_case(draw, "RELU6", dtype, input_q, output_q)


@cases_for("LEAKY_RELU", ALL)
@st.composite
def leaky_relu_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    """alpha negative, 0, in (0, 1) or above 1; quantized with any zero points."""
    alpha = draw(st.one_of(st.sampled_from([0.0, 0.2, 1.0, -1.0]), st.floats(-3.0, 3.0, width=32)))
    if dtype == "float32":
        return unary_case(draw, "LEAKY_RELU", dtype, {}, {}, alpha=alpha)
    input_scale = draw(scales())
    output_scale = float(np.float32(input_scale / draw(rescaling_ratios())))
    input_q = {"scale": input_scale, "zero_point": draw(asymmetric_zero_points(dtype))}
    output_q = {"scale": output_scale, "zero_point": draw(asymmetric_zero_points(dtype))}
    return unary_case(draw, "LEAKY_RELU", dtype, input_q, output_q, alpha=alpha)


@cases_for("HARD_SWISH", ("int8", "float32"))
@st.composite
def hard_swish_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    """output_scale / input_scale from 2**-8 (below 1/128 TFLM refuses) to 2**12 (output shifts of 16
    bits and more, where gemmlowp's int16 rounding shift degenerates, as TFLM runs it)."""
    if dtype == "float32":
        return unary_case(draw, "HARD_SWISH", dtype, {}, {})
    input_scale = draw(scales(1e-4, 1.0))
    output_scale = float(np.float32(input_scale * draw(log_uniform(2.0**-8, 2.0**12))))
    input_q = {"scale": input_scale, "zero_point": draw(zero_points(dtype))}
    return unary_case(
        draw, "HARD_SWISH", dtype, input_q, {"scale": output_scale, "zero_point": draw(zero_points(dtype))}
    )


@cases_for("PRELU", ALL)
@st.composite
def prelu_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    """alpha broadcast against the input (rank <= 4 in float32, TFLM's limit, else 6), a constant or a
    second model input; int8 alphas for int16 inputs, as TFLM requires."""
    shape, alpha_shape = draw(broadcast_pair(max_dims=4 if dtype == "float32" else 6))
    alpha_dtype = "float32" if dtype == "float32" else "int8"
    alpha_values = draw(tensor_values(alpha_shape, alpha_dtype))
    quantization: list[dict] = [{}, {}, {}]
    if dtype != "float32":
        input_scale, alpha_scale = draw(scales()), draw(scales(1e-3, 0.1))
        output_scale = float(np.float32(input_scale / draw(rescaling_ratios())))
        dtypes = (dtype, alpha_dtype, dtype)
        quantization = [
            {"scale": s, "zero_point": draw(asymmetric_zero_points(d))}
            for s, d in zip((input_scale, alpha_scale, output_scale), dtypes)
        ]
    builder = ModelBuilder("tinyinterp.testing case")
    x = builder.input("input", shape, dtype, **quantization[0])
    constant_alpha = draw(st.booleans())
    if constant_alpha:
        alpha = builder.constant("alpha", alpha_values, alpha_dtype, **quantization[1])
    else:
        alpha = builder.input("alpha", alpha_shape, alpha_dtype, **quantization[1])
    y = builder.tensor("output", np.broadcast_shapes(shape, alpha_shape), dtype, **quantization[2])
    builder.op("PRELU", [x, alpha], [y])
    builder.output(y)
    values = (draw(tensor_values(shape, dtype)),) + (() if constant_alpha else (alpha_values,))
    return OpCase("PRELU", dtype, builder.build(), values)
