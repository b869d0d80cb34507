"""Cases for CONV_2D and DEPTHWISE_CONV_2D: shapes, strides, dilation, padding, groups, depth
multiplier, per-tensor and per-channel weights, fused activations."""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from tinyinterp.model import ModelBuilder
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import (
    activations,
    biases,
    cases_for,
    effective_multipliers,
    paddings,
    scales,
    tensor_values,
    weights,
    zero_points,
)


def out_size(padding: str, size: int, kernel: int, stride: int, dilation: int) -> int:
    effective = (kernel - 1) * dilation + 1
    return (size + stride - 1) // stride if padding == "SAME" else (size + stride - effective) // stride


@st.composite
def _window(draw: st.DrawFn) -> dict:
    window = {
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


@st.composite
def _quantized_conv(
    draw: st.DrawFn,
    opcode: str,
    dtype: str,
    filters_shape: tuple[int, ...],
    quantized_dimension: int,
    in_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
    options: dict,
) -> OpCase:
    channels = filters_shape[quantized_dimension]
    input_scale, input_zero_point = draw(scales(1e-3, 1.0)), draw(zero_points(dtype))
    per_channel = draw(st.booleans())
    scale_count = channels if per_channel else 1
    weight_scales = np.array([draw(scales(1e-3, 0.1)) for _ in range(scale_count)], np.float32)
    output_scale = float(np.float32(input_scale * float(weight_scales[0]) / draw(effective_multipliers())))
    assume(np.isfinite(output_scale) and output_scale > 0)
    builder = ModelBuilder("tinyinterp.testing case")
    x = builder.input("input", in_shape, dtype, scale=input_scale, zero_point=input_zero_point)
    w = builder.constant(
        "filters",
        draw(weights(filters_shape)),
        scale=weight_scales,
        zero_point=0,
        quantized_dimension=quantized_dimension,
    )
    bias_scales = (np.float32(input_scale) * weight_scales).astype(np.float32)
    b = builder.constant("bias", draw(biases(channels, dtype)), scale=bias_scales, zero_point=0)
    y = builder.tensor("output", out_shape, dtype, scale=output_scale, zero_point=draw(zero_points(dtype)))
    builder.op(opcode, [x, w, b], [y], fused_activation_function=draw(activations()), **options)
    builder.output(y)
    return OpCase(opcode, dtype, builder.build(), (draw(tensor_values(in_shape, dtype)),))


@cases_for("CONV_2D", ("int8",))
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
    return draw(_quantized_conv("CONV_2D", dtype, filters_shape, 0, in_shape, out_shape, options))


@cases_for("DEPTHWISE_CONV_2D", ("int8",))
@st.composite
def depthwise_conv2d_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    window = draw(_window())
    batch, in_channels, multiplier = draw(st.integers(1, 2)), draw(st.integers(1, 8)), draw(st.integers(1, 3))
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
    return draw(_quantized_conv("DEPTHWISE_CONV_2D", dtype, filters_shape, 3, in_shape, out_shape, options))
