"""How much a ranking of MLPerf Tiny systems depends on the benchmark it is made on.

Per division (closed, open) and metric (latency, energy; lower is better), over the systems that have a
result on every benchmark of that division and metric (so that every benchmark ranks the same systems):
each system's rank per benchmark, which system is best on each benchmark and how many benchmark pairs
disagree on it, and how far each system's rank moves across benchmarks. Kendall's tau-b between two
benchmarks uses every system with a result on both (its pair count is kept beside it).

`what_if` ranks boards of the cost model's library on a user's own models, beside the order of the same
boards in the published results (each board's best published result per benchmark, whatever its stack).
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tinyinterp.cost import profiles
from tinyinterp.cost.estimate import DEFAULT_STACK, estimate
from tinyinterp.errors import CostModelError
from tinyinterp.zoo import open_model

RESULTS_FILE = Path("results") / "published_v0.5_to_v1.1.csv"
# metric -> (CSV column, unit); lower is better for both
METRICS = {"latency": ("latency_ms", "ms"), "energy": ("energy_uj", "uJ")}
PUBLISHED = "published"  # what-if pairs name a published benchmark's column "published kws"
REQUIRED_COLUMNS = ("version", "division", "org", "system", "benchmark", "board_name")


# A results tree (a submission's, or `tinyinterp suite`'s): <system>/<benchmark>/<mode>/results.txt, whose
# last line in the runner's wording gives the mode's figure (as the submission checker reads it).
TREE_BENCHMARKS = ("ad", "ic", "kws", "vww", "sww")
TREE_FIGURES = {
    "performance": (
        "latency",
        "Median throughput is N inf./sec.",
        re.compile(r"Median throughput is\s+([\d.]+) inf\./sec\."),
    ),
    "energy": (
        "energy",
        "Median energy cost is N uJ/inf.",
        re.compile(r"Median energy cost is\s+([\d.]+) uJ/inf\."),
    ),
}
DIVISIONS = ("closed", "open")
NO_DIVISION = "-"


def default_results() -> Path:
    """The published results CSV: under $TINYINTERP_DATA, else ../shared/mlperf-tiny next to a checkout."""
    configured = os.environ.get("TINYINTERP_DATA")
    base = Path(configured) if configured else Path(__file__).resolve().parents[3] / "shared" / "mlperf-tiny"
    return base / RESULTS_FILE


# --- statistics ------------------------------------------------------------------------------------------


def rank(values: Mapping[str, float]) -> dict[str, float]:
    """1 for the lowest value, 2 for the next...; tied values share the mean of their positions."""
    ordered = sorted(values, key=lambda key: values[key])
    ranks: dict[str, float] = {}
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and values[ordered[end + 1]] == values[ordered[start]]:
            end += 1
        for key in ordered[start : end + 1]:
            ranks[key] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b of paired observations: (concordant - discordant) / sqrt((n0 - ties in x) *
    (n0 - ties in y)), n0 the number of pairs; NaN when either side is constant (or fewer than 2 pairs)."""
    if len(x) != len(y):
        raise CostModelError(f"Kendall's tau needs paired values, got {len(x)} and {len(y)}")
    concordant = discordant = ties_x = ties_y = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        dx, dy = x[i] - x[j], y[i] - y[j]
        ties_x += dx == 0
        ties_y += dy == 0
        if dx * dy > 0:
            concordant += 1
        elif dx * dy < 0:
            discordant += 1
    pairs = len(x) * (len(x) - 1) // 2
    denominator = math.sqrt((pairs - ties_x) * (pairs - ties_y))
    return (concordant - discordant) / denominator if denominator else math.nan


# --- the published table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One published result: a system (round/org/system) on a benchmark."""

    division: str
    system: str
    benchmark: str
    board_name: str
    values: Mapping[str, float]  # metric -> value, for the metrics it has


