"""Wall time of a fresh `tinyinterp estimate` process per reference model (best of --repeat runs).

    python bench/estimate_time.py [--data ../shared/mlperf-tiny] [--repeat 3]

Estimating needs shapes only, so the whole process (Python start, imports, reading the model,
the cost model) should answer well under a second; numba is never imported on this path.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from reference_data import default_data_dir, require

from tinyinterp.suite.datasets import BENCHMARKS


def best_wall_time(command: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="$TINYINTERP_DATA by default")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--board", default="nucleo-l4r5zi")
    args = parser.parse_args()
    require(args.data, [f"models/{b.model_file}" for b in BENCHMARKS.values()])
    for benchmark in BENCHMARKS.values():
        model = args.data / "models" / benchmark.model_file
        command = [sys.executable, "-m", "tinyinterp.cli", "estimate", str(model), "--board", args.board]
        print(f"{benchmark.model_file:32} {best_wall_time(command, args.repeat):.3f} s")


if __name__ == "__main__":
    main()
