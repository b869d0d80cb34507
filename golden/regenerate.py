"""Regenerate golden/golden.npz: TFLM's int8 outputs on the MLPerf Tiny datasets and random inputs.

Needs the oracle (`pip install -e .[test]`, which pins tflite-micro) and the shared data:

    python golden/regenerate.py [--data ../shared/mlperf-tiny]

Stored per benchmark (files in label-file order; ad01 items are the sliding windows of all files,
in order): `<bench>/files`, `<bench>/counts` (items per file), `<bench>/outputs` (values, or
one SHA-256 digest per file when an item's output is larger than 64 bytes, see
tinyinterp.testing.vectors.fingerprint). Per model: `random/<model>/outputs` (values or per-item digests)
for RANDOM_COUNT random inputs of seed RANDOM_SEED, and `models/<model>/md5`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

from tinyinterp.model import load_model
from tinyinterp.suite.datasets import BENCHMARKS, model_inputs, read_labels
from tinyinterp.testing.cases import tflm_outputs
from tinyinterp.testing.vectors import fingerprint, random_inputs

GOLDEN = Path(__file__).with_name("golden.npz")
RANDOM_COUNT = 1000
RANDOM_SEED = 20261129
DATASET_BENCHMARKS = ("kws01", "vww01", "ic01", "ad01")


def dataset_inputs(data: Path, benchmark: str) -> tuple[list[str], list[int], np.ndarray]:
    model = load_model(data / "models" / BENCHMARKS[benchmark].model_file)
    tensor = model.main.tensors[model.main.inputs[0]]
    scale, zero_point = float(tensor.quantization.scale[0]), int(tensor.quantization.zero_point[0])
    folder = data / "datasets" / benchmark
    names, counts, items = [], [], []
    for stimulus in read_labels(folder):
        x = model_inputs(
            benchmark, (folder / stimulus.file).read_bytes(), tensor.shape, scale, zero_point, stimulus
        )
        names.append(stimulus.file)
        counts.append(len(x))
        items.append(x)
    return names, counts, np.concatenate(items)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default = os.environ.get(
        "TINYINTERP_DATA", str(Path(__file__).resolve().parents[1].parent / "shared/mlperf-tiny")
    )
    parser.add_argument("--data", type=Path, default=Path(default))
    data = parser.parse_args().data
    arrays: dict[str, np.ndarray] = {}
    for benchmark in DATASET_BENCHMARKS:
        names, counts, inputs = dataset_inputs(data, benchmark)
        outputs = tflm_outputs((data / "models" / BENCHMARKS[benchmark].model_file).read_bytes(), inputs)
        arrays |= {
            f"{benchmark}/files": np.array(names),
            f"{benchmark}/counts": np.array(counts),
            f"{benchmark}/outputs": fingerprint(outputs, np.array(counts)),
        }
        print(f"{benchmark}: {len(names)} files, {len(inputs)} inputs", file=sys.stderr)
    for benchmark in BENCHMARKS.values():
        path = data / "models" / benchmark.model_file
        model = load_model(path)
        tensor = model.main.tensors[model.main.inputs[0]]
        inputs = random_inputs(tensor.shape[1:], RANDOM_COUNT, tensor.dtype.numpy, RANDOM_SEED)
        arrays[f"random/{benchmark.name}/outputs"] = fingerprint(tflm_outputs(path.read_bytes(), inputs))
        arrays[f"models/{benchmark.name}/md5"] = np.array(hashlib.md5(path.read_bytes()).hexdigest())
        print(f"{benchmark.name}: {RANDOM_COUNT} random inputs", file=sys.stderr)
    np.savez_compressed(GOLDEN, **arrays)
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
