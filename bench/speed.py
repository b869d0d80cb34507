"""Speed of tinyinterp next to LiteRT (XNNPACK, BUILTIN_REF) and TFLM's Python interpreter, in one run.

    pip install -e .[bench]  &&  python bench/speed.py [--data DIR] [--items 1024] [--first-call]

Per reference model, in the scenarios of MLPerf Inference's LoadGen:
- single-stream: the median batch-1 latency (set input, invoke, get output) of tinyinterp, LiteRT
  with XNNPACK on 1 thread and with its default threads, LiteRT BUILTIN_REF and TFLM Python;
- offline: tinyinterp's throughput through `Interpreter.run` over `--items` random inputs at once,
  on 1 and 2 threads, in inferences/s and GMAC/s, next to XNNPACK's rate over the same inputs
  invoked one by one (1 thread and default threads), each the median of 3 whole passes;
- the ratios issue 11 targets: tinyinterp's batch-1 latency over XNNPACK's (at most 2x, 3x for
  ad01) and tinyinterp's batched throughput over XNNPACK's batch-1 rate (at least 1x).
Every engine is warmed up first (numba's compile or cache load is not timed) and all run in this
one process, one after the other, so a busy machine slows them alike as long as its load stays
steady: the titles give the load average before and after. `--first-call` adds the wall time from
launching a fresh process to its first result in hand (and to its exit), with a warm numba cache and
with an empty one (every kernel compiles).
The data is found in `--data`, else `$TINYINTERP_DATA`, else ../shared/mlperf-tiny.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from reference_data import default_data_dir, require
from rich.console import Console
from rich.table import Table

from tinyinterp import Interpreter
from tinyinterp.geometry import op_macs
from tinyinterp.suite.datasets import BENCHMARKS
from tinyinterp.testing.vectors import random_inputs

SEED = 7
THREADS = (1, 2)
XNNPACK = ("XNNPACK 1 thread", "XNNPACK default")  # the last is the one issue 11 compares with


def median_seconds(step: Callable[[np.ndarray], object], inputs: np.ndarray, repeat: int) -> float:
    for item in inputs[:5]:
        step(item[np.newaxis])
    times = []
    for k in range(repeat):
        x = inputs[k % len(inputs)][np.newaxis]
        start = time.perf_counter()
        step(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def litert_api_step(interpreter: Any) -> Callable[[np.ndarray], object]:
    """One inference through the LiteRT API, which tinyinterp's Interpreter shares."""
    interpreter.allocate_tensors()
    index_in = interpreter.get_input_details()[0]["index"]
    index_out = interpreter.get_output_details()[0]["index"]

    def step(x: np.ndarray) -> object:
        interpreter.set_tensor(index_in, x)
        interpreter.invoke()
        return interpreter.get_tensor(index_out)

    return step


def tflm_step(path: Path) -> Callable[[np.ndarray], object]:
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_file(str(path))

    def step(x: np.ndarray) -> object:
        interpreter.set_input(x, 0)
        interpreter.invoke()
        return interpreter.get_output(0)

    return step


def litert_step(path: Path, resolver: str, threads: int | None = None) -> Callable[[np.ndarray], object]:
    from ai_edge_litert import interpreter as litert

    interpreter = litert.Interpreter(
        model_path=str(path),
        num_threads=threads,
        experimental_op_resolver_type=litert.OpResolverType[resolver],
    )
    return litert_api_step(interpreter)


def items_per_second(process_all: Callable[[], object], items: int, repeat: int = 3) -> float:
    """Inferences per second of `process_all` (all items, once), over the median of `repeat` runs."""
    process_all()  # warm-up: numba's cache load, BLAS and LiteRT buffers
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        process_all()
        times.append(time.perf_counter() - start)
    return items / statistics.median(times)


def batched(path: Path, inputs: np.ndarray, threads: int) -> Callable[[], object]:
    interpreter = Interpreter(model_path=path, num_threads=threads)
    return lambda: interpreter.run(inputs)


def one_by_one(step: Callable[[np.ndarray], object], inputs: np.ndarray) -> Callable[[], object]:
    """An engine without batched runs: its batch-1 steps, one after the other."""

    def process_all() -> None:
        for item in inputs:
            step(item[np.newaxis])

    return process_all


def first_call_seconds(path: Path, cache: Path) -> tuple[float, float]:
    """Seconds from launching a fresh process that loads the model to its first result in hand, and
    to the process's exit, with numba's cache in `cache` (what it finds there is what it does not
    compile)."""
    code = (
        "import sys, time, numpy as np; from tinyinterp import Interpreter; "
        "i = Interpreter(model_path=sys.argv[1]); d = i.get_input_details()[0]; "
        "i.run(np.zeros(d['shape'], d['dtype'])); print(time.time())"
    )
    start = time.time()  # the child's clock is the wall clock too: its result is stamped with it
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "TINYINTERP_CACHE": str(cache)},
    )
    return float(done.stdout) - start, time.time() - start


