"""`tinyinterp rank`: the ranking-fragility report (cost/rank.py) as tables, JSON and a bump chart.

Exit codes: 0 ok; 2 bad usage or input (unreadable or malformed results file, unknown board or stack,
unreadable model, --plot without matplotlib).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tinyinterp.cost.cli import EXIT_BAD_INPUT, EXIT_OK
from tinyinterp.cost.estimate import DEFAULT_STACK
from tinyinterp.cost.rank import (
    METRICS,
    NO_DIVISION,
    Fragility,
    Pair,
    WhatIf,
    default_results,
    fragilities,
    read_results,
    read_tree,
    what_if,
)
from tinyinterp.errors import CostModelError, TinyInterpError

DEFAULT_TOP = 10


def register_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rank",
        help="how much the MLPerf Tiny ranking of systems depends on the benchmark (and on your models)",
        description="Per division and metric of the published MLPerf Tiny results: each system's rank per "
        "benchmark (over the systems that ran them all), Kendall's tau-b between every pair of "
        "benchmarks, the best system per benchmark, and the systems whose rank moves most. With "
        "--models: the library's boards ranked on your models by the cost model, beside their "
        "published order.",
        epilog="exit codes: 0 ok; 2 bad usage or input (unreadable results file, unknown board or stack, "
        "unreadable model, --plot without matplotlib).",
    )
    parser.add_argument(
        "--results",
        metavar="FILE.csv|DIR",
        help="published results table (default: $TINYINTERP_DATA/results/published_v0.5_to_v1.1.csv), or a "
        "results tree (<system>/<benchmark>/<performance|energy>/results.txt, as a submission or "
        "`tinyinterp suite` writes them)",
    )
    parser.add_argument("--division", help="only this division (closed, open)")
    parser.add_argument("--metric", choices=tuple(METRICS), help="only this metric")
    parser.add_argument(
        "--top",
        type=int,
        default=DEFAULT_TOP,
        metavar="N",
        help=f"systems shown per ranking, those that move most first (default {DEFAULT_TOP}; 0: all)",
    )
    parser.add_argument("--models", nargs="+", metavar="MODEL", help="what-if: .tflite files or zoo:NAME")
    parser.add_argument("--boards", metavar="B1,B2,...", help="what-if boards (default: the whole library)")
    parser.add_argument(
        "--stack", default=DEFAULT_STACK, help=f"what-if software stack (default {DEFAULT_STACK})"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--plot", metavar="FILE.png", help="bump chart of ranks across benchmarks (matplotlib)"
    )
    parser.set_defaults(handler=run_rank)


def run_rank(args: argparse.Namespace) -> int:
    try:
        if args.top < 0:
            raise CostModelError(f"--top must be 0 or more, got {args.top}")
        if (args.boards or args.stack != DEFAULT_STACK) and not args.models:
            raise CostModelError("--boards and --stack choose the what-if boards: give --models too")
        path = Path(args.results) if args.results else default_results()
        if not path.exists():
            raise CostModelError(
                f"results file {path} not found: give --results FILE.csv or DIR, or set TINYINTERP_DATA"
            )
        results = read_tree(path) if path.is_dir() else read_results(path)
        reports = [
            f
            for f in fragilities(results)
            if args.division in (None, f.division) and args.metric in (None, f.metric)
        ]
        if not reports:
            raise CostModelError(f"{path}: no results for division {args.division} and metric {args.metric}")
        boards = [b.strip() for b in args.boards.split(",") if b.strip()] if args.boards else None
        what_ifs = [
            w
            for w in (what_if(args.models, results, boards, args.stack) if args.models else [])
            if args.metric in (None, w.metric)
        ]
        if args.plot:
            _check_plot_path(args.plot)
    except TinyInterpError as error:
        print(f"tinyinterp rank: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(to_json(path, reports, what_ifs), indent=2))
    else:
        print_report(path, reports, what_ifs, args.top)
    if args.plot:
        try:
            plot(reports, what_ifs, args.plot, args.top)
        except ImportError:
            print("tinyinterp rank: error: --plot needs matplotlib (pip install matplotlib)", file=sys.stderr)
            return EXIT_BAD_INPUT
        except (TinyInterpError, OSError) as error:
            print(f"tinyinterp rank: error: --plot {args.plot}: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"plot: wrote {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return EXIT_OK


def _check_plot_path(path: str) -> None:
    if not Path(path).parent.is_dir():
        raise CostModelError(f"--plot {path}: folder {Path(path).parent} does not exist")


def _short(system: str) -> str:
    """'1.0/org/system' without its organisation, to fit a column (other names as they are)."""
    parts = system.split("/", 2)
    return f"{parts[0]}/{parts[2]}" if len(parts) == 3 else system


def _division(division: str) -> str:
    return "" if division == NO_DIVISION else f"{division} division, "


def _rank_text(rank: float) -> str:
    return f"{rank:g}"


def _tau_text(pair: Pair) -> str:
    return f"{'n/a' if math.isnan(pair.tau) else f'{pair.tau:+.2f}'} ({pair.systems})"


# --- terminal -------------------------------------------------------------------------------------------


def print_report(path: Path, reports: Sequence[Fragility], what_ifs: Sequence[WhatIf], top: int) -> None:
    from rich.console import Console

    console = Console()
    console.print(f"[bold]{path}[/bold]: lower is better; ranks among the systems with every benchmark")
    for report in reports:
        _print_fragility(console, report, top)
    for result in what_ifs:
        _print_what_if(console, result)


def _print_fragility(console: Any, report: Fragility, top: int) -> None:
    from rich.table import Table

    unit = METRICS[report.metric][1]
    console.print(
        f"\n[bold]{_division(report.division)}{report.metric} ({unit})[/bold]: {len(report.ranks)} systems "
        f"ran all {len(report.benchmarks)} benchmarks ({', '.join(report.benchmarks)})"
    )
    taus = Table(title="Kendall's tau-b between benchmarks (systems with both)")
    taus.add_column("")
    for benchmark in report.benchmarks[1:]:
        taus.add_column(benchmark, justify="right")
    by_pair = {(p.first, p.second): p for p in report.pairs}
    for position, first in enumerate(report.benchmarks[:-1]):
        cells = [
            _tau_text(by_pair[(first, b)]) if k >= position else ""
            for k, b in enumerate(report.benchmarks[1:])
        ]
        taus.add_row(first, *cells)
    console.print(taus)
    if not report.winners:
        console.print("best system: no system ran every benchmark")
        return
    winners = set(report.winners.values())
    pairs = len(report.winners) * (len(report.winners) - 1) // 2
    if len(winners) == 1:
        best = f"{_short(winners.pop())} on every benchmark"
    else:
        best = "; ".join(f"{b} {_short(s)}" for b, s in report.winners.items())
    console.print(f"best system: {best} ({report.winner_changes} of {pairs} benchmark pairs disagree)")
    shown = report.movers if top == 0 else report.movers[:top]
    ranks = Table(title=f"ranks, the {len(shown)} that move most of {len(report.movers)}")
    ranks.add_column("system")
    for benchmark in report.benchmarks:
        ranks.add_column(benchmark, justify="right")
    ranks.add_column("moves", justify="right")
    for mover in shown:
        row = report.ranks[mover.system]
        ranks.add_row(
            _short(mover.system), *(_rank_text(row[b]) for b in report.benchmarks), f"{mover.spread:g}"
        )
    console.print(ranks)


def _print_what_if(console: Any, result: WhatIf) -> None:
    from rich.table import Table

    unit = METRICS[result.metric][1]
    table = Table(
        title=f"what-if, {result.metric}: boards on your models ({result.stack}, estimated, {unit}) beside "
        "their published rank (closed division, best result per board, any stack)"
    )
    table.add_column("board", no_wrap=True)
    for model in result.estimated:
        table.add_column(f"{model}", justify="right")
    for benchmark in result.published:
        table.add_column(f"pub. {benchmark}", justify="right")
    first = next(iter(result.ranks.values()))
    for board in sorted(result.boards, key=lambda b: (first[b], b)):
        cells = [
            f"{result.estimated[m][board]:,.4g}{'' if result.fits[m][board] else '*'} "
            f"#{_rank_text(result.ranks[m][board])}"
            for m in result.estimated
        ]
        cells += [_rank_text(ranks[board]) if board in ranks else "" for ranks in result.published.values()]
        table.add_row(board, *cells)
    console.print(table)
    if not all(all(fits.values()) for fits in result.fits.values()):
        console.print("*: the model does not fit the board's RAM or flash (estimated, ranked all the same)")
    taus = Table(title=f"Kendall's tau-b of the {result.metric} ranks (boards in common)")
    taus.add_column("")
    seconds = list(dict.fromkeys(p.second for p in result.pairs))
    for second in seconds:
        taus.add_column(second, justify="right")
    by_pair = {(p.first, p.second): p for p in result.pairs}
    for model in result.estimated:
        taus.add_row(
            model, *(_tau_text(by_pair[(model, s)]) if (model, s) in by_pair else "" for s in seconds)
        )
    console.print(taus)


# --- JSON -----------------------------------------------------------------------------------------------


def to_json(path: Path, reports: Sequence[Fragility], what_ifs: Sequence[WhatIf]) -> dict[str, Any]:
    def clean(value: Any) -> Any:  # NaN is not JSON
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return clean(
        {
            "results": str(path),
            "rankings": [
                {
                    **asdict(r),
                    "winner_changes": r.winner_changes,
                    "movers": [{**asdict(m), "spread": m.spread} for m in r.movers],
                }
                for r in reports
            ],
            "what_if": [asdict(w) for w in what_ifs],
        }
    )


# --- bump chart -----------------------------------------------------------------------------------------


def plot(reports: Sequence[Fragility], what_ifs: Sequence[WhatIf], path: str, top: int) -> None:
    """One panel per ranking with two or more benchmarks and systems (and per what-if): a line per
    system across benchmarks, rank 1 on top; the `top` systems that move most are coloured and named."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels: list[tuple[str, list[str], dict[str, dict[str, float]], list[str]]] = []
    for r in reports:
        if len(r.benchmarks) > 1 and len(r.ranks) > 1:
            named = [m.system for m in (r.movers if top == 0 else r.movers[:top])]
            title = f"{_division(r.division)}{r.metric}: {len(r.ranks)} systems"
            panels.append((title, list(r.benchmarks), r.ranks, named))
    for w in what_ifs:
        columns = [*w.ranks, *(f"pub. {b}" for b in w.published)]
        by_board = {
            board: {
                **{m: w.ranks[m][board] for m in w.ranks},
                **{f"pub. {b}": ranks[board] for b, ranks in w.published.items() if board in ranks},
            }
            for board in w.boards
        }
        panels.append(
            (f"what-if, {w.metric}: boards on your models, then published", columns, by_board, list(w.boards))
        )
    if not panels:
        raise CostModelError("nothing to plot: no ranking has two benchmarks and two systems")
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 5 * len(panels)), squeeze=False)
    for ax, (title, columns, ranks, named) in zip(axes[:, 0], panels):
        for name, row in ranks.items():
            xs = [k for k, c in enumerate(columns) if c in row]
            ys = [row[columns[k]] for k in xs]
            highlighted = name in named
            ax.plot(
                xs,
                ys,
                marker="o",
                lw=2 if highlighted else 0.8,
                alpha=1 if highlighted else 0.3,
                color=None if highlighted else "grey",
                label=_short(name) if highlighted else None,
            )
        ax.set_xticks(range(len(columns)), columns)
        ax.invert_yaxis()
        ax.set_ylabel("rank (1 = best)")
        ax.set_title(title)
        ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
