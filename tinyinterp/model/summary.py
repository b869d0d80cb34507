"""Per-operator statistics from shapes alone (MACs, parameters) and the `tinyinterp info` table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyinterp.geometry import op_macs
from tinyinterp.model.ir import Model, Operator, Subgraph, Tensor


def _elements(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def op_parameters(subgraph: Subgraph, op: Operator) -> int:
    """Elements of the operator's constant inputs (weights, biases, shape tensors)."""
    constants = [subgraph.tensors[i] for i in op.inputs if i >= 0 and subgraph.tensors[i].is_constant]
    return sum(_elements(t.shape) for t in constants)


@dataclass(frozen=True)
class OpRow:
    index: int
    opcode: str
    inputs: list[Tensor]
    outputs: list[Tensor]
    macs: int
    parameters: int


def op_rows(model: Model) -> list[OpRow]:
    subgraph = model.main
    return [
        OpRow(
            op.index,
            op.opcode,
            [subgraph.tensors[i] for i in op.inputs if i >= 0 and not subgraph.tensors[i].is_constant],
            [subgraph.tensors[i] for i in op.outputs],
            op_macs(subgraph, op),
            op_parameters(subgraph, op),
        )
        for op in subgraph.operators
    ]


def _describe(tensors: list[Tensor]) -> str:
    return ", ".join(f"{t.dtype.name.lower()} {'x'.join(map(str, t.shape))}" for t in tensors)


def print_summary(model: Model, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = op_rows(model)
    table = Table(title=f"{title}: {len(rows)} operators", show_footer=True)
    table.add_column("#", justify="right", footer="total")
    table.add_column("op")
    table.add_column("inputs")
    table.add_column("outputs")
    table.add_column("MACs", justify="right", footer=f"{sum(r.macs for r in rows):,}")
    table.add_column("params", justify="right", footer=f"{sum(r.parameters for r in rows):,}")
    for row in rows:
        table.add_row(
            str(row.index),
            row.opcode,
            _describe(row.inputs),
            _describe(row.outputs),
            f"{row.macs:,}",
            f"{row.parameters:,}",
        )
    Console().print(table)