@dataclass
class Row:
    """One model's measurements: batch-1 latencies (s) per engine, rates over all inputs (inf/s)."""

    name: str
    macs: int
    latency: dict[str, float]
    rates: dict[str, float]
    # Fresh process, (to the first result, to exit) seconds: with an empty cache, with a warm one.
    first_call: tuple[tuple[float, float], tuple[float, float]] | None = None


def measure(path: Path, name: str, repeat: int, items: int, first_call: bool) -> Row:
    interpreter = Interpreter(model_path=path)
    detail = interpreter.get_input_details()[0]
    inputs = random_inputs(tuple(detail["shape"][1:]), items, detail["dtype"], seed=SEED)
    engines = {
        "tinyinterp": lambda: litert_api_step(interpreter),
        XNNPACK[0]: lambda: litert_step(path, "AUTO", 1),
        XNNPACK[1]: lambda: litert_step(path, "AUTO"),
        "BUILTIN_REF": lambda: litert_step(path, "BUILTIN_REF"),
        "TFLM": lambda: tflm_step(path),
    }
    steps = {engine: make() for engine, make in engines.items()}
    latency = {engine: median_seconds(step, inputs, repeat) for engine, step in steps.items()}
    # Long runs side by side: a busy machine takes its share of each alike (short median runs
    # would dodge it, and flatter the batch-1 engines).
    processes = {f"tinyinterp run, {t} thread{'s' * (t > 1)}": batched(path, inputs, t) for t in THREADS}
    processes |= {f"{engine}, batch-1 loop": one_by_one(steps[engine], inputs) for engine in XNNPACK}
    rates = {label: items_per_second(process_all, items) for label, process_all in processes.items()}
    row = Row(
        name, sum(op_macs(interpreter.subgraph, op) for op in interpreter.subgraph.operators), latency, rates
    )
    if first_call:
        with tempfile.TemporaryDirectory() as cache:
            cold = first_call_seconds(path, Path(cache))
            row.first_call = (cold, first_call_seconds(path, Path(cache)))
    return row


def latency_table(rows: list[Row], repeat: int, load: str) -> Table:
    engines = list(rows[0].latency)
    table = Table(title=f"single-stream: median batch-1 latency, ms ({repeat} runs; lower is better); {load}")
    for column in ("model", *engines, "tinyinterp / XNNPACK default", "TFLM / tinyinterp"):
        table.add_column(column, justify="right")
    for row in rows:
        ours = row.latency["tinyinterp"]
        table.add_row(
            row.name,
            *(f"{row.latency[e] * 1e3:.3f}" for e in engines),
            f"{ours / row.latency[XNNPACK[-1]]:.2f}x",
            f"{row.latency['TFLM'] / ours:.1f}x",
        )
    return table


def throughput_table(rows: list[Row], items: int, load: str) -> Table:
    table = Table(title=f"offline: {items:,} random inputs, inf/s (GMAC/s) (higher is better); {load}")
    processes = list(rows[0].rates)
    columns = ["model", "MMAC/inf", *processes, "best tinyinterp / XNNPACK default"]
    if rows[0].first_call is not None:
        columns += ["fresh process, s to first result (to exit): empty cache", "warm cache"]
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        cells = [row.name, f"{row.macs / 1e6:.2f}"]
        cells += [f"{rate:,.0f} ({rate * row.macs / 1e9:.1f})" for rate in row.rates.values()]
        ours = max(rate for label, rate in row.rates.items() if label.startswith("tinyinterp"))
        cells.append(f"{ours / row.rates[f'{XNNPACK[-1]}, batch-1 loop']:.2f}x")
        if row.first_call is not None:
            cells += [f"{result:.2f} ({end:.2f})" for result, end in row.first_call]
        table.add_row(*cells)
    return table


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="$TINYINTERP_DATA by default")
    parser.add_argument("--repeat", type=int, default=200, help="timed batch-1 inferences per engine")
    parser.add_argument("--items", type=int, default=1024, help="inputs of the batched runs")
    parser.add_argument("--first-call", action="store_true", help="also time a fresh process's first result")
    parser.add_argument("--models", default=",".join(BENCHMARKS), help="benchmarks, comma-separated")
    args = parser.parse_args()
    names = args.models.split(",")
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown or args.repeat < 1 or args.items < 1:
        parser.error(
            f"unknown benchmarks {unknown} (known: {', '.join(BENCHMARKS)})"
            if unknown
            else "--repeat and --items must be positive"
        )
    require(args.data, [f"models/{BENCHMARKS[name].model_file}" for name in names])
    before = load_average()
    rows = [
        measure(
            args.data / "models" / BENCHMARKS[name].model_file, name, args.repeat, args.items, args.first_call
        )
        for name in names
    ]
    load = f"{before} before, {load_average()} after"
    console = Console(width=180)
    console.print(latency_table(rows, args.repeat, load))
    console.print(throughput_table(rows, args.items, load))
    if args.first_call and os.environ.get("PYTHONDONTWRITEBYTECODE"):
        console.print(
            "PYTHONDONTWRITEBYTECODE is set: a fresh process may compile tinyinterp's modules from source "
            "(no __pycache__), about 0.1 s of its first result"
        )


if __name__ == "__main__":
    main()