def read_results(path: str | os.PathLike[str]) -> list[Result]:
    """Every row of a published-results CSV (the shared table's columns) with a latency or energy."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
    except OSError as error:
        raise CostModelError(f"cannot read results {path}: {error.strerror or error}") from error
    except (UnicodeDecodeError, csv.Error) as error:
        raise CostModelError(f"{path}: not a results CSV ({error})") from error
    if not rows:
        raise CostModelError(f"{path}: no results in it")
    missing = [c for c in (*REQUIRED_COLUMNS, *(c for c, _ in METRICS.values())) if c not in rows[0]]
    if missing:
        raise CostModelError(f"{path}: no column {', '.join(missing)}")
    return [result for line, row in enumerate(rows, start=2) if (result := _result(path, line, row))]


def _result(path: str | os.PathLike[str], line: int, row: Mapping[str, str]) -> Result | None:
    values = {}
    for metric, (column, _) in METRICS.items():
        text = (row[column] or "").strip()
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            raise CostModelError(f"{path}: line {line}: {column} {text!r} is not a number") from None
        if not (math.isfinite(value) and value > 0):
            raise CostModelError(f"{path}: line {line}: {column} must be positive and finite, got {text}")
        values[metric] = value
    if not values:
        return None
    system = f"{row['version']}/{row['org']}/{row['system']}"
    return Result(row["division"], system, row["benchmark"], row["board_name"], values)


def read_tree(root: str | os.PathLike[str]) -> list[Result]:
    """The results of every <system>/<benchmark>/<performance|energy>/results.txt under `root`; the
    division is the path's closed or open folder (else "-"), latency is 1000 / median throughput."""
    found: dict[tuple[str, str, str], dict[str, float]] = {}
    root = Path(root)
    for path in sorted(root.rglob("results.txt")):
        relative = path.relative_to(root)
        if len(relative.parts) < 4:  # no <system>/<benchmark>/<mode>/ above it, inside the root
            continue
        mode, benchmark, system_dir = path.parent.name, path.parent.parent.name, relative.parent.parent.parent
        if mode not in TREE_FIGURES or benchmark not in TREE_BENCHMARKS:
            continue
        metric, wording, pattern = TREE_FIGURES[mode]
        try:
            values = pattern.findall(path.read_text(encoding="utf-8", errors="replace"))
        except OSError as error:
            raise CostModelError(f"cannot read {path}: {error.strerror or error}") from error
        if not values or float(values[-1]) <= 0:
            raise CostModelError(f"{path}: no line '{wording}' with N > 0")
        value = float(values[-1])
        division = next((part for part in system_dir.parts if part in DIVISIONS), NO_DIVISION)
        system = "/".join(p for p in system_dir.parts if p not in (*DIVISIONS, "results")) or str(system_dir)
        found.setdefault((division, system, benchmark), {})[metric] = (
            1000 / value if metric == "latency" else value
        )
    if not found:
        raise CostModelError(f"{root}: no <system>/<benchmark>/<performance|energy>/results.txt in it")
    return [Result(d, s, b, Path(s).name, values) for (d, s, b), values in found.items()]


def tables(results: Iterable[Result]) -> dict[tuple[str, str], dict[str, dict[str, float]]]:
    """(division, metric) -> system -> benchmark -> value, by division, then metric in METRICS' order."""
    found: dict[tuple[str, str], dict[str, dict[str, float]]] = {}
    for result in results:
        for metric, value in result.values.items():
            table = found.setdefault((result.division, metric), {})
            if result.benchmark in table.setdefault(result.system, {}):
                raise CostModelError(
                    f"{result.system} has two {result.benchmark} results in {result.division}"
                )
            table[result.system][result.benchmark] = value
    order = list(METRICS)
    return dict(sorted(found.items(), key=lambda item: (item[0][0], order.index(item[0][1]))))


# --- fragility of one ranking ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    first: str
    second: str
    tau: float  # Kendall's tau-b of the two benchmarks' values
    systems: int  # systems with a result on both


@dataclass(frozen=True)
class Mover:
    system: str
    best: float  # its best and worst rank over the benchmarks
    worst: float

    @property
    def spread(self) -> float:
        return self.worst - self.best


@dataclass(frozen=True)
class Fragility:
    """One division and metric (see the module docstring)."""

    division: str
    metric: str
    benchmarks: tuple[str, ...]
    ranks: dict[str, dict[str, float]]  # system with every benchmark -> benchmark -> rank among them
    pairs: tuple[Pair, ...]
    winners: dict[str, str]  # benchmark -> best system (of those with every benchmark)
    movers: tuple[Mover, ...]  # most movement first

    @property
    def winner_changes(self) -> int:
        """Benchmark pairs whose best system differs (none without a system that ran every benchmark)."""
        return sum(self.winners[a] != self.winners[b] for a, b in itertools.combinations(self.winners, 2))


