"""Speed of tinyinterp next to TFLM's Python interpreter and LiteRT, measured in one run.

    pip install -e .[bench]  &&  python bench/speed.py [--data ../shared/mlperf-tiny] [--repeat 200]

Per reference model, in the scenarios of MLPerf Inference's LoadGen: single-stream, the median
batch-1 latency (set input, invoke, get output) of tinyinterp, TFLM Python (`tflite-micro`), LiteRT
with its default (XNNPACK) resolver and with BUILTIN_REF, and the ratio TFLM / tinyinterp; offline,
tinyinterp's batched throughput over the model's dataset (inferences per second through
`Interpreter.run`, all inputs at once). Each engine is warmed up first, so numba's
compile (or cache load) is not in the latency; `--first-call` reports that separately.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from reference_data import default_data_dir, require
from rich.console import Console
from rich.table import Table

from tinyinterp import Interpreter
from tinyinterp.suite.datasets import BENCHMARKS, model_inputs, read_labels
from tinyinterp.testing.vectors import random_inputs


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


def litert_step(path: Path, resolver: str) -> Callable[[np.ndarray], object]:
    from ai_edge_litert import interpreter as litert

    interpreter = litert.Interpreter(
        model_path=str(path), experimental_op_resolver_type=litert.OpResolverType[resolver]
    )
    return litert_api_step(interpreter)


def dataset(data: Path, benchmark: str, interpreter: Interpreter) -> np.ndarray | None:
    folder = data / "datasets" / benchmark
    if benchmark == "sww01" or not folder.is_dir():
        return None
    tensor = interpreter.subgraph.tensors[interpreter.subgraph.inputs[0]]
    scale, zero_point = float(tensor.quantization.scale[0]), int(tensor.quantization.zero_point[0])
    stimuli = read_labels(folder)
    return np.concatenate(
        [
            model_inputs(benchmark, (folder / s.file).read_bytes(), tensor.shape, scale, zero_point, s)
            for s in stimuli
        ]
    )


def throughput(path: Path, inputs: np.ndarray) -> float:
    interpreter = Interpreter(model_path=path)
    interpreter.run(inputs[:2])
    start = time.perf_counter()
    interpreter.run(inputs)
    return len(inputs) / (time.perf_counter() - start)


def first_call_seconds(path: Path) -> float:
    """Wall time of a fresh process that loads the model and gets one result (warm JIT cache)."""
    code = (
        "import sys, numpy as np; from tinyinterp import Interpreter; "
        "i = Interpreter(model_path=sys.argv[1]); d = i.get_input_details()[0]; "
        "i.run(np.zeros(d['shape'], d['dtype']))"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)  # warms the cache
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="$TINYINTERP_DATA by default")
    parser.add_argument("--repeat", type=int, default=200, help="timed batch-1 inferences per engine")
    parser.add_argument("--first-call", action="store_true", help="also time a fresh process's first result")
    args = parser.parse_args()
    require(args.data, [f"models/{b.model_file}" for b in BENCHMARKS.values()])
    table = Table(
        title=f"single-stream: median batch-1 latency, ms ({args.repeat} runs; lower is better); "
        "offline: batched throughput"
    )
    for column in (
        "model",
        "tinyinterp",
        "TFLM Python",
        "LiteRT default",
        "LiteRT BUILTIN_REF",
        "TFLM / tinyinterp",
        "LiteRT / tinyinterp",
        "offline inf/s (batched, dataset)",
    ):
        table.add_column(column, justify="right")
    if args.first_call:
        table.add_column("fresh process, first result, s", justify="right")
    for benchmark in BENCHMARKS.values():
        path = args.data / "models" / benchmark.model_file
        inputs = random_inputs(
            tuple(Interpreter(model_path=path).get_input_details()[0]["shape"][1:]), 50, np.int8, seed=7
        )
        ours = median_seconds(litert_api_step(Interpreter(model_path=path)), inputs, args.repeat)
        tflm = median_seconds(tflm_step(path), inputs, args.repeat)
        litert = median_seconds(litert_step(path, "AUTO"), inputs, args.repeat)
        litert_ref = median_seconds(litert_step(path, "BUILTIN_REF"), inputs, args.repeat)
        stimuli = dataset(args.data, benchmark.name, Interpreter(model_path=path))
        rate = f"{throughput(path, stimuli):,.0f} ({len(stimuli)} inputs)" if stimuli is not None else "-"
        row = [
            benchmark.name,
            f"{ours * 1e3:.3f}",
            f"{tflm * 1e3:.3f}",
            f"{litert * 1e3:.3f}",
            f"{litert_ref * 1e3:.3f}",
            f"{tflm / ours:.1f}x",
            f"{litert / ours:.2f}x",
            rate,
        ]
        if args.first_call:
            row.append(f"{first_call_seconds(path):.2f}")
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()
