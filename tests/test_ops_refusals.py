"""Models TFLM would misread (garbage or a crash) or refuses are refused in prepare with a ModelError
that names the operator and the tensor, never a numba error at run time."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tinyinterp import Interpreter, ModelBuilder
from tinyinterp.errors import ModelError
from tinyinterp.model import Model
from tinyinterp.testing import OpCase, run_tflm

Q = {"scale": 0.05, "zero_point": 0}


def transpose_conv_16x8_with_int32_bias() -> Model:
    b = ModelBuilder()
    shape = b.constant("output_shape", np.array([1, 4, 4, 2], np.int32))
    w = b.constant("filters", np.ones((2, 3, 3, 1), np.int8), **Q)
    x = b.input("x", (1, 2, 2, 1), "int16", **Q)
    bias = b.constant("bias", np.zeros(2, np.int32), scale=0.0025, zero_point=0)
    y = b.tensor("y", (1, 4, 4, 2), "int16", **Q)
    b.op("TRANSPOSE_CONV", [shape, w, x, bias], [y], padding="SAME", stride_h=2, stride_w=2)
    b.output(y)
    return b.build()


def svdf_without_variable_state() -> Model:
    b = ModelBuilder()
    x = b.input("x", (1, 3), "float32")
    feature = b.constant("feature", np.ones((2, 3), np.float32))
    time = b.constant("time", np.ones((2, 4), np.float32))
    bias = b.constant("bias", np.zeros(2, np.float32))
    state = b.tensor("state", (1, 8), "float32")
    y = b.tensor("y", (1, 2), "float32")
    b.op("SVDF", [x, feature, time, bias, state], [y], rank=1)
    b.output(y)
    return b.build()


def lstm_with_peepholes() -> Model:
    b = ModelBuilder()
    inputs: list[int | None] = [None] * 24
    inputs[0] = b.input("x", (1, 2, 3), "float32")
    for k in range(1, 9):
        inputs[k] = b.constant(f"w{k}", np.ones((4, 3 if k < 5 else 4), np.float32))
    inputs[9] = b.constant("peephole", np.ones(4, np.float32))
    for k in range(12, 16):
        inputs[k] = b.constant(f"b{k}", np.zeros(4, np.float32))
    inputs[18] = b.tensor("hidden", (1, 4), "float32", is_variable=True)
    inputs[19] = b.tensor("cell", (1, 4), "float32", is_variable=True)
    y = b.tensor("y", (1, 2, 4), "float32")
    b.op("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, [y], fused_activation_function="TANH")
    b.output(y)
    return b.build()


def batch_matmul_unbroadcastable() -> Model:
    b = ModelBuilder()
    lhs, rhs = b.input("lhs", (2, 3, 4), "float32"), b.input("rhs", (3, 4, 5), "float32")
    y = b.tensor("y", (2, 3, 5), "float32")
    b.op("BATCH_MATMUL", [lhs, rhs], [y])
    b.output(y)
    return b.build()


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            transpose_conv_16x8_with_int32_bias,
            r"operator 0 \(TRANSPOSE_CONV\): tensor 3 'bias' has dtype INT32",
        ),
        (
            svdf_without_variable_state,
            r"operator 0 \(SVDF\): input 4 is tensor 4 'state', which has no value: it is not a constant, "
            "a variable",
        ),
        (lstm_with_peepholes, r"operator 0 \(UNIDIRECTIONAL_SEQUENCE_LSTM\): input 9 \(peephole\)"),
        (batch_matmul_unbroadcastable, r"operator 0 \(BATCH_MATMUL\): batch dimensions"),
    ],
)
def test_refused_in_prepare(model: Callable[[], Model], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        Interpreter(model=model()).allocate_tensors()


def conversion(opcode: str, input_dtype: str, output_dtype: str, output_scale: Any = 0.05) -> Model:
    """A QUANTIZE or DEQUANTIZE of a (2, 3) tensor; a float32 tensor gets no quantization."""
    b = ModelBuilder()
    x = b.input("x", (2, 3), input_dtype, **({} if input_dtype == "float32" else Q))
    quantization = {} if output_dtype == "float32" else {"scale": output_scale, "zero_point": 0}
    y = b.tensor("y", (2, 3), output_dtype, **quantization, quantized_dimension=1)
    b.op(opcode, [x], [y])
    b.output(y)
    return b.build()


def quantize_to_unquantized_int32() -> Model:
    b = ModelBuilder()
    x = b.input("x", (2, 3), "int8", **Q)
    y = b.tensor("y", (2, 3), "int32")
    b.op("QUANTIZE", [x], [y])
    b.output(y)
    return b.build()


def relu6_beyond_int32() -> Model:
    """A fused RELU6 whose bound, 6 / output scale, is beyond int32: TFLM's Quantize() refuses it."""
    b = ModelBuilder()
    x = b.input("x", (1, 1), "int8", scale=4.769268e-07, zero_point=0)
    w = b.constant("w", np.array([[5]], np.int8), scale=0.00390625, zero_point=0)
    y = b.tensor("y", (1, 1), "int8", scale=1.8648603e-09, zero_point=0)
    b.op("FULLY_CONNECTED", [x, w], [y], fused_activation_function="RELU6")
    b.output(y)
    return b.build()


