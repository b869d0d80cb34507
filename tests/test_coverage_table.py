"""README's ops x dtypes table is the one tools/coverage_table.py generates from the registries (so
it cannot drift), and every differential strategy tests a dtype its op declares (so the table's
ticks are true)."""

from __future__ import annotations

from types import ModuleType

from conftest import script

from tinyinterp.ops import OPS
from tinyinterp.testing.strategies import CASES


def coverage_tool() -> ModuleType:
    return script("tools/coverage_table.py")


def test_readme_table_is_current() -> None:
    tool = coverage_tool()
    readme = tool.README.read_text(encoding="utf-8")
    assert tool.with_table(readme) == readme, "stale table: run python tools/coverage_table.py --write"


def test_strategies_only_test_declared_dtypes() -> None:
    undeclared = sorted((op, dtype) for op, dtype in CASES if op not in OPS or dtype not in OPS[op].dtypes)
    assert not undeclared, f"strategies for undeclared (op, dtype): {undeclared}"
