"""Cases for MAX_POOL_2D (int8, int16, float32): windows larger or smaller than the input, strides,
padding, fused activations; output scales a hair from the input's (TFLM accepts 1e-6) and other
zero points (which TFLM refuses)."""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from tinyinterp.geometry import out_size
from tinyinterp.model import ModelBuilder
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import activations, cases_for, paddings, quantization, tensor_values
from tinyinterp.testing.strategies.shape import DTYPES, rarely


def _output_quantization(draw: st.DrawFn, input_quant: dict) -> dict:
    if not input_quant or not rarely(draw):
        return input_quant
    if draw(st.booleans()):
        return {
            **input_quant,
            "scale": float(np.float32(input_quant["scale"] + draw(st.floats(-9e-7, 9e-7)))),
        }
    return {**input_quant, "zero_point": input_quant["zero_point"] ^ 1}


@cases_for("MAX_POOL_2D", DTYPES)
@st.composite
def max_pool2d_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    shape = (
        draw(st.integers(1, 2)),
        draw(st.integers(1, 10)),
        draw(st.integers(1, 10)),
        draw(st.integers(1, 6)),
    )
    filter_h, filter_w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    stride_h, stride_w, padding = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(paddings())
    out_h, out_w = (
        out_size(padding, shape[1], filter_h, stride_h, 1),
        out_size(padding, shape[2], filter_w, stride_w, 1),
    )
    assume(out_h >= 1 and out_w >= 1)
    input_quant = draw(quantization(dtype))
    builder = ModelBuilder("tinyinterp.testing case")
    x = builder.input("input", shape, dtype, **input_quant)
    y = builder.tensor(
        "output", (shape[0], out_h, out_w, shape[3]), dtype, **_output_quantization(draw, input_quant)
    )
    options = {
        "stride_h": stride_h,
        "stride_w": stride_w,
        "filter_height": filter_h,
        "filter_width": filter_w,
    }
    builder.op(
        "MAX_POOL_2D", [x], [y], padding=padding, fused_activation_function=draw(activations()), **options
    )
    builder.output(y)
    return OpCase("MAX_POOL_2D", dtype, builder.build(), (draw(tensor_values(shape, dtype)),))
