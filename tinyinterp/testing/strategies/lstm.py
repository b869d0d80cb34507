"""Cases for UNIDIRECTIONAL_SEQUENCE_LSTM (int8, 16x8, float32): batch- and time-major layouts, time
steps, sizes, scales (power-of-two or not cell scales), zero points, cell clipping, and sometimes the
intermediates a converter attaches (TFLM ignores their scales; the cases show it)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from hypothesis import strategies as st

from tinyinterp.model import Model, ModelBuilder
from tinyinterp.testing.cases import OpCase
from tinyinterp.testing.strategies.common import (
    biases,
    cases_for,
    float_weights,
    scales,
    tensor_values,
    typed_biases,
    weights,
    zero_points,
)

# Inputs 1-8: input and recurrent weights of the input, forget, cell and output gates; 12-15 biases.
WEIGHT_INPUTS, RECURRENT_INPUTS, BIAS_INPUTS = range(1, 5), range(5, 9), range(12, 16)
INTERMEDIATES = 5  # what TFLite's quantizer attaches: four gate outputs and the projection input


def _with_intermediates(model: Model, intermediates: tuple[int, ...]) -> Model:
    """The model with its one operator's intermediates set (ModelBuilder does not write them)."""
    subgraph = model.main
    operator = dataclasses.replace(subgraph.operators[0], intermediates=intermediates)
    return dataclasses.replace(model, subgraphs=(dataclasses.replace(subgraph, operators=(operator,)),))


def _biases(cells: int, dtype: str) -> st.SearchStrategy[np.ndarray]:
    """int32 biases for int8, int64 for 16x8, float32 for float (TFLM checks none of their scales)."""
    if dtype == "float32":
        return tensor_values((cells,), dtype)
    return biases(cells, dtype) if dtype == "int8" else typed_biases(cells, "int64")


@st.composite
def _cell_scale(draw: st.DrawFn) -> float:
    """Power-of-two cell scales as converters make them, sometimes not (TFLM rounds the log2)."""
    return draw(st.one_of(st.integers(-15, -6).map(lambda e: 2.0**e), scales(2**-15, 2**-6)))


@cases_for("UNIDIRECTIONAL_SEQUENCE_LSTM", ("int8", "int16", "float32"))
@st.composite
def lstm_cases(draw: st.DrawFn, dtype: str = "int8") -> OpCase:
    batch, steps = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    input_size, cells = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    time_major = draw(st.booleans())
    in_shape = (steps, batch, input_size) if time_major else (batch, steps, input_size)
    out_shape = (*in_shape[:2], cells)
    quantized = dtype != "float32"
    builder = ModelBuilder("tinyinterp.testing case")
    inputs: list[int | None] = [None] * 24

    def quantization(scale: float, zero_point: int = 0) -> dict:
        return {"scale": scale, "zero_point": zero_point} if quantized else {}

    activation_zero_points = zero_points(dtype) if quantized else st.just(0)
    input_quant = quantization(draw(scales(1e-3, 1.0)), draw(activation_zero_points))
    hidden_quant = quantization(draw(scales(1e-3, 1.0)), draw(activation_zero_points))
    inputs[0] = builder.input("input", in_shape, dtype, **input_quant)
    for k in (*WEIGHT_INPUTS, *RECURRENT_INPUTS):
        shape = (cells, input_size if k in WEIGHT_INPUTS else cells)
        values = draw(weights(shape) if quantized else float_weights(shape))
        inputs[k] = builder.constant(f"weights{k}", values, **quantization(draw(scales(1e-3, 0.1))))
    for k in BIAS_INPUTS:
        inputs[k] = builder.constant(f"bias{k}", draw(_biases(cells, dtype)), **quantization(1e-5))
    inputs[18] = builder.tensor("hidden_state", (batch, cells), dtype, **hidden_quant, is_variable=True)
    cell_dtype = "int16" if quantized else "float32"
    cell_quant = quantization(draw(_cell_scale()))
    inputs[19] = builder.tensor("cell_state", (batch, cells), cell_dtype, **cell_quant, is_variable=True)
    y = builder.tensor("output", out_shape, dtype, **hidden_quant)
    cell_clip = draw(st.sampled_from([0.0, 0.0, 0.5, 3.0, 10.0]))
    options: dict[str, Any] = {
        "fused_activation_function": "TANH",
        "cell_clip": cell_clip,
        "time_major": time_major,
    }
    intermediates: tuple[int, ...] = ()
    if quantized and draw(st.booleans()):
        intermediates = tuple(
            builder.tensor(f"intermediate{k}", (0,), "int16", scale=draw(scales(1e-5, 1.0)), zero_point=0)
            for k in range(INTERMEDIATES)
        )
    builder.op("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, [y], **options)
    builder.output(y)
    model = _with_intermediates(builder.build(), intermediates)
    return OpCase("UNIDIRECTIONAL_SEQUENCE_LSTM", dtype, model, (draw(tensor_values(in_shape, dtype)),))
