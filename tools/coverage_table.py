"""Print the ops x dtypes coverage table (markdown) from tinyinterp's registries, or write it into
README.md between `<!-- coverage:start -->` and `<!-- coverage:end -->` with --write.

Implemented: an op class registered with `@register(opcode, dtypes=...)` (tinyinterp.ops.OPS).
Tested: a strategy registered with `@cases_for(opcode, dtypes)` (tinyinterp.testing.strategies.CASES),
which tests/test_differential.py runs against TFLM.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from tinyinterp.ops import OPS
from tinyinterp.testing.strategies import CASES

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- coverage:start -->", "<!-- coverage:end -->"
COLUMN_ORDER = ("int8", "int16", "float32")
TESTED, UNTESTED = "✓", "○"


def columns() -> list[str]:
    dtypes = {dtype for cls in OPS.values() for dtype in cls.dtypes}
    return [d for d in COLUMN_ORDER if d in dtypes] + sorted(dtypes - set(COLUMN_ORDER))


def cell(opcode: str, dtype: str) -> str:
    if dtype not in OPS[opcode].dtypes:
        return ""
    return TESTED if (opcode, dtype) in CASES else UNTESTED


def table() -> str:
    dtypes = columns()
    lines = [
        f"| Op | {' | '.join(dtypes)} |",
        f"|---|{'|'.join(':-:' for _ in dtypes)}|",
        *(f"| {op} | {' | '.join(cell(op, d) for d in dtypes)} |" for op in sorted(OPS)),
        "",
        f"{TESTED} bit-exact with TFLM, differentially tested (`tests/test_differential.py`); "
        f"{UNTESTED} implemented, no differential test yet. QUANTIZE's dtype is its output's (its input: "
        "float32, int8, int16 or int32 for int8 and int16, int8 or int16 for int32), DEQUANTIZE's its "
        "input's.",
    ]
    return "\n".join(lines)


def with_table(readme: str) -> str:
    """`readme` with the generated table between the markers (which must be there, once)."""
    pattern = re.compile(f"{re.escape(START)}.*?{re.escape(END)}", re.DOTALL)
    if len(pattern.findall(readme)) != 1:
        raise SystemExit(f"README.md needs one {START} ... {END} block")
    return pattern.sub(lambda _: f"{START}\n{table()}\n{END}", readme)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update README.md instead of printing")
    if parser.parse_args(argv).write:
        README.write_text(with_table(README.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
