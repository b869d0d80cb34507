"""README's ops x dtypes table is the one tools/coverage_table.py generates from the registries (so
it cannot drift), and every differential strategy tests a dtype its op declares (so the table's
ticks are true)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from tinyinterp.ops import OPS
from tinyinterp.testing.strategies import CASES

TOOL = Path(__file__).resolve().parent.parent / "tools" / "coverage_table.py"


def coverage_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("coverage_table", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_table_is_current() -> None:
    tool = coverage_tool()
    readme = tool.README.read_text(encoding="utf-8")
    assert tool.with_table(readme) == readme, "stale table: run python tools/coverage_table.py --write"


def test_strategies_only_test_declared_dtypes() -> None:
    undeclared = sorted((op, dtype) for op, dtype in CASES if op not in OPS or dtype not in OPS[op].dtypes)
    assert not undeclared, f"strategies for undeclared (op, dtype): {undeclared}"
