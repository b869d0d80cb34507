"""Accuracy of the Cortex-M cost model on the published MLPerf Tiny results (v0.5 to v1.1).

    python bench/costmodel.py [--data ../shared/mlperf-tiny] [--rows] [--write-stacks]

For every published result on a Cortex-M core: the published latency and energy, and the predictions
(a) uncalibrated: the shipped stack defaults (fitted on this table: in-sample for the stacks) and, out of
sample, the defaults refitted without the held-out measurement; (b) leave-one-benchmark-out (LOBO): the
system calibrated on its other benchmarks, on top of those refitted defaults; and the MACs-proportional
baseline calibrated the same way. MAPE by core and by stack follow, for two exclusion rules (see
tinyinterp/cost/published.py): "board" (the held-out measurement and its re-publications on the same
board and stack family) and "benchmark" (the held-out benchmark on every system: the model never saw it).

--write-stacks refits the stack defaults on the whole table and writes tinyinterp/cost/data/stacks/*.toml.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import fit_loops
from reference_data import PROJECT_ROOT, default_data_dir, require

from tinyinterp.cost import loops, profiles
from tinyinterp.cost.fit import fit_stacks
from tinyinterp.cost.profiles import StackProfile
from tinyinterp.cost.published import (
    HeldOut,
    Prediction,
    Result,
    baseline,
    held_out,
    mape,
    observations,
    read_results,
    uncalibrated,
)

RESULTS = "results/published_v0.5_to_v1.1.csv"


def _pct(value: float | None) -> str:
    return "     -" if value is None or math.isnan(value) else f"{100 * value:+6.1f}"


def print_rows(
    results: Sequence[Result], shipped: list[Prediction], out: HeldOut, base: list[Prediction]
) -> None:
    print("Per result (errors in %: prediction / published - 1)")
    print(
        f"{'system':44} {'bm':4} {'core':7} {'stack':17} {'MHz':>4} {'lat ms':>9} {'ship':>6} {'held':>6} "
        f"{'LOBO':>6} {'base':>6} | {'E uJ':>9} {'ship':>6} {'LOBO':>6} {'base':>6}"
    )
    for r, s, h, lo, b in zip(results, shipped, out.uncalibrated, out.lobo, base):
        energy = f"{r.energy_uj:9.1f}" if r.energy_uj is not None else f"{'-':>9}"
        print(
            f"{r.system[:44]:44} {r.benchmark:4} {r.board.core[7:]:7} {r.stack:17} {r.clock_mhz:4.0f} "
            f"{r.latency_ms:9.3f} {_pct(s.latency_error)} {_pct(h.latency_error)} {_pct(lo.latency_error)} "
            f"{_pct(b.latency_error)} | {energy} {_pct(s.energy_error)} {_pct(lo.energy_error)} "
            f"{_pct(b.energy_error)}"
        )
    print()


def _groups(results: Sequence[Result]) -> list[tuple[str, Callable[[Result], bool]]]:
    cores = sorted({r.board.core for r in results})
    stacks = sorted({r.stack for r in results})
    boards = sorted({r.board.name for r in results})
    return (
        [("all Cortex-M", lambda r: True)]
        + [(f"core {c}", lambda r, c=c: r.board.core == c) for c in cores]
        + [(f"stack {s}", lambda r, s=s: r.stack == s) for s in stacks]
        + [(f"board {b}", lambda r, b=b: r.board.name == b) for b in boards]
    )


def _cell(value: float) -> str:
    return f"{'-':>11}" if math.isnan(value) else f"{value:11.1f}"


def print_mape(title: str, results: Sequence[Result], columns: dict[str, list[Prediction]]) -> None:
    print(title)
    names = list(columns)
    print(
        f"{'':28} {'n':>4} "
        + " ".join(f"{n:>11}" for n in names)
        + " |  n(E) "
        + " ".join(f"{n:>11}" for n in names)
    )
    for label, keep in _groups(results):
        index = [i for i, r in enumerate(results) if keep(r)]
        with_energy = [i for i in index if results[i].energy_uj is not None]
        latency = " ".join(_cell(mape(columns[n][i].latency_error for i in index)) for n in names)
        energy = " ".join(_cell(mape(columns[n][i].energy_error for i in with_energy)) for n in names)
        print(f"{label:28} {len(index):4} {latency} | {len(with_energy):5} {energy}")
    print()


def write_stacks(results: Sequence[Result], shipped: dict[str, StackProfile]) -> dict[str, StackProfile]:
    fitted = fit_stacks(observations(results), shipped)
    # No Cortex-M result used TFLM's reference kernels: they take TFLM + CMSIS-NN's factors (which turn
    # instruction counts into measured cycles of TFLM builds); the reference kernels' own mixes do the rest.
    if "tflm-reference" not in fitted:
        fitted["tflm-reference"] = replace(
            shipped["tflm-reference"],
            efficiency=fitted["tflm-cmsisnn"].efficiency,
            fitted_on="not fitted: tflm-cmsisnn's factors (no Cortex-M result with reference kernels)",
        )
    for name, stack in sorted(fitted.items()):
        path = profiles.DATA_DIR / "stacks" / f"{name}.toml"
        path.write_text(profiles.format_stack(stack), encoding="utf-8")
        factors = ", ".join(f"{c} {v:.2f}" for c, v in stack.efficiency.items())
        print(f"wrote {path.relative_to(PROJECT_ROOT)}: {factors}")
    return {**shipped, **fitted}


def print_executed_agreement() -> None:
    """How closely the shipped loop counts reproduce the instructions CMSIS-NN executed and the weight bytes
    it loaded (bench/fit_loops.py prints every call)."""
    print("Per kernel call: loop counts (tinyinterp/cost/loops.py) against executed (emulated)")
    print(
        f"{'measurements':14} {'core':8} {'what':18} {'calls':>5} {'within 5%':>9} {'max err %':>9} "
        f"{'mean err %':>10}"
    )
    for data, (path, file) in sorted(fit_loops.SOURCES.items()):
        instructions, weight_bytes = [], []
        for r in fit_loops.calls(data):
            shape, wrapped = fit_loops.shape_of(r), r["function"] != r["selected"]
            counts = loops.executed(r["selected"], path, shape, wrapped, data)
            instructions.append(abs(sum(counts.values()) / r["instructions"]["total"] - 1))
            read = loops.weight_reads(r["selected"], path, shape, wrapped, data)
            if read is not None:
                weight_bytes.append(abs(read / fit_loops.weights_read(r) - 1))
        core = file.removeprefix("executed_counts_").removesuffix(".json")
        for what, errors in (("instructions", instructions), ("weight bytes read", weight_bytes)):
            if errors:  # the MVE measurements count no data accesses
                print(
                    f"{data:14} {core:8} {what:18} {len(errors):5} {sum(e <= 0.05 for e in errors):9} "
                    f"{100 * max(errors):9.1f} {100 * sum(errors) / len(errors):10.2f}"
                )
    print()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=default_data_dir(),
        help="the mlperf-tiny folder with results/ and models/ (default $TINYINTERP_DATA, else "
        "../shared/mlperf-tiny)",
    )
    parser.add_argument("--rows", action="store_true", help="print every result's predictions")
    parser.add_argument(
        "--write-stacks", action="store_true", help="refit and write the shipped stack defaults"
    )
    args = parser.parse_args(argv)
    require(args.data, [RESULTS, "models"])
    results, skipped = read_results(args.data / RESULTS, args.data / "models")
    for note in skipped:
        print(f"skipped: {note}")
    shipped_stacks = {s.name: s for s in profiles.stacks()}
    if args.write_stacks:
        shipped_stacks = write_stacks(results, shipped_stacks)
    shipped = uncalibrated(results, shipped_stacks)
    base = baseline(results)
    for exclude in ("board", "benchmark"):
        out = held_out(results, shipped_stacks, exclude)
        if args.rows and exclude == "board":
            print_rows(results, shipped, out, base)
        columns = {"shipped": shipped, "held-out": out.uncalibrated, "LOBO": out.lobo, "MACs-base": base}
        print_mape(
            f"MAPE % (latency | energy), {len(results)} Cortex-M results; held out: {exclude}",
            results,
            columns,
        )
    print_executed_agreement()
    return 0


if __name__ == "__main__":
    sys.exit(main())
