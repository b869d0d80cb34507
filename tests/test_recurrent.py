"""The GRU built from TFLM operators: bit-exact with TFLM, and a GRU (close to a float GRU)."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from tinyinterp.errors import ModelError
from tinyinterp.interpreter import Interpreter
from tinyinterp.model import Model, ModelBuilder, save_model
from tinyinterp.model.recurrent import GruWeights, add_gru, random_gru_weights
from tinyinterp.testing import assert_bit_exact, tflm_outputs
from tinyinterp.testing.vectors import random_inputs
from tinyinterp.zoo import TINYEATS, open_model

INPUT_QUANTIZATION = (0.02, 3)


def gru_model(weights: GruWeights, steps: int) -> Model:
    """x [1, steps, inputs] -> UNPACK -> GRU -> the last hidden state."""
    builder = ModelBuilder()
    scale, zero_point = INPUT_QUANTIZATION
    x = builder.input("x", (1, steps, weights.inputs), "int8", scale=scale, zero_point=zero_point)
    frames = [
        builder.tensor(f"x{t}", (1, weights.inputs), "int8", scale=scale, zero_point=zero_point)
        for t in range(steps)
    ]
    builder.op("UNPACK", [x], frames, version=2, num=steps, axis=1)
    h, _, _ = add_gru(builder, frames, INPUT_QUANTIZATION, weights)
    builder.output(h)
    return builder.build()


def float_gru(weights: GruWeights, x: np.ndarray) -> np.ndarray:
    """Keras GRU(reset_after=True) in float64, written from its equations: x [steps, inputs]."""
    units = weights.units
    h = np.zeros(units)
    for frame in x:
        xw = frame @ weights.kernel + weights.bias[0]
        hw = h @ weights.recurrent_kernel + weights.bias[1]
        z = 1 / (1 + np.exp(-(xw[:units] + hw[:units])))
        r = 1 / (1 + np.exp(-(xw[units : 2 * units] + hw[units : 2 * units])))
        n = np.tanh(xw[2 * units :] + r * hw[2 * units :])
        h = z * h + (1 - z) * n
    return h


def test_zoo_tinyeats_gru_equals_tflm(tflm: ModuleType) -> None:
    model = open_model("zoo:tinyeats-gru")
    inputs = random_inputs((TINYEATS["steps"], TINYEATS["features"]), 50, np.int8, seed=13)
    ours = Interpreter(model=model).run(inputs)[0]
    assert_bit_exact(ours, tflm_outputs(save_model(model), inputs))
    assert len(np.unique(ours[:, 0])) > 5  # the scores depend on the input


@pytest.mark.parametrize(("inputs", "units", "steps"), [(3, 5, 4), (7, 2, 1)])
def test_gru_of_any_size_equals_tflm(tflm: ModuleType, inputs: int, units: int, steps: int) -> None:
    model = gru_model(random_gru_weights(np.random.default_rng(units), inputs, units), steps)
    x = random_inputs((steps, inputs), 30, np.int8, seed=inputs)
    assert_bit_exact(Interpreter(model=model).run(x)[0], tflm_outputs(save_model(model), x))


def test_gru_follows_the_float_gru() -> None:
    rng = np.random.default_rng(0)
    weights = GruWeights(
        rng.uniform(-0.8, 0.8, (4, 18)), rng.uniform(-0.8, 0.8, (6, 18)), rng.uniform(-0.3, 0.3, (2, 18))
    )
    steps = 5
    model = gru_model(weights, steps)
    x = rng.integers(-60, 60, size=(20, steps, 4)).astype(np.int8)
    h = Interpreter(model=model).run(x)[0]
    output = model.main.tensors[model.main.outputs[0]].quantization
    real = (h.astype(np.float64) - output.zero_point[0]) * output.scale[0]
    scale, zero_point = INPUT_QUANTIZATION
    expected = np.array([float_gru(weights, (item.astype(np.float64) - zero_point) * scale) for item in x])
    # int8 states carry ~1% error per step; the float GRU's states reach several tenths
    assert np.abs(real - expected).max() < 0.05
    assert np.abs(expected).max() > 0.3


def test_gru_weights_of_wrong_shape_are_refused() -> None:
    weights = random_gru_weights(np.random.default_rng(0), 3, 4)
    bad = GruWeights(weights.kernel, weights.recurrent_kernel[:, :5], weights.bias)
    with pytest.raises(ModelError, match=r"GRU recurrent_kernel: shape \[4, 5\], expected \[4, 12\]"):
        gru_model(bad, 2)
    with pytest.raises(ModelError, match=r"GRU bias: shape \[24\], expected a matrix"):
        gru_model(GruWeights(weights.kernel, weights.recurrent_kernel, weights.bias.ravel()), 2)
    with pytest.raises(ModelError, match="GRU kernel: non-finite values"):
        gru_model(GruWeights(weights.kernel * np.nan, weights.recurrent_kernel, weights.bias), 2)
