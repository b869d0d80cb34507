"""The stand-ins have the reference models' layer shapes, options, versions and quantization layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinyinterp.model import Model, load_model
from tinyinterp.zoo import NAMES, REFERENCE_FILES, stand_in


def layout(model: Model) -> list[tuple]:
    subgraph = model.main

    def tensor(index: int) -> tuple:
        t = subgraph.tensors[index]
        q = t.quantization
        return t.shape, t.dtype, t.is_constant, None if q is None else (q.scale.size, q.quantized_dimension)

    return [
        (
            op.opcode,
            op.version,
            dict(op.options),
            [tensor(i) for i in op.inputs],
            [tensor(i) for i in op.outputs],
        )
        for op in subgraph.operators
    ]


@pytest.mark.parametrize("name", NAMES)
def test_stand_in_matches_reference_layout(name: str, data_dir: Path) -> None:
    reference = load_model(data_dir / "models" / REFERENCE_FILES[name])
    assert layout(stand_in(name)) == layout(reference)


def test_stand_ins_are_deterministic_and_seeded() -> None:
    assert stand_in("ic") == stand_in("ic01")
    assert stand_in("ic", seed=1) != stand_in("ic")