@pytest.mark.parametrize(
    ("model", "message", "tflm_log"),
    [
        (
            relu6_beyond_int32,
            r"operator 0 \(FULLY_CONNECTED\): fused activation RELU6 on the output: 6 quantized with scale "
            r"1.86486e-09 overflows int32",
            "no_integer_overflow_from_quantization was not true",
        ),
        (
            partial(conversion, "QUANTIZE", "float32", "int32"),
            r"operator 0 \(QUANTIZE\): from tensor 0 'x' \(FLOAT32\) to tensor 1 'y' \(INT32\): TFLM has no",
            "Input FLOAT32, output INT32 not supported",
        ),
        (
            partial(conversion, "QUANTIZE", "int32", "int32"),
            r"operator 0 \(QUANTIZE\): from tensor 0 'x' \(INT32\) to tensor 1 'y' \(INT32\): TFLM has no",
            "Input INT32, output INT32 not supported",
        ),
        (
            partial(conversion, "QUANTIZE", "int16", "int32", output_scale=[0.05, 0.1, 0.2]),
            r"operator 0 \(QUANTIZE\): tensor 1 'y' is quantized per channel",
            "affine_quantization->scale->size == 1 was not true",
        ),
        (
            quantize_to_unquantized_int32,
            r"operator 0 \(QUANTIZE\): tensor 1 'y' must be quantized",
            "output->quantization.type != kTfLiteAffineQuantization",
        ),
        (
            partial(conversion, "DEQUANTIZE", "int32", "float32"),
            r"operator 0 \(DEQUANTIZE\): tensor 0 'x' has dtype INT32, expected INT8 or INT16",
            "input->type == kTfLiteInt8 || input->type == kTfLiteInt16 || input->type == kTfLiteUInt8",
        ),
    ],
)
def test_refused_as_tflm_refuses(
    model: Callable[[], Model], message: str, tflm_log: str, tflm: ModuleType, capfd: pytest.CaptureFixture
) -> None:
    """Models TFLM refuses, in Prepare or (no kernel for the dtypes) in Eval, for the reason it logs."""
    refused = model()
    with pytest.raises(ModelError, match=message):
        Interpreter(model=refused).allocate_tensors()
    x = refused.main.tensors[refused.main.inputs[0]]
    case = OpCase(refused.main.operators[0].opcode, "refused", refused, (np.zeros(x.shape, x.dtype.numpy),))
    with pytest.raises(RuntimeError):
        run_tflm(case)
    assert tflm_log in "".join(capfd.readouterr())
