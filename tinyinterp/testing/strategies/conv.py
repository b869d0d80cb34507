"""Cases for CONV_2D and DEPTHWISE_CONV_2D (int8, 16x8, float32): shapes, strides, dilation, padding,
groups, depth multiplier, per-tensor and per-channel weights, bias types, fused activations."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from tinyinterp.geometry import out_size
from tinyinterp.model import ModelBuilder
from tinyinterp.model.schema import default_options
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import (
    activations,
    biases,
    cases_for,
    effective_multipliers,
    float_weights,
    paddings,
    scales,
    tensor_values,
    typed_biases,
    weights,
    zero_points,
)


@st.composite
def _window(draw: st.DrawFn) -> dict:
    window: dict[str, Any] = {
        "in_h": draw(st.integers(1, 10)),
        "in_w": draw(st.integers(1, 10)),
        "kernel_h": draw(st.integers(1, 4)),
        "kernel_w": draw(st.integers(1, 4)),
        "stride_h": draw(st.integers(1, 3)),
        "stride_w": draw(st.integers(1, 3)),
        "dilation_h": draw(st.sampled_from([1, 1, 2, 3])),
        "dilation_w": draw(st.sampled_from([1, 1, 2, 3])),
        "padding": draw(paddings()),
    }
    window["out_h"] = out_size(
        window["padding"], window["in_h"], window["kernel_h"], window["stride_h"], window["dilation_h"]
    )
    window["out_w"] = out_size(
        window["padding"], window["in_w"], window["kernel_w"], window["stride_w"], window["dilation_w"]
    )
    assume(window["out_h"] >= 1 and window["out_w"] >= 1)
    return window


# Bias dtypes each kernel reads, None for no bias: TFLM's 16x8 conv takes an int32 or int64 bias (or
# the quantized_bias_type option without one), its 16x8 depthwise conv int64 only.
BIAS_DTYPES = {
    ("CONV_2D", "int8"): ("int32",),
    ("CONV_2D", "int16"): ("int32", "int64", None),
    ("DEPTHWISE_CONV_2D", "int8"): ("int32",),
    ("DEPTHWISE_CONV_2D", "int16"): ("int64", None),
}


@st.composite
def quantized_weights(
    draw: st.DrawFn, shape: tuple[int, ...], quantized_dimension: int, input_scale: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """(int8 weights, their per-tensor or per-channel scales, an output scale) for a conv-like op."""
    channels = shape[quantized_dimension]
    scale_count = channels if draw(st.booleans()) else 1
    weight_scales = np.array([draw(scales(1e-3, 0.1)) for _ in range(scale_count)], np.float32)
    output_scale = float(np.float32(input_scale * float(weight_scales[0]) / draw(effective_multipliers())))
    assume(np.isfinite(output_scale) and output_scale > 0)
    return draw(weights(shape)), weight_scales, output_scale


@st.composite
def conv_like_case(
    draw: st.DrawFn,
    opcode: str,
    dtype: str,
    filters_shape: tuple[int, ...],
    quantized_dimension: int,
    in_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    options: dict,
    bias_dtypes: tuple[str | None, ...],
    leading: tuple[np.ndarray, ...] = (),
    weights_first: bool = False,
) -> OpCase:
    """A conv-like op: `leading` constant inputs (TRANSPOSE_CONV's output shape), then the input and
    the weights (or the weights first) and, per `bias_dtypes` (None: no bias), a bias; float32 or
    quantized per `dtype`."""
    channels = filters_shape[quantized_dimension]
    builder = ModelBuilder("tinyinterp.testing case")
    constants = [builder.constant(f"constant{k}", value) for k, value in enumerate(leading)]
    bias_dtype = draw(st.sampled_from(bias_dtypes))
    if dtype == "float32":
        x = builder.input("input", in_shape, dtype)
        w = builder.constant("filters", draw(float_weights(filters_shape)))
        b = None if bias_dtype is None else builder.constant("bias", draw(tensor_values((channels,), dtype)))
        y = builder.tensor("output", out_shape, dtype)
    else:
        input_scale = draw(scales(1e-3, 1.0))
        x = builder.input("input", in_shape, dtype, scale=input_scale, zero_point=draw(zero_points(dtype)))
        values, weight_scales, output_scale = draw(
            quantized_weights(filters_shape, quantized_dimension, input_scale)
        )
        w = builder.constant(
            "filters", values, scale=weight_scales, zero_point=0, quantized_dimension=quantized_dimension
        )
        b = None
        if bias_dtype is not None:
            bias_values = draw(
                biases(channels, dtype) if dtype == "int8" else typed_biases(channels, bias_dtype)
            )
            bias_scales = (np.float32(input_scale) * weight_scales).astype(np.float32)
            b = builder.constant("bias", bias_values, scale=bias_scales, zero_point=0)
        elif "quantized_bias_type" in default_options(opcode):  # picks the accumulator without a bias
            options = {**options, "quantized_bias_type": draw(st.sampled_from(["FLOAT32", "INT32", "INT64"]))}
        y = builder.tensor(
            "output", out_shape, dtype, scale=output_scale, zero_point=draw(zero_points(dtype))
        )
    inputs = [*constants, *((w, x) if weights_first else (x, w)), *([] if b is None else [b])]
    builder.op(opcode, inputs, [y], fused_activation_function=draw(activations()), **options)
    builder.output(y)
    return OpCase(opcode, dtype, builder.build(), (draw(tensor_values(in_shape, dtype)),))


@cases_for("CONV_2D", ("int8", "int16", "float32"))
@st.composite
def conv2d_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    window = draw(_window())
    batch, group_channels = draw(st.integers(1, 2)), draw(st.integers(1, 5))
    groups = draw(st.sampled_from([1, 1, 1, 2, 3]))
    out_channels = groups * draw(st.integers(1, 4))
    in_shape = (batch, window["in_h"], window["in_w"], group_channels * groups)
    out_shape = (batch, window["out_h"], window["out_w"], out_channels)
    filters_shape = (out_channels, window["kernel_h"], window["kernel_w"], group_channels)
    options = {
        "padding": window["padding"],
        "stride_h": window["stride_h"],
        "stride_w": window["stride_w"],
        "dilation_h_factor": window["dilation_h"],
        "dilation_w_factor": window["dilation_w"],
    }
    bias_dtypes = BIAS_DTYPES.get(("CONV_2D", dtype), ("float32", None))
    return draw(conv_like_case("CONV_2D", dtype, filters_shape, 0, in_shape, out_shape, options, bias_dtypes))


DEPTHWISE_CHANNELS = st.integers(1, 8)


@cases_for("DEPTHWISE_CONV_2D", ("int8", "int16", "float32"))
@st.composite
def depthwise_conv2d_cases(
    draw: st.DrawFn, dtype: str = "int8", channels: st.SearchStrategy[int] = DEPTHWISE_CHANNELS
) -> OpCase:
    """`channels`: how many input channels (wider layers take other kernel paths: see
    kernels/depthwise.py)."""
    window = draw(_window())
    batch, in_channels, multiplier = draw(st.integers(1, 2)), draw(channels), draw(st.integers(1, 3))
    in_shape = (batch, window["in_h"], window["in_w"], in_channels)
    out_shape = (batch, window["out_h"], window["out_w"], in_channels * multiplier)
    filters_shape = (1, window["kernel_h"], window["kernel_w"], in_channels * multiplier)
    options = {
        "padding": window["padding"],
        "stride_h": window["stride_h"],
        "stride_w": window["stride_w"],
        "dilation_h_factor": window["dilation_h"],
        "dilation_w_factor": window["dilation_w"],
        "depth_multiplier": multiplier,
    }
    bias_dtypes = BIAS_DTYPES.get(("DEPTHWISE_CONV_2D", dtype), ("float32", None))
    return draw(
        conv_like_case(
            "DEPTHWISE_CONV_2D", dtype, filters_shape, 3, in_shape, out_shape, options, bias_dtypes
        )
    )
