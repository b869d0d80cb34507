"""Kill rate per module of the last mutmut runs, as the table of docs/mutation.md.

    python tools/mutation_rates.py tinyinterp/cost/loops.py tinyinterp/cost/scratch.py ...

Reads the verdicts mutmut keeps in mutants/<module>.meta (run from the project root, after `mutmut run`).
Kill rate = killed / (killed + survived + timed out); several modules get a total row.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

COLUMNS = ("killed", "timeout", "survived", "no tests", "not checked")


def verdicts(module: Path) -> Counter[str]:
    meta = Path("mutants") / f"{module}.meta"
    codes = json.loads(meta.read_text())["exit_code_by_key"].values()
    return Counter(status_by_exit_code[code] for code in codes)


def row(label: str, counts: Counter[str]) -> str:
    mutants = sum(counts.values())
    decided = counts["killed"] + counts["survived"] + counts["timeout"]
    rate = f"{100 * counts['killed'] / decided:.1f}%" if decided else "-"
    cells = [label, mutants, mutants - counts["not checked"], *(counts[c] for c in COLUMNS), rate]
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="+", type=Path, help="source files, e.g. tinyinterp/cost/loops.py")
    args = parser.parse_args(argv)
    print(
        "| module | mutants | checked | killed | timed out | survived | no tests | not checked | kill rate |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    counts = {module: verdicts(module) for module in args.modules}
    for module, found in counts.items():
        print(row(f"`{module}`", found))
    if len(counts) > 1:
        print(row("**total**", sum(counts.values(), Counter())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
