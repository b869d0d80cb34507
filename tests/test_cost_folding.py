"""Constant channels and the work a folding compiler skips (tinyinterp/cost/folding.py), on small graphs whose
live fractions are counted by hand from their filters."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tinyinterp.cost.folding import Live, live_work
from tinyinterp.model import ModelBuilder
from tinyinterp.model.ir import Subgraph

Q = {"scale": 0.05, "zero_point": 0}


def _filters(b: ModelBuilder, name: str, values: np.ndarray, axis: int = 0) -> int:
    channels = values.shape[axis]
    return b.constant(name, values, "int8", scale=[0.01] * channels, zero_point=0, quantized_dimension=axis)


def _pointwise(
    b: ModelBuilder, x: int, name: str, nonzero: list[list[int]], in_c: int = 4, size: int = 4
) -> int:
    """A 1x1 conv over `size` x `size` pixels whose filter `o` is 1 on the input channels nonzero[o], 0
    elsewhere."""
    w = np.zeros((len(nonzero), 1, 1, in_c), np.int8)
    for o, channels in enumerate(nonzero):
        w[o, 0, 0, channels] = 1
    y = b.tensor(name, (1, size, size, len(nonzero)), "int8", **Q)
    b.op("CONV_2D", [x, _filters(b, f"{name}_w", w), -1], [y], padding="VALID", stride_w=1, stride_h=1)
    return y


def _depthwise(b: ModelBuilder, x: int, name: str, zero: list[int], padding: str) -> int:
    """A 3x3 depthwise conv over 6x6 pixels of 5 channels whose filters on the channels `zero` are all 0."""
    w = np.ones((1, 3, 3, 5), np.int8)
    w[..., zero] = 0
    size = 4 if padding == "VALID" else 6
    y = b.tensor(name, (1, size, size, 5), "int8", **Q)
    bias = b.constant(f"{name}_b", np.zeros(5), "int32", scale=[0.0005] * 5, zero_point=0)
    b.op(
        "DEPTHWISE_CONV_2D",
        [x, _filters(b, f"{name}_w", w, axis=3), bias],
        [y],
        padding=padding,
        stride_w=1,
        stride_h=1,
        depth_multiplier=1,
    )
    return y


def _chain(padding: str) -> Subgraph:
    """6x6 pixels throughout.
    op 0: conv, filters 0 and 2 all zero -> its output channels 0 and 2 are constant;
    op 1: RELU passes them on (same channels);
    op 2: conv, filters 0 and 4 read only the constant channels 0 and 2, filter 3 is all zero (3 constant
    outputs), filters 1 and 2 read channel 1 or all: 2 of 5 outputs live, and half of their inputs constant;
    op 3: depthwise, channel 1's filter all zero; channels 0, 3 and 4 constant on its input;
    op 4: RELU;
    op 5: conv, filter 0 reads channel 0, filter 1 channel 2."""
    b = ModelBuilder()
    x = b.input("x", (1, 6, 6, 4), "int8", **Q)
    first = _pointwise(b, x, "first", [[], [0, 1], [], [3]], size=6)
    relu = b.tensor("relu", (1, 6, 6, 4), "int8", **Q)
    b.op("RELU", [first], [relu])
    second = _pointwise(b, relu, "second", [[0, 2], [1], [0, 1, 2, 3], [], [2]], size=6)
    third = _depthwise(b, second, "third", [1], padding)
    size = 4 if padding == "VALID" else 6
    relu2 = b.tensor("relu2", (1, size, size, 5), "int8", **Q)
    b.op("RELU", [third], [relu2])
    b.output(_pointwise(b, relu2, "fourth", [[0], [2]], in_c=5, size=size))
    return b.build().main


def test_constant_channels_flow_through_the_graph() -> None:
    live = live_work(_chain("VALID"))
    assert set(live) == {0, 2, 3, 5}  # the RELUs have no MACs of their own
    assert live[0] == Live(macs=0.5, outputs=0.5)
    assert live[2] == Live(macs=pytest.approx(2 / 5 * 0.5), outputs=pytest.approx(2 / 5))
    # VALID: channels 0, 3, 4 (constant input) and 1 (zero filter) are dead, channel 2 lives.
    assert live[3] == Live(macs=pytest.approx(1 / 5), outputs=pytest.approx(1 / 5))
    # Filter 0 reads a dead channel: half the outputs live, on the one live input channel of 5.
    assert live[5] == Live(macs=pytest.approx(0.5 * 1 / 5), outputs=pytest.approx(0.5))


def test_a_padded_depthwise_channel_with_a_constant_input_stays_live() -> None:
    # SAME: the border sees the padding value, so channels 0, 3 and 4 vary; only the zero filter folds.
    live = live_work(_chain("SAME"))
    assert live[3] == Live(macs=pytest.approx(4 / 5), outputs=pytest.approx(4 / 5))
    assert live[5] == Live(macs=pytest.approx(4 / 5), outputs=1.0)
    # A depthwise made in memory without its options: the schema's default padding, SAME.
    subgraph = _chain("VALID")
    operators = tuple(replace(op, options={}) if op.index == 3 else op for op in subgraph.operators)
    assert live_work(replace(subgraph, operators=operators))[3] == live[3]


def test_a_single_input_channel_folds_like_any_other() -> None:
    # A conv over 1 channel with 1 of its 4 filters all zero: 3 of 4 outputs live.
    b = ModelBuilder()
    x = b.input("x", (1, 4, 4, 1), "int8", **Q)
    b.output(_pointwise(b, x, "conv", [[0], [], [0], [0]], in_c=1))
    assert live_work(b.build().main)[0] == Live(macs=0.75, outputs=0.75)


def test_a_scalar_output_takes_no_constant_channels() -> None:
    # A conv with one all-zero filter, reshaped to a scalar: nothing to pass on, nothing fails.
    b = ModelBuilder()
    x = b.input("x", (1, 1, 1, 4), "int8", **Q)
    conv = _pointwise(b, x, "conv", [[]], size=1)
    scalar = b.tensor("scalar", (), "int8", **Q)
    b.op("RESHAPE", [conv], [scalar])
    b.output(scalar)
    assert live_work(b.build().main) == {0: Live(0.0, 0.0)}


def test_a_reshape_that_changes_the_channels_drops_them() -> None:
    """conv (filters 0 and 2 zero) -> RESHAPE to 64 values -> FULLY_CONNECTED: the 64 values are not the 4
    channels, so nothing of the FC folds; a RESHAPE that keeps 4 channels passes them on."""
    for shape, fc_macs in (((1, 64), 1.0), ((16, 4), 0.5)):
        b = ModelBuilder()
        x = b.input("x", (1, 4, 4, 4), "int8", **Q)
        conv = _pointwise(b, x, "conv", [[], [0, 1], [], [3]])
        flat = b.tensor("flat", shape, "int8", **Q)
        b.op("RESHAPE", [conv], [flat])
        w = np.ones((2, shape[-1]), np.int8)
        y = b.tensor("y", (shape[0], 2), "int8", **Q)
        b.op("FULLY_CONNECTED", [flat, _filters(b, "fc_w", w), -1], [y])
        b.output(y)
        live = live_work(b.build().main)
        assert live[2] == Live(macs=fc_macs, outputs=1.0), shape


def test_an_op_without_channels_to_keep_stops_them() -> None:
    # TANH does not keep constant channels constant (in general): the conv after it folds nothing.
    b = ModelBuilder()
    x = b.input("x", (1, 4, 4, 4), "int8", **Q)
    conv = _pointwise(b, x, "conv", [[], [0, 1], [], [3]])
    tanh = b.tensor("tanh", (1, 4, 4, 4), "int8", scale=1 / 128, zero_point=0)
    b.op("TANH", [conv], [tanh])
    b.output(_pointwise(b, tanh, "after", [[0], [1]]))
    assert live_work(b.build().main)[2] == Live(1.0, 1.0)


def test_weights_that_are_not_constant_fold_nothing() -> None:
    b = ModelBuilder()
    x = b.input("x", (1, 8), "int8", **Q)
    w = b.input("w", (2, 8), "int8", **Q)
    y = b.tensor("y", (1, 2), "int8", **Q)
    b.op("FULLY_CONNECTED", [x, w, -1], [y])
    b.output(y)
    assert live_work(b.build().main) == {0: Live(1.0, 1.0)}


def test_a_grouped_convolution_folds_nothing() -> None:
    # 4 input channels in 2 groups of 2: filters (4, 1, 1, 2), of which 2 are all zero; not folded.
    b = ModelBuilder()
    x = b.input("x", (1, 4, 4, 4), "int8", **Q)
    w = np.zeros((4, 1, 1, 2), np.int8)
    w[1], w[3] = 1, 1
    y = b.tensor("y", (1, 4, 4, 4), "int8", **Q)
    b.op("CONV_2D", [x, _filters(b, "w", w), -1], [y], padding="VALID", stride_w=1, stride_h=1)
    b.output(y)
    assert live_work(b.build().main) == {0: Live(1.0, 1.0)}
