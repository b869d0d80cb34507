"""The LiteRT-style API: details, set/invoke/get, batched runs, and clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest

from tinyinterp import InputError, Interpreter, ModelBuilder, UnsupportedOpError
from tinyinterp.model import save_model
from tinyinterp.testing.vectors import random_inputs
from tinyinterp.zoo import stand_in

LITERT_KEYS = {
    "name",
    "index",
    "shape",
    "shape_signature",
    "dtype",
    "quantization",
    "quantization_parameters",
}


@pytest.fixture(scope="module")
def kws() -> Interpreter:
    interpreter = Interpreter(model_content=save_model(stand_in("kws")))
    interpreter.allocate_tensors()
    return interpreter


def test_details_have_litert_keys(kws: Interpreter) -> None:
    (detail,) = kws.get_input_details()
    assert set(detail) >= LITERT_KEYS
    assert detail["dtype"] is np.int8
    assert list(detail["shape"]) == [1, 49, 10, 1]
    assert set(detail["quantization_parameters"]) == {"scales", "zero_points", "quantized_dimension"}
    scale, zero_point = detail["quantization"]
    assert scale == pytest.approx(0.5847029) and zero_point == 83


def test_set_invoke_get_equals_batched_run(kws: Interpreter) -> None:
    inputs = random_inputs((49, 10, 1), 70, np.int8, seed=5)  # more than one batch chunk of 64
    batched = kws.run(inputs)[0]
    input_index = kws.get_input_details()[0]["index"]
    output_index = kws.get_output_details()[0]["index"]
    for k in (0, 63, 64, 69):
        kws.set_tensor(input_index, inputs[k : k + 1])
        kws.invoke()
        np.testing.assert_array_equal(kws.get_tensor(output_index), batched[k : k + 1])


def test_get_tensor_returns_a_copy(kws: Interpreter) -> None:
    index = kws.get_input_details()[0]["index"]
    kws.set_tensor(index, np.zeros((1, 49, 10, 1), np.int8))
    kws.get_tensor(index)[...] = 5
    assert not kws.get_tensor(index).any()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.zeros((1, 49, 10, 1), np.float32), "expects dtype int8, got float32"),
        (np.zeros((1, 49, 10), np.int8), "expects shape [1, 49, 10, 1], got [1, 49, 10]"),
        (np.zeros((2, 49, 10, 1), np.int8), "expects shape [1, 49, 10, 1], got [2, 49, 10, 1]"),
    ],
)
def test_wrong_input_names_tensor_and_expectation(kws: Interpreter, value: np.ndarray, message: str) -> None:
    index = kws.get_input_details()[0]["index"]
    with pytest.raises(InputError, match=r"input tensor \d+ 'input'") as error:
        kws.set_tensor(index, value)
    assert message in str(error.value)


def test_run_checks_batched_shape_and_count(kws: Interpreter) -> None:
    expected = r"expects shape \[N, 49, 10, 1\] \(N items of its shape \[1, 49, 10, 1\]\), got \[3, 49, 10\]"
    with pytest.raises(InputError, match=expected):
        kws.run(np.zeros((3, 49, 10), np.int8))
    with pytest.raises(InputError, match="has 1 inputs, got 2"):
        kws.run(np.zeros((1, 49, 10, 1), np.int8), np.zeros((1, 49, 10, 1), np.int8))


def test_bad_indices_and_order() -> None:
    interpreter = Interpreter(model=stand_in("ad"))
    with pytest.raises(InputError, match="allocate_tensors"):
        interpreter.invoke()
    interpreter.allocate_tensors()
    with pytest.raises(InputError, match="was not set"):
        interpreter.invoke()
    with pytest.raises(InputError, match="out of range"):
        interpreter.get_tensor(10_000)
    with pytest.raises(InputError, match="not a model input"):
        interpreter.set_tensor(interpreter.get_output_details()[0]["index"], np.zeros((1, 640), np.int8))
    with pytest.raises(InputError, match="exactly one"):
        Interpreter()


def test_unsupported_ops_are_listed_at_load() -> None:
    builder = ModelBuilder()
    x = builder.input("x", (1, 4), "float32")
    y = builder.tensor("y", (1, 4), "float32")
    z = builder.tensor("z", (1, 4), "float32")
    builder.op("EXP", [x], [y])
    builder.op("LOG", [y], [z])
    builder.output(z)
    with pytest.raises(UnsupportedOpError, match="unsupported operators: EXP, LOG"):
        Interpreter(model_content=builder.build_bytes())


def test_batched_add_of_a_lower_rank_input_equals_item_by_item() -> None:
    builder = ModelBuilder()
    x = builder.input("x", (1, 3), "int8", scale=0.1, zero_point=0)
    c = builder.constant("c", np.array([[[1, 2, 3]]], np.int8), scale=0.1, zero_point=0)
    y = builder.tensor("y", (1, 1, 3), "int8", scale=0.2, zero_point=0)
    builder.op("ADD", [x, c], [y])
    builder.output(y)
    interpreter = Interpreter(model_content=builder.build_bytes())
    inputs = np.arange(6, dtype=np.int8).reshape(2, 3)
    batched = interpreter.run(inputs)[0]
    assert batched.shape == (2, 1, 3)
    for k in range(2):
        np.testing.assert_array_equal(interpreter.run(inputs[k : k + 1])[0], batched[k : k + 1])


def test_run_on_two_threads_equals_one_thread_and_invoke() -> None:
    """Chunks computed side by side land in their own items; the IC stand-in's 3x3 convolutions
    take one item per tile, so tile boundaries fall inside every chunk."""
    model = save_model(stand_in("ic"))
    inputs = random_inputs((32, 32, 3), 40, np.int8, seed=11)
    one_thread = Interpreter(model_content=model, num_threads=1).run(inputs)[0]
    two_threads = Interpreter(model_content=model, num_threads=2).run(inputs)[0]
    np.testing.assert_array_equal(two_threads, one_thread)
    interpreter = Interpreter(model_content=model)
    interpreter.allocate_tensors()
    for k in (0, 19, 20, 39):
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], inputs[k : k + 1])
        interpreter.invoke()
        np.testing.assert_array_equal(
            interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), one_thread[k : k + 1]
        )


@pytest.mark.parametrize("threads", [0, -2, 1.5, True, "2"])
def test_num_threads_must_be_a_positive_integer(threads: object) -> None:
    with pytest.raises(InputError, match=r"num_threads must be a positive integer or None, got "):
        Interpreter(model_content=save_model(stand_in("kws")), num_threads=threads)  # type: ignore[arg-type]
