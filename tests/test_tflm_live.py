"""Live comparison with TFLM (the `tflite-micro` package): random inputs and the zoo stand-ins.

The `tflm` fixture makes each test skip without the oracle (and fail on CI).

The default run checks 1,000 random inputs per reference model; `pytest -m slow` checks 10,000.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import REFERENCE_MODELS

from tinyinterp import Interpreter
from tinyinterp.model import load_model, save_model
from tinyinterp.testing import tflm_outputs
from tinyinterp.testing.vectors import random_inputs
from tinyinterp.zoo import NAMES, stand_in


def assert_equal_to_tflm(model_bytes: bytes, count: int, seed: int) -> None:
    model = load_model(model_bytes)
    tensor = model.main.tensors[model.main.inputs[0]]
    inputs = random_inputs(tensor.shape[1:], count, tensor.dtype.numpy, seed)
    ours = Interpreter(model=model).run(inputs)[0]
    expected = tflm_outputs(model_bytes, inputs)
    differing = np.flatnonzero((ours.reshape(count, -1) != expected.reshape(count, -1)).any(axis=1))
    assert differing.size == 0, f"{differing.size} of {count} inputs differ from TFLM, first: {differing[:5]}"


@pytest.mark.usefixtures("tflm")
@pytest.mark.parametrize("name", REFERENCE_MODELS)
def test_random_inputs_equal_tflm(name: str, data_dir: Path) -> None:
    assert_equal_to_tflm((data_dir / "models" / name).read_bytes(), count=1000, seed=1)


@pytest.mark.slow
@pytest.mark.usefixtures("tflm")
@pytest.mark.parametrize("name", REFERENCE_MODELS)
def test_many_random_inputs_equal_tflm(name: str, data_dir: Path) -> None:
    assert_equal_to_tflm((data_dir / "models" / name).read_bytes(), count=10_000, seed=2)


@pytest.mark.usefixtures("tflm")
@pytest.mark.parametrize("name", NAMES)
def test_zoo_stand_ins_equal_tflm(name: str) -> None:
    assert_equal_to_tflm(save_model(stand_in(name)), count=200, seed=3)
