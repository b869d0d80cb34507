"""Cases for MUL, SUB, MAXIMUM, MINIMUM: broadcast shapes (up to rank 6), every dtype TFLM runs.

Quantized scales keep TFLM inside its checked preconditions (SUB aborts the process, not just the
model, on a rescaling multiplier of 1 or more), and a few int16 MULs with non-zero zero points check
that we refuse what TFLM refuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from tinyinterp.model import ModelBuilder
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import (
    CaseStrategy,
    activations,
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

DTYPES = ("int8", "int16", "float32")
# SUB's output multiplier 2 * max_input_scale / (2**headroom * output_scale) must stay below 1.
SUB_MIN_OUTPUT_SCALE_RATIO = {"int8": 2.0**-18, "int16": 2.0**-13}


def binary_case(
    draw: st.DrawFn,
    opcode: str,
    dtype: str,
    quantization: Sequence[dict[str, Any]],
    **options: Any,
) -> OpCase:
    """One op on two broadcastable inputs, with (scale, zero_point) keywords for a, b and the output."""
    shape_a, shape_b = draw(broadcast_pair())
    builder = ModelBuilder("tinyinterp.testing case")
    a = builder.input("a", shape_a, dtype, **quantization[0])
    b = builder.input("b", shape_b, dtype, **quantization[1])
    y = builder.tensor("output", np.broadcast_shapes(shape_a, shape_b), dtype, **quantization[2])
    builder.op(opcode, [a, b], [y], **options)
    builder.output(y)
    values = (draw(tensor_values(shape_a, dtype)), draw(tensor_values(shape_b, dtype)))
    return OpCase(opcode, dtype, builder.build(), values)


@cases_for("MUL", DTYPES)
@st.composite
def mul_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    quantization: tuple[dict[str, Any], ...] = ({}, {}, {})
    if dtype != "float32":
        # int16: zero points 0, except now and then, where both TFLM and we must refuse the model.
        zeros = asymmetric_zero_points(dtype) if rarely(draw) else zero_points(dtype)
        scale_a, scale_b = draw(scales(1e-3, 1.0)), draw(scales(1e-3, 1.0))
        output_scale = float(np.float32(scale_a * scale_b / draw(effective_multipliers())))
        quantization = tuple(
            {"scale": scale, "zero_point": draw(zeros)} for scale in (scale_a, scale_b, output_scale)
        )
    return binary_case(draw, "MUL", dtype, quantization, fused_activation_function=draw(activations()))


@cases_for("SUB", DTYPES)
@st.composite
def sub_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    quantization: tuple[dict[str, Any], ...] = ({}, {}, {})
    if dtype != "float32":
        scale_a, scale_b = draw(scales(1e-3, 1.0)), draw(scales(1e-3, 1.0))
        ratio = draw(log_uniform(SUB_MIN_OUTPUT_SCALE_RATIO[dtype], 8.0))
        output_scale = float(np.float32(max(scale_a, scale_b) * ratio))
        quantization = tuple(
            {"scale": scale, "zero_point": draw(asymmetric_zero_points(dtype))}
            for scale in (scale_a, scale_b, output_scale)
        )
    return binary_case(draw, "SUB", dtype, quantization, fused_activation_function=draw(activations()))


def select_cases(opcode: str) -> CaseStrategy:
    """MAXIMUM or MINIMUM. TFLM ignores quantization there: each tensor gets its own, to show it."""

    @st.composite
    def cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
        quantization: tuple[dict[str, Any], ...] = ({}, {}, {})
        if dtype != "float32":
            quantization = tuple(
                {"scale": draw(scales()), "zero_point": draw(asymmetric_zero_points(dtype))} for _ in range(3)
            )
        return binary_case(draw, opcode, dtype, quantization)

    return cases


maximum_cases = cases_for("MAXIMUM", DTYPES)(select_cases("MAXIMUM"))
minimum_cases = cases_for("MINIMUM", DTYPES)(select_cases("MINIMUM"))
