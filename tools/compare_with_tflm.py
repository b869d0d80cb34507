"""Run every .tflite under a folder with tinyinterp and TFLM on random inputs and compare integers.

    python tools/compare_with_tflm.py DIR [--inputs 20]

For checking public models kept outside the repository (for example the example and integration-test
models of tensorflow/tflite-micro). Prints one line per model: bit-exact, mismatch (first difference),
or which side refused the model and why. Needs the `tflite-micro` oracle.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tflite_micro.python.tflite_micro import runtime

from tinyinterp import Interpreter
from tinyinterp.errors import TinyInterpError
from tinyinterp.testing import mismatch_report

TFLM_ARENA_BYTES = 4_000_000


def random_input(rng: np.random.Generator, detail: dict) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return rng.uniform(-1, 1, size=detail["shape"]).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, size=detail["shape"]).astype(dtype)


def compare(path: Path, count: int) -> str:
    try:
        ours = Interpreter(model_path=path)
        ours.allocate_tensors()
    except TinyInterpError as error:
        return f"tinyinterp refuses: {error}"
    try:
        reference = runtime.Interpreter.from_file(str(path), arena_size=TFLM_ARENA_BYTES)
    except RuntimeError as error:
        return f"TFLM refuses: {error}"
    rng = np.random.default_rng(0)
    for item in range(count):
        for position, detail in enumerate(ours.get_input_details()):
            x = random_input(rng, detail)
            ours.set_tensor(detail["index"], x)
            reference.set_input(x, position)
        ours.invoke()
        reference.invoke()
        for k, detail in enumerate(ours.get_output_details()):
            report = mismatch_report(ours.get_tensor(detail["index"]), reference.get_output(k), f"output {k}")
            if report:
                return f"MISMATCH on input {item}: {report.splitlines()[0]}"
    ops = ",".join(sorted({op.opcode for op in ours.subgraph.operators}))
    return f"bit-exact on {count} random inputs ({ops})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument("--inputs", type=int, default=20)
    args = parser.parse_args()
    results = [(p, compare(p, args.inputs)) for p in sorted(args.folder.rglob("*.tflite"))]
    for path, result in results:
        print(f"{path.relative_to(args.folder)}: {result}")
    exact = sum(r.startswith("bit-exact") for _, r in results)
    print(f"{exact} of {len(results)} models bit-exact")


if __name__ == "__main__":
    main()
