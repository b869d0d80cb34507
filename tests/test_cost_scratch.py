"""Scratch buffers of the shapes the reference models do not reach (tinyinterp/cost/scratch.py), from
CMSIS-NN's arm_*_get_buffer_size (GCC builds) and the wrappers' kernel choice:
- arm_convolve_wrapper_s8 takes the 1x1 paths (no buffer) only for an undilated, unpadded 1x1 filter over all
  input channels; anything else is arm_convolve_s8: 2 * 2 * (columns rounded up to 4) on DSP and plain C,
  4 * (columns rounded up to 16) on MVE;
- arm_depthwise_conv_wrapper_s8 takes the _opt kernel only for a depth multiplier of 1 without dilation, and
  it asks for a buffer only on a DSP core (2 * channels * taps, none for 3x3) or MVE (4 * 124 * taps);
- arm_fully_connected_s8 with more than 2 output dimensions and a depth that is a multiple of 4 runs as a
  1x1 convolution: 8 bytes per unit for its faked per-channel multipliers when the filter is per tensor;
  otherwise 4 bytes of kernel sums per unit on MVE only;
- int4 filters are unpacked by TFLM's reference kernel into a buffer of one byte per weight.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tinyinterp.cost import profiles, scratch
from tinyinterp.model import ModelBuilder
from tinyinterp.model.ir import Operator, Subgraph, TensorType

Q = {"scale": 0.05, "zero_point": 0}
M0, M4, M55 = (profiles.core(name) for name in ("cortex-m0plus", "cortex-m4", "cortex-m55"))


def _one_op(
    opcode: str,
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    y_shape: tuple[int, ...],
    **options: object,
) -> tuple[Subgraph, Operator]:
    b = ModelBuilder()
    x = b.input("x", x_shape, "int8", **Q)
    axis = 3 if opcode == "DEPTHWISE_CONV_2D" else 0
    channels = w_shape[axis] if options.pop("per_channel", True) else 1
    w = b.constant(
        "w", np.ones(w_shape), "int8", scale=[0.01] * channels, zero_point=0, quantized_dimension=axis
    )
    y = b.tensor("y", y_shape, "int8", **Q)
    b.op(opcode, [x, w, -1], [y], **options)
    b.output(y)
    subgraph = b.build().main
    return subgraph, subgraph.operators[0]


def _conv(x_c: int, w_shape: tuple[int, int, int, int], dilation: int = 1) -> tuple[Subgraph, Operator]:
    return _one_op(
        "CONV_2D",
        (1, 6, 6, x_c),
        w_shape,
        (1, 6, 6, w_shape[0]),
        padding="SAME",
        dilation_h_factor=dilation,
        dilation_w_factor=dilation,
    )


def test_a_plain_1x1_convolution_asks_for_nothing() -> None:
    subgraph, op = _conv(8, (4, 1, 1, 8))
    assert scratch.cmsis_conv(M4, subgraph, op) == []
    # Made in memory without its options: the schema's default dilation, 1.
    assert scratch.cmsis_conv(M4, subgraph, replace(op, options={})) == []


@pytest.mark.parametrize(
    ("core", "expected"),
    [(M4, [2 * 2 * 8]), (M0, [2 * 2 * 8]), (M55, [4 * 16])],  # 8 columns: aligned to 4; 16 lanes on MVE
)
def test_a_dilated_1x1_convolution_runs_the_general_kernel(
    core: profiles.CoreProfile, expected: list
) -> None:
    assert scratch.cmsis_conv(core, *_conv(8, (4, 1, 1, 8), dilation=2)) == expected


def test_a_grouped_1x1_convolution_runs_the_general_kernel() -> None:
    # 8 input channels, filters over 2 of them (4 groups): 2 columns, aligned to 4.
    assert scratch.cmsis_conv(M4, *_conv(8, (4, 1, 1, 2))) == [2 * 2 * 4]


def test_a_1x3_convolution_over_5_channels() -> None:
    # 15 columns: 16 aligned to 4 (DSP), 16 lanes (MVE).
    subgraph, op = _conv(5, (4, 1, 3, 5))
    assert scratch.cmsis_conv(M4, subgraph, op) == [2 * 2 * 16]
    assert scratch.cmsis_conv(M55, subgraph, op) == [4 * 16]


def _depthwise(
    in_c: int, k: tuple[int, int], multiplier: int = 1, dilation: int = 1
) -> tuple[Subgraph, Operator]:
    out_c = in_c * multiplier
    return _one_op(
        "DEPTHWISE_CONV_2D",
        (1, 8, 8, in_c),
        (1, *k, out_c),
        (1, 8, 8, out_c),
        padding="SAME",
        depth_multiplier=multiplier,
        dilation_h_factor=dilation,
        dilation_w_factor=dilation,
    )


def test_depthwise_buffers() -> None:
    three_by_five = _depthwise(8, (3, 5))
    assert scratch.cmsis_depthwise(M4, *three_by_five) == [2 * 8 * 3 * 5]
    assert scratch.cmsis_depthwise(M55, *three_by_five) == [4 * 124 * 3 * 5]
    assert scratch.cmsis_depthwise(M0, *three_by_five) == []  # plain C: the _opt path needs none
    assert scratch.cmsis_depthwise(M4, *_depthwise(8, (3, 3))) == []  # arm_depthwise_conv_3x3_s8
    assert scratch.cmsis_depthwise(M55, *_depthwise(8, (3, 3))) == [4 * 124 * 3 * 3]
    # Depth multiplier 2 or dilation: the generic arm_depthwise_conv_s8, no buffer.
    assert scratch.cmsis_depthwise(M4, *_depthwise(4, (3, 5), multiplier=2)) == []
    assert scratch.cmsis_depthwise(M55, *_depthwise(4, (3, 5), multiplier=2)) == []
    assert scratch.cmsis_depthwise(M4, *_depthwise(8, (3, 5), dilation=2)) == []
    assert scratch.cmsis_depthwise(M55, *_depthwise(8, (3, 5), dilation=2)) == []


def _fully_connected(depth: int, per_channel: bool, batched: bool) -> tuple[Subgraph, Operator]:
    shapes = ((1, 5, depth), (1, 5, 6)) if batched else ((5, depth), (5, 6))
    return _one_op(
        "FULLY_CONNECTED", shapes[0], (6, depth), shapes[1], per_channel=per_channel, keep_num_dims=batched
    )


def test_fully_connected_buffers() -> None:
    # 6 units. Three output dimensions and a depth of 8: a 1x1 convolution with faked multipliers.
    assert scratch.cmsis_fully_connected(M4, *_fully_connected(8, False, True)) == [8 * 6]
    assert scratch.cmsis_fully_connected(M55, *_fully_connected(8, False, True)) == [8 * 6]
    assert scratch.cmsis_fully_connected(M4, *_fully_connected(8, True, True)) == []
    # Per channel with 2 units: still real multipliers, no buffer.
    subgraph, op = _one_op("FULLY_CONNECTED", (1, 5, 8), (2, 8), (1, 5, 2), keep_num_dims=True)
    assert scratch.cmsis_fully_connected(M4, subgraph, op) == []
    # A depth of 6, or two output dimensions: arm_fully_connected_s8, kernel sums on MVE.
    for shape in ((6, False, True), (8, False, False)):
        assert scratch.cmsis_fully_connected(M4, *_fully_connected(*shape)) == [], shape
        assert scratch.cmsis_fully_connected(M55, *_fully_connected(*shape)) == [4 * 6], shape


def _int4(subgraph: Subgraph, op: Operator) -> Subgraph:
    w = op.inputs[1]
    tensors = tuple(
        replace(t, dtype=TensorType.INT4) if i == w else t for i, t in enumerate(subgraph.tensors)
    )
    return replace(subgraph, tensors=tensors)


def test_int4_filters_are_unpacked_into_a_buffer() -> None:
    fc, fc_op = _fully_connected(8, False, False)
    assert scratch.cmsis_fully_connected(M55, _int4(fc, fc_op), fc_op) == [6 * 8]
    assert scratch.reference(_int4(fc, fc_op), fc_op) == [6 * 8]
    assert scratch.reference(fc, fc_op) == []
    # Without the bias input: still the filter's buffer.
    no_bias = replace(fc_op, inputs=fc_op.inputs[:2])
    assert scratch.reference(_int4(fc, no_bias), no_bias) == [6 * 8]
    conv, conv_op = _conv(5, (4, 1, 3, 5))
    assert scratch.reference(_int4(conv, conv_op), conv_op) == [4 * 1 * 3 * 5]
    depthwise, depthwise_op = _depthwise(8, (3, 5))
    assert scratch.reference(_int4(depthwise, depthwise_op), depthwise_op) == [1 * 3 * 5 * 8]