def fragility(division: str, metric: str, table: Mapping[str, Mapping[str, float]]) -> Fragility:
    benchmarks = tuple(sorted({b for values in table.values() for b in values}))
    complete = {s: values for s, values in table.items() if len(values) == len(benchmarks)}
    per_benchmark = {b: rank({s: values[b] for s, values in complete.items()}) for b in benchmarks}
    ranks = {s: {b: per_benchmark[b][s] for b in benchmarks} for s in sorted(complete)}
    pairs = []
    for a, b in itertools.combinations(benchmarks, 2):
        both = sorted(s for s, values in table.items() if a in values and b in values)
        tau = kendall_tau_b([table[s][a] for s in both], [table[s][b] for s in both])
        pairs.append(Pair(a, b, tau, len(both)))
    winners = {b: _best(complete, b) for b in benchmarks if complete}
    movers = [Mover(s, min(r.values()), max(r.values())) for s, r in ranks.items()]
    movers.sort(key=lambda m: (-m.spread, m.system))
    return Fragility(division, metric, benchmarks, ranks, tuple(pairs), winners, tuple(movers))


def _best(table: Mapping[str, Mapping[str, float]], benchmark: str) -> str:
    """The system with the lowest value on the benchmark (the first by name among equals)."""
    return min(sorted(table), key=lambda system: table[system][benchmark])


def fragilities(results: Iterable[Result]) -> list[Fragility]:
    return [fragility(division, metric, table) for (division, metric), table in tables(results).items()]


# --- what-if: the library's boards on the user's models -------------------------------------------------


@dataclass(frozen=True)
class WhatIf:
    """Boards ranked on the user's models (estimated) and on the published benchmarks (measured)."""

    metric: str
    stack: str
    boards: tuple[str, ...]
    estimated: dict[str, dict[str, float]]  # model -> board -> estimated value
    ranks: dict[str, dict[str, float]]  # model -> board -> rank (boards the model does not fit included)
    fits: dict[str, dict[str, bool]]  # model -> board -> RAM and flash within the board's
    published: dict[str, dict[str, float]]  # benchmark -> board -> rank among the boards published on it
    pairs: tuple[Pair, ...]  # each model against each later model and each "published BENCHMARK"


def what_if(
    models: Sequence[str],
    results: Sequence[Result],
    boards: Sequence[str] | None = None,
    stack: str = DEFAULT_STACK,
    division: str = "closed",
) -> list[WhatIf]:
    """Per metric, the boards (default: the whole library) on each model, at each board's default clock."""
    if not models:
        raise CostModelError("the what-if needs at least one model")
    chosen = [profiles.board(name) for name in boards] if boards else profiles.boards()
    names = tuple(b.name for b in chosen)
    if len(set(names)) != len(names):
        raise CostModelError(f"a board is named twice in {', '.join(boards or names)}")
    loaded = {m: open_model(m) for m in models}
    estimates = {
        m: {b.name: estimate(model, b, stack=stack).totals for b in chosen} for m, model in loaded.items()
    }
    fits = {m: {b: totals.fits for b, totals in e.items()} for m, e in estimates.items()}
    measured = _published_by_board(results, division, set(names))
    found = []
    for metric in METRICS:
        estimated = {
            m: {b: getattr(t, "latency_ms" if metric == "latency" else "energy_uj") for b, t in e.items()}
            for m, e in estimates.items()
        }
        benchmarks = dict(sorted(measured.get(metric, {}).items()))
        columns = {**estimated, **{f"{PUBLISHED} {b}": values for b, values in benchmarks.items()}}
        pairs = [pair for pair in _pairs(columns) if pair.first in estimated]
        found.append(
            WhatIf(
                metric,
                stack,
                names,
                estimated,
                {m: rank(values) for m, values in estimated.items()},
                fits,
                {b: rank(values) for b, values in benchmarks.items()},
                tuple(pairs),
            )
        )
    return found


def _published_by_board(
    results: Iterable[Result], division: str, boards: set[str]
) -> dict[str, dict[str, dict[str, float]]]:
    """metric -> benchmark -> board -> its best published value, for the boards given."""
    best: dict[str, dict[str, dict[str, float]]] = {}
    for result in results:
        if result.division != division:
            continue
        try:
            board = profiles.board(result.board_name).name
        except CostModelError:  # a board the library has no profile of
            continue
        if board not in boards:
            continue
        for metric, value in result.values.items():
            values = best.setdefault(metric, {}).setdefault(result.benchmark, {})
            values[board] = min(value, values.get(board, math.inf))
    return best


def _pairs(columns: Mapping[str, Mapping[str, float]]) -> list[Pair]:
    pairs = []
    for a, b in itertools.combinations(columns, 2):
        both = sorted(set(columns[a]) & set(columns[b]))
        tau = kendall_tau_b([columns[a][k] for k in both], [columns[b][k] for k in both])
        pairs.append(Pair(a, b, tau, len(both)))
    return pairs
