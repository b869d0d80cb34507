"""Kill rate per module of the last mutmut runs, as the table of docs/mutation.md.

    python tools/mutation_rates.py tinyinterp/cost/loops.py tinyinterp/cost/scratch.py ...
    mutmut run $(python tools/mutation_rates.py --open tinyinterp/cost/loops.py ...)   # only what is open
    mutmut run $(python tools/mutation_rates.py --sample 0.4 tinyinterp/suite/cli.py)  # 40% of each function

Reads the verdicts mutmut keeps in mutants/<module>.meta (run from the project root, after `mutmut run`).
Kill rate = killed / (killed + survived + timed out); date: when mutmut last wrote the module's verdicts
(UTC; a total row gives the latest). Several modules get a total row. `--open` prints instead the names of
the mutants not killed (not checked, survived, timed out, no tests): `mutmut run` re-checks every mutant it is
given by name or glob, killed ones included, so a pass that resumes names only these. `--sample F` prints a
stratified random sample for a module too large to check whole in the time there is: in each function, a
fraction F of its mutants (at least one; the same F picks the same mutants, a larger F extends the sample),
those of them not yet checked. `--status survived` prints the survivors (to check them again on new tests).
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from mutmut.stats import status_by_exit_code

COLUMNS = ("killed", "timeout", "survived", "no tests", "not checked")


def meta_path(module: Path) -> Path:
    return Path("mutants") / f"{module}.meta"


def statuses(module: Path) -> dict[str, str]:
    """Each mutant's status ("killed", "survived", "not checked", ...) by name."""
    codes = json.loads(meta_path(module).read_text())["exit_code_by_key"]
    return {name: status_by_exit_code[code] for name, code in codes.items()}


def verdicts(module: Path) -> Counter[str]:
    return Counter(statuses(module).values())


def written(module: Path) -> str:
    return datetime.fromtimestamp(meta_path(module).stat().st_mtime, timezone.utc).strftime("%Y-%m-%d")


def open_mutants(module: Path) -> list[str]:
    return [name for name, status in statuses(module).items() if status != "killed"]


def sample(module: Path, fraction: float) -> list[str]:
    """A fraction of each function's mutants (named <function>__mutmut_<n>), the unchecked ones. Each
    function's mutants are shuffled by a generator seeded with its name and the sample is a prefix of that
    order: the same fraction picks the same mutants, a larger one the same and more."""
    found = statuses(module)
    by_function: dict[str, list[str]] = {}
    for name in found:
        by_function.setdefault(name.rsplit("__mutmut_", 1)[0], []).append(name)
    chosen = []
    for function, names in by_function.items():
        names.sort()
        random.Random(function).shuffle(names)
        chosen += names[: max(1, math.ceil(fraction * len(names)))]
    return [name for name in chosen if found[name] == "not checked"]


def with_status(module: Path, status: str) -> list[str]:
    return [name for name, found in statuses(module).items() if found == status]


def _names_asked(args: argparse.Namespace) -> Callable[[Path], list[str]] | None:
    """What --open, --status or --sample asks to print for each module (None: the table)."""
    if args.open:
        return open_mutants
    if args.status:
        return lambda module: with_status(module, args.status)
    if args.sample is not None:
        return lambda module: sample(module, args.sample)
    return None


def row(label: str, counts: Counter[str], date: str) -> str:
    mutants = sum(counts.values())
    decided = counts["killed"] + counts["survived"] + counts["timeout"]
    rate = f"{100 * counts['killed'] / decided:.1f}%" if decided else "-"
    cells = [label, mutants, mutants - counts["not checked"], *(counts[c] for c in COLUMNS), rate, date]
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="+", type=Path, help="source files, e.g. tinyinterp/cost/loops.py")
    parser.add_argument("--open", action="store_true", help="print the names of the mutants not killed")
    parser.add_argument(
        "--sample", type=float, metavar="F", help="print a sample of each function's unchecked mutants"
    )
    parser.add_argument(
        "--status", choices=sorted(set(status_by_exit_code.values())), help="print the names of those mutants"
    )
    args = parser.parse_args(argv)
    names = _names_asked(args)
    if names is not None:
        print("\n".join(name for module in args.modules for name in names(module)))
        return 0
    header = ("module", "mutants", "checked", "killed", "timed out", "survived", "no tests", "not checked")
    print("| " + " | ".join((*header, "kill rate", "date")) + " |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|---|")
    counts = {module: verdicts(module) for module in args.modules}
    dates = {module: written(module) for module in args.modules}
    for module, found in counts.items():
        print(row(f"`{module}`", found, dates[module]))
    if len(counts) > 1:
        print(row("**total**", sum(counts.values(), Counter()), max(dates.values())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
