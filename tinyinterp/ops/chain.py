"""Chains of int8 FULLY_CONNECTED layers run as one kernel call (`kernels/chain.py`).

The interpreter fuses two or more consecutive operators of its plan into a `FullyConnectedChain` when
each is an int8 FULLY_CONNECTED layer on VNNI products (`FullyConnected.packed`) and reads the
previous one's output: every layer's output is still computed and stored, only the Python steps and
dispatches between them go. A chain has an op's interface: called on its input, it returns the
outputs of every layer, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tinyinterp.kernels import chain as column
from tinyinterp.kernels.chain import fully_connected_chain, fully_connected_chain_rows
from tinyinterp.kernels.int_gemm import ROWS as TILE_ROWS
from tinyinterp.kernels.int_gemm import PackedWeights
from tinyinterp.model.ir import Operator, Subgraph
from tinyinterp.ops.base import Array, Op, required
from tinyinterp.ops.conv import INT8
from tinyinterp.ops.fully_connected import FullyConnected

# What a chain runs into: the items, the arena, the two scratch arrays, the outputs' views.
Buffers = tuple[int, Array, Array, Array, list[Array]]


def chainable(op: Op) -> bool:
    """An int8 FULLY_CONNECTED layer whose products run on VNNI, as the chain kernel's do."""
    return isinstance(op, FullyConnected) and op.dtype == INT8 and op.packed is not None


def chain_groups(plan: Sequence[tuple[Operator, Op]]) -> list[list[tuple[Operator, Op]]]:
    """The plan in groups, in order: runs of chainable layers, each reading the previous one's
    output, and single operators."""
    groups: list[list[tuple[Operator, Op]]] = []
    for node, op in plan:
        last = groups[-1][-1] if groups else None
        if last is not None and chainable(op) and chainable(last[1]) and node.inputs[0] == last[0].outputs[0]:
            groups[-1].append((node, op))
        else:
            groups.append([(node, op)])
    return groups


class FullyConnectedChain:
    """Chainable layers (`chain_groups`), their prepared state gathered once into the kernel's table
    and four arrays. Called on a batch of items, it returns every layer's output for them."""

    def __init__(self, subgraph: Subgraph, group: Sequence[tuple[Operator, Op]]) -> None:
        nodes = [node for node, _ in group]
        layers = [op for _, op in group if isinstance(op, FullyConnected)]
        packed = [_packed(op) for op in layers]
        self.label = f"operators {nodes[0].index}-{nodes[-1].index} (FULLY_CONNECTED)"
        self.output_shapes = [subgraph.tensors[node.outputs[0]].shape for node in nodes]
        sizes = [int(np.prod(shape)) for shape in self.output_shapes]
        self.input_size = int(np.prod(subgraph.tensors[nodes[0].inputs[0]].shape))
        self.output_at = np.cumsum([0, *sizes]).tolist()  # per item, in the arena
        input_sizes = [self.input_size, *sizes[:-1]]
        self.table = np.array(
            [_row(*layer) for layer in zip(layers, packed, input_sizes, self.output_at)], np.int64
        )
        self.table[1:, column.WEIGHTS_AT] = np.cumsum(self.table[:-1, column.WEIGHTS_SIZE])
        self.table[1:, column.CHANNELS_AT] = np.cumsum(self.table[:-1, column.CHANNELS])
        self.weights = np.concatenate([weights.packed for weights in packed])
        self.bias = np.concatenate([op.op_data.shifted_bias(slice(None), w) for op, w in zip(layers, packed)])
        self.multipliers = np.concatenate([op.op_data.multipliers for op in layers])
        self.shifts = np.concatenate([op.op_data.shifts for op in layers])
        rows = self.table[:, column.ROWS]
        self.most_rows = int(rows.max())  # per item
        # Scratch per item: the widest layer's shifted rows and sums.
        self.scratch = (
            int((rows * self.table[:, column.ROW_BYTES]).max()),
            int((rows * self.table[:, column.CHANNELS]).max()),
        )

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        """The chain on its input's items, into buffers of their own (batched chunks run side by side)."""
        x = required(inputs[0])
        return self._run(x.ravel(), self._buffers(x.size // self.input_size))

    def bind(self) -> Callable[[Sequence[Array | None]], list[Array]]:
        """The chain on one item (a batch-1 invoke), into buffers allocated once."""
        buffers = self._buffers(1)
        return lambda inputs: self._run(required(inputs[0]).ravel(), buffers)

    def _buffers(self, items: int) -> Buffers:
        arena = np.empty(items * self.output_at[-1], np.int8)
        views = [
            arena[items * start : items * stop].reshape(_items_shape(shape, items))
            for start, stop, shape in zip(self.output_at, self.output_at[1:], self.output_shapes)
        ]
        shifted_rows = np.empty(items * self.scratch[0], np.uint8)
        return items, arena, shifted_rows, np.empty(items * self.scratch[1], np.int32), views

    def _run(self, x: Array, buffers: Buffers) -> list[Array]:
        items, arena, shifted_rows, sums, views = buffers
        kernel = fully_connected_chain if items * self.most_rows >= TILE_ROWS else fully_connected_chain_rows
        kernel(
            x, items, self.table, self.weights, self.bias, self.multipliers, self.shifts, arena, shifted_rows,
            sums,
        )  # fmt: skip
        return views


def _items_shape(shape: tuple[int, ...], items: int) -> tuple[int, ...]:
    """A layer output's shape for `items` items: batched runs grow its leading dimension (a 1)."""
    return (shape[0] * items, *shape[1:])


def _row(op: FullyConnected, packed: PackedWeights, input_size: int, output_at: int) -> list[int]:
    """The layer's row of the kernel's table, but for where its weights and channels start."""
    q = op.op_data
    values = {
        column.DEPTH: op.depth,
        column.ROW_BYTES: packed.row_bytes,
        column.CHANNELS: op.out_channels,
        column.ROWS: input_size // op.depth,
        column.WEIGHTS_SIZE: packed.packed.size,
        column.OUTPUT_AT: output_at,
        column.OUTPUT_OFFSET: q.output_offset,
        column.ACT_MIN: q.act_min,
        column.ACT_MAX: q.act_max,
        column.ROUNDING: q.rounding,
    }
    return [int(values.get(k, 0)) for k in range(column.COLUMNS)]


def _packed(op: FullyConnected) -> PackedWeights:
    assert op.packed is not None, "chainable() admits VNNI layers only"
    return op.packed
