"""Our int8 outputs equal the stored TFLM outputs on every dataset stimulus and on random inputs.

The golden file is made by golden/regenerate.py with TFLM; these tests need no TFLM.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from tinyinterp import Interpreter
from tinyinterp.model import load_model
from tinyinterp.suite.datasets import BENCHMARKS, model_inputs, read_labels
from tinyinterp.testing.vectors import fingerprint, random_inputs

GOLDEN_PATH = Path(__file__).resolve().parents[1] / "golden" / "golden.npz"
RANDOM_COUNT = 1000
RANDOM_SEED = 20261129


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    with np.load(GOLDEN_PATH) as archive:
        return {key: archive[key] for key in archive.files}


def assert_same(ours: np.ndarray, expected: np.ndarray, labels: list[str]) -> None:
    """Integer equality, reporting which items differ."""
    assert ours.shape == expected.shape, f"shape {ours.shape} != golden {expected.shape}"
    bad = np.flatnonzero((ours.reshape(len(ours), -1) != expected.reshape(len(expected), -1)).any(axis=1))
    assert bad.size == 0, f"{bad.size} of {len(ours)} differ, first: {[labels[i] for i in bad[:5]]}"


@pytest.mark.parametrize("benchmark_name", ["kws01", "vww01", "ic01", "ad01"])
def test_dataset_outputs_equal_tflm(
    benchmark_name: str, data_dir: Path, golden: dict[str, np.ndarray]
) -> None:
    model_path = data_dir / "models" / BENCHMARKS[benchmark_name].model_file
    assert golden[f"models/{benchmark_name}/md5"] == hashlib.md5(model_path.read_bytes()).hexdigest()
    interpreter = Interpreter(model_path=model_path)
    tensor = interpreter.subgraph.tensors[interpreter.subgraph.inputs[0]]
    scale, zero_point = float(tensor.quantization.scale[0]), int(tensor.quantization.zero_point[0])
    folder = data_dir / "datasets" / benchmark_name
    stimuli = read_labels(folder)
    assert [s.file for s in stimuli] == list(golden[f"{benchmark_name}/files"])
    items = [
        model_inputs(benchmark_name, (folder / s.file).read_bytes(), tensor.shape, scale, zero_point, s)
        for s in stimuli
    ]
    counts = np.array([len(x) for x in items])
    np.testing.assert_array_equal(counts, golden[f"{benchmark_name}/counts"])
    outputs = interpreter.run(np.concatenate(items))[0]
    expected = golden[f"{benchmark_name}/outputs"]
    per_item = len(expected) == len(outputs)
    labels = (
        [s.file for s, n in zip(stimuli, counts) for _ in range(n)] if per_item else [s.file for s in stimuli]
    )
    assert_same(fingerprint(outputs, counts), expected, labels)


@pytest.mark.parametrize("benchmark_name", list(BENCHMARKS))
def test_random_outputs_equal_tflm(
    benchmark_name: str, data_dir: Path, golden: dict[str, np.ndarray]
) -> None:
    model = load_model(data_dir / "models" / BENCHMARKS[benchmark_name].model_file)
    tensor = model.main.tensors[model.main.inputs[0]]
    inputs = random_inputs(tensor.shape[1:], RANDOM_COUNT, tensor.dtype.numpy, RANDOM_SEED)
    outputs = Interpreter(model=model).run(inputs)[0]
    assert_same(
        fingerprint(outputs),
        golden[f"random/{benchmark_name}/outputs"],
        [f"random #{i}" for i in range(RANDOM_COUNT)],
    )
