"""Cases for AVERAGE_POOL_2D (int8, int16, float32): windows larger or smaller than the input, strides,
padding."""

from __future__ import annotations

from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from tinyinterp.geometry import out_size
from tinyinterp.model import ModelBuilder
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import (
    activations,
    cases_for,
    paddings,
    scales,
    tensor_values,
    zero_points,
)


@cases_for("AVERAGE_POOL_2D", ("int8", "int16", "float32"))
@st.composite
def average_pool2d_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    batch, in_h, in_w, channels = (
        draw(st.integers(1, 2)),
        draw(st.integers(1, 10)),
        draw(st.integers(1, 10)),
        draw(st.integers(1, 6)),
    )
    filter_h, filter_w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    stride_h, stride_w, padding = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(paddings())
    out_h, out_w = (
        out_size(padding, in_h, filter_h, stride_h, 1),
        out_size(padding, in_w, filter_w, stride_w, 1),
    )
    assume(out_h >= 1 and out_w >= 1)
    quantization: dict[str, Any] = {}
    if dtype != "float32":  # pooling does not rescale: input and output share it
        quantization = {"scale": draw(scales(1e-3, 1.0)), "zero_point": draw(zero_points(dtype))}
    builder = ModelBuilder("tinyinterp.testing case")
    x = builder.input("input", (batch, in_h, in_w, channels), dtype, **quantization)
    y = builder.tensor("output", (batch, out_h, out_w, channels), dtype, **quantization)
    builder.op(
        "AVERAGE_POOL_2D",
        [x],
        [y],
        padding=padding,
        stride_h=stride_h,
        stride_w=stride_w,
        filter_height=filter_h,
        filter_width=filter_w,
        fused_activation_function=draw(activations()),
    )
    builder.output(y)
    return OpCase(
        "AVERAGE_POOL_2D",
        dtype,
        builder.build(),
        (draw(tensor_values((batch, in_h, in_w, channels), dtype)),),
    )
