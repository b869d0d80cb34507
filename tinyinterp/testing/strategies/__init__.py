"""Hypothesis strategies of valid single-op cases, one module per op family (as `tinyinterp.ops`).

`CASES[(opcode, dtype)]` is a function `(dtype=...) -> SearchStrategy[OpCase]` for that op and
activation dtype. Each module registers its strategies with `@cases_for(opcode, dtypes)`, and
importing this package imports every module in it.
"""

from __future__ import annotations

import importlib
import pkgutil

from tinyinterp.testing.strategies.common import (
    CASES,
    activations,
    cases_for,
    effective_multipliers,
    scales,
    tensor_values,
    weights,
    zero_points,
)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "CASES",
    "activations",
    "cases_for",
    "effective_multipliers",
    "scales",
    "tensor_values",
    "weights",
    "zero_points",
]
