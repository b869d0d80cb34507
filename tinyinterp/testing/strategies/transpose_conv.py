"""Cases for TRANSPOSE_CONV (int8, 16x8, float32): every output size TFLite's shape inference allows for
the input, strides, padding, per-tensor and per-channel weights, bias types, fused activations."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import cases_for, paddings
from tinyinterp.testing.strategies.conv import conv_like_case

BIAS_DTYPES = {"int8": ("int32", None), "int16": ("int16", "int64", None), "float32": ("float32", None)}


def output_sizes(padding: str, size: int, kernel: int, stride: int) -> st.SearchStrategy[int]:
    """Output sizes whose convolution (the op's adjoint) has `size` outputs."""
    if padding == "SAME":
        return st.integers((size - 1) * stride + 1, size * stride)
    return st.integers((size - 1) * stride + kernel, (size - 1) * stride + kernel + stride - 1)


@cases_for("TRANSPOSE_CONV", ("int8", "int16", "float32"))
@st.composite
def transpose_conv_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    batch, in_h, in_w = draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    in_channels, out_channels = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    kernel_h, kernel_w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride_h, stride_w, padding = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(paddings())
    out_h = draw(output_sizes(padding, in_h, kernel_h, stride_h))
    out_w = draw(output_sizes(padding, in_w, kernel_w, stride_w))
    out_shape = (batch, out_h, out_w, out_channels)
    options = {"padding": padding, "stride_h": stride_h, "stride_w": stride_w}
    return draw(
        conv_like_case(
            "TRANSPOSE_CONV",
            dtype,
            (out_channels, kernel_h, kernel_w, in_channels),
            0,
            (batch, in_h, in_w, in_channels),
            out_shape,
            options,
            BIAS_DTYPES[dtype],
            leading=(np.array(out_shape, np.int32),),
            weights_first=True,
        )
    )
