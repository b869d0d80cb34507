"""Fit the instructions per loop body of CMSIS-NN's kernels (tinyinterp/cost/data/loops/) to executed counts.

    python bench/fit_loops.py            # fit, print the agreement per kernel call, write the data files
    python bench/fit_loops.py --check    # fail (exit 1) if the committed data files differ from a refit

Reads bench/data/executed_counts_<m4|m3|m0plus|m55>.json (written by bench/executed_counts.py: the DSP path,
the plain-C path in Armv7-M and in Armv6-M code, the MVE path) and, for every kernel, finds the instructions
by class of each loop body of `tinyinterp.cost.loops.trips` by non-negative least squares over the measured
calls (relative errors, so small and large calls weigh alike). It prints, per kernel call, the executed and
modelled instruction totals, their ratio, and leave-one-out: each call predicted by the bodies fitted
without it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinyinterp.cost import loops  # noqa: E402

DATA = ROOT / "bench" / "data"
# Measurements (tinyinterp.cost.loops.dataset): the kernel path they ran and the file of executed counts.
SOURCES = {
    "dsp": ("dsp", "executed_counts_m4.json"),
    "c": ("c", "executed_counts_m3.json"),
    "c-armv6m": ("c", "executed_counts_m0plus.json"),
    "mve": ("mve", "executed_counts_m55.json"),
}
SHAPE_FIELDS = tuple(loops.KernelShape.__dataclass_fields__)


def nnls(a: np.ndarray, b: np.ndarray, iterations: int = 200) -> np.ndarray:
    """min |a x - b| subject to x >= 0 (Lawson and Hanson's active set method)."""
    n = a.shape[1]
    x, passive = np.zeros(n), np.zeros(n, dtype=bool)
    for _ in range(iterations):
        gradient = a.T @ (b - a @ x)
        candidates = ~passive & (gradient > 1e-9 * max(1.0, float(np.abs(gradient).max())))
        if not candidates.any():
            break
        passive[np.argmax(np.where(candidates, gradient, -np.inf))] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            blocked = passive & (z <= 0)
            step = np.min(x[blocked] / (x[blocked] - z[blocked]))
            x = x + step * (z - x)
            passive &= x > 1e-12
    return x


def calls(data: str) -> list[dict]:
    """The measured calls of `data`: those TFLM makes (wrappers, or the kernel itself) and direct calls."""
    records = json.loads((DATA / SOURCES[data][1]).read_text())["records"]
    return [r for r in records if r["selected"] in loops.TRIPS]


def shape_of(record: dict) -> loops.KernelShape:
    return loops.KernelShape(**{k: record["shape"][k] for k in SHAPE_FIELDS if k in record["shape"]})


def features(records: list[dict], path: str) -> tuple[list[str], np.ndarray]:
    rows = [
        loops.trips(r["selected"], path, shape_of(r), wrapped=r["function"] != r["selected"]) for r in records
    ]
    names = sorted({name for row in rows for name in row})
    return names, np.array([[row.get(name, 0.0) for name in names] for row in rows])


def fit(records: list[dict], path: str) -> dict[str, dict[str, float]]:
    """Instructions by class per loop body, fitted on `records` (calls of one kernel)."""
    names, a = features(records, path)
    weights = 1.0 / np.array([max(r["instructions"]["total"], 1) for r in records])
    bodies: dict[str, dict[str, float]] = {name: {} for name in names}
    for cls in loops.CLASSES:
        b = np.array([r["instructions"][cls] for r in records], dtype=float)
        x = nnls(a * weights[:, None], b * weights)
        for name, value in zip(names, x, strict=True):
            if value > 1e-6:
                bodies[name][cls] = round(float(value), 4)
    return {name: costs for name, costs in bodies.items() if costs}


def weights_read(record: dict) -> int:
    return record["memory"].get("weights", {}).get("read_bytes", 0)


def reads_weights(records: list[dict]) -> bool:
    """Whether the calls read weights and the measurements count data accesses by region (qemu, which runs
    the MVE path, does not)."""
    return all(r.get("memory") for r in records) and any(weights_read(r) for r in records)


def fit_weight_reads(records: list[dict], path: str) -> dict[str, float]:
    """Bytes of filter (or FC weights) each loop body reads, fitted on `records` (calls of one kernel)."""
    names, a = features(records, path)
    b = np.array([weights_read(r) for r in records], dtype=float)
    weights = 1.0 / np.maximum(b, 1.0)
    x = nnls(a * weights[:, None], b * weights)
    return {name: round(float(value), 4) for name, value in zip(names, x, strict=True) if value > 1e-6}


def modelled_total(bodies: dict[str, dict[str, float]], record: dict, path: str) -> float:
    t = loops.trips(
        record["selected"], path, shape_of(record), wrapped=record["function"] != record["selected"]
    )
    return sum(times * sum(bodies.get(body, {}).values()) for body, times in t.items())


Rows = list[tuple[str, str, int, float, float]]  # kernel, shape, executed, modelled, leave-one-out


def fit_path(data: str, leave_one_out: bool = True) -> tuple[dict, dict, Rows, Rows]:
    """Bodies per kernel, weight bytes per body (empty without memory counts) and, per call, the
    instruction totals and the weight bytes read, executed against modelled."""
    records, path = calls(data), SOURCES[data][0]
    kernels: dict[str, dict] = {}
    reads: dict[str, dict[str, float]] = {}
    rows: Rows = []
    read_rows: Rows = []
    for kernel in sorted({r["selected"] for r in records}):
        mine = [r for r in records if r["selected"] == kernel]
        kernels[kernel] = fit(mine, path)
        if reads_weights(mine):
            reads[kernel] = fit_weight_reads(mine, path)
            read_rows += _weight_rows(kernel, mine, reads[kernel], path)
        for i, r in enumerate(mine):
            others = mine[:i] + mine[i + 1 :]
            left_out = (
                modelled_total(fit(others, path), r, path)
                if leave_one_out and len(others) > 1
                else float("nan")
            )
            shape = shape_label(r)
            label = kernel if r["function"] == kernel else f"{kernel} (wrapper)"
            rows.append(
                (label, shape, r["instructions"]["total"], modelled_total(kernels[kernel], r, path), left_out)
            )
    return kernels, {k: v for k, v in reads.items() if v}, rows, read_rows


def _weight_rows(kernel: str, records: list[dict], per_body: dict[str, float], path: str) -> Rows:
    """Per call: executed and modelled weight bytes read (no leave-one-out: the bodies' bytes are exact
    counts of the source's loads, not estimates)."""
    rows: Rows = []
    for r in records:
        executed = weights_read(r)
        t = loops.trips(kernel, path, shape_of(r), wrapped=r["function"] != r["selected"])
        modelled = loops.per_call(t, per_body)
        rows.append((kernel, shape_label(r), executed, modelled, float("nan")))
    return rows


def shape_label(record: dict) -> str:
    fields = {k: v for k, v in record["shape"].items() if k in SHAPE_FIELDS and v not in (0, 1)}
    return " ".join(f"{k}={v}" for k, v in fields.items())


def document(data: str, kernels: dict, reads: dict) -> dict:
    path, file = SOURCES[data]
    source = json.loads((DATA / file).read_text())
    return {
        "description": (
            f"Instructions by class per execution of each loop body of CMSIS-NN's kernels on the {path} path "
            "(tinyinterp.cost.loops.trips names the bodies); fitted by bench/fit_loops.py to "
            f"bench/data/{file} ({source['core']})."
        ),
        "core": source["core"],
        "versions": source["versions"],
        "kernels": kernels,
        # Bytes of weights read per execution of each loop body (from the emulator's counts of data accesses
        # by region): what flash stalls are counted on. Absent for measurements without memory counts.
        **({"weight_read_bytes": reads} if reads else {}),
    }


def report(path: str, rows: Rows, what: str = "instructions") -> None:
    print(f"\n{path}: executed {what} per call against trip counts x fitted body costs")
    print(f"{'kernel':44} {'shape':60} {'executed':>10} {'model':>10} {'m/e':>6} {'LOO/e':>6}")
    for label, shape, executed, modelled, left_out in rows:
        print(
            f"{label:44} {shape[:60]:60} {executed:10d} {modelled:10.0f} {modelled / executed:6.3f} "
            f"{left_out / executed:6.3f}"
        )
    errors = [abs(m / e - 1) for _, _, e, m, _ in rows]
    loo = [abs(x / e - 1) for _, _, e, _, x in rows if x == x]
    held_out = f"; leave-one-out max {max(loo):.1%}, mean {np.mean(loo):.2%}" if loo else ""
    print(
        f"{path} {what}: {len(rows)} calls, |model/executed - 1| max {max(errors):.1%}, "
        f"mean {np.mean(errors):.2%}{held_out}; within 5%: {sum(e <= 0.05 for e in errors)}/{len(errors)}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare a refit with the committed files")
    parser.add_argument("--data", choices=sorted(SOURCES), action="append", help="only these measurements")
    args = parser.parse_args(argv)
    stale = []
    for data in args.data or sorted(SOURCES):
        kernels, reads, rows, read_rows = fit_path(data, leave_one_out=not args.check)
        report(data, rows)
        if read_rows:
            report(data, read_rows, "weight bytes read")
        file = loops.LOOP_DATA / f"{data}.json"
        text = json.dumps(document(data, kernels, reads), indent=1, sort_keys=True) + "\n"
        if args.check:
            if not file.exists() or file.read_text() != text:
                stale.append(str(file))
        else:
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text)
            print(f"wrote {file.relative_to(ROOT)}")
    for file in stale:
        print(f"stale: {file} (run python bench/fit_loops.py)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
