"""Hostile and unusual models: each escape the mutation campaign of issue 10 found, as a
regression test. A model the interpreter cannot run is a ModelError naming the operator or
tensor, raised before anything is allocated; a bad input is an InputError."""

from __future__ import annotations

import dataclasses
import tracemalloc

import numpy as np
import pytest
from conftest import import_required

from tinyinterp import Interpreter, ModelBuilder, load_model, save_model
from tinyinterp.errors import InputError, ModelError
from tinyinterp.interpreter import batch_shape
from tinyinterp.model.ir import Model, Quantization, Tensor, TensorType
from tinyinterp.testing import OpCase, run_tflm
from tinyinterp.zoo import stand_in


def dense(units: int = 4, features: int = 8, activation: str = "NONE") -> Model:
    """x [1, features] -> FULLY_CONNECTED -> LEAKY_RELU -> y [1, units], int8."""
    b = ModelBuilder()
    x = b.input("x", (1, features), "int8", scale=0.05, zero_point=-3)
    w = b.constant("w", np.ones((units, features), np.int8), scale=0.01, zero_point=0)
    h = b.tensor("h", (1, units), "int8", scale=0.1, zero_point=1)
    y = b.tensor("y", (1, units), "int8", scale=0.1, zero_point=1)
    b.op("FULLY_CONNECTED", [x, w, -1], [h], fused_activation_function=activation)
    b.op("LEAKY_RELU", [h], [y], alpha=0.2)
    b.output(y)
    return b.build()


def edit_subgraph(model: Model, **changes: object) -> Model:
    return dataclasses.replace(model, subgraphs=(dataclasses.replace(model.main, **changes),))


def edit_tensor(model: Model, index: int, **changes: object) -> Model:
    tensors = list(model.main.tensors)
    tensors[index] = dataclasses.replace(tensors[index], **changes)
    return edit_subgraph(model, tensors=tuple(tensors))


def edit_operator(model: Model, index: int, **changes: object) -> Model:
    operators = list(model.main.operators)
    operators[index] = dataclasses.replace(operators[index], **changes)
    return edit_subgraph(model, operators=tuple(operators))


def swapped_operators(model: Model) -> Model:
    first, second = model.main.operators
    return edit_subgraph(
        model,
        operators=(dataclasses.replace(second, index=0), dataclasses.replace(first, index=1)),
    )


def refused(model: Model, match: str) -> None:
    """Refused when loaded from its bytes, as a user would meet it."""
    with pytest.raises(ModelError, match=match):
        Interpreter(model_content=save_model(model)).allocate_tensors()


# ---- graph order: nothing reads a tensor without a value ----------------------------------


def test_operators_out_of_order_name_the_late_producer() -> None:
    refused(
        swapped_operators(dense()),
        r"operator 0 \(LEAKY_RELU\): input 0 is tensor 2 'h', which has no value: operator 1 computes it",
    )


def test_an_operator_reading_its_own_output() -> None:
    refused(edit_operator(dense(), 1, inputs=(3,)), r"operator 1 \(LEAKY_RELU\): input 0 is tensor 3 'y'")


def test_emptied_subgraph_inputs() -> None:
    refused(edit_subgraph(dense(), inputs=()), r"operator 0 \(FULLY_CONNECTED\): input 0 is tensor 0 'x'")


def test_a_tensor_written_twice() -> None:
    refused(edit_operator(dense(), 1, outputs=(2,)), r"output tensor 2 'h' is already written by operator 0")


def test_an_output_never_computed() -> None:
    refused(
        edit_subgraph(dense(), outputs=(2, 3), operators=dense().main.operators[:1]), "tensor 3 'y' is never"
    )


def test_writing_a_constant() -> None:
    refused(edit_operator(dense(), 1, outputs=(1,)), r"output tensor 1 'w' is a constant")


# ---- dtypes, quantization, options ------------------------------------------------------


def test_a_dtype_numpy_cannot_hold() -> None:
    refused(
        edit_tensor(dense(), 2, dtype=TensorType.STRING), r"tensor 2 'h': STRING tensors are not supported"
    )
    with pytest.raises(ModelError, match="RESOURCE tensors are not supported"):
        _ = TensorType.RESOURCE.numpy


@pytest.mark.parametrize("scale", [0.0, -0.0, -0.1, np.inf, np.nan])
def test_activation_scales_must_be_finite_and_positive(scale: float) -> None:
    refused(
        edit_tensor(dense(), 2, quantization=Quantization.make(scale, 1)),
        r"tensor 2 'h': scale .* must be finite",
    )


def test_a_weight_channel_scale_of_zero_is_allowed_but_not_a_negative_one() -> None:
    Interpreter(model=edit_tensor(dense(), 1, quantization=Quantization.make(0.0, 0))).allocate_tensors()
    refused(edit_tensor(dense(), 1, quantization=Quantization.make(-0.01, 0)), r"tensor 1 'w': scale -0.01")


@pytest.mark.parametrize("zero_point", [128, -129, -(2**63), 2**63 - 1])
def test_zero_points_within_the_dtype(zero_point: int) -> None:
    refused(
        edit_tensor(dense(), 0, quantization=Quantization.make(0.05, zero_point)),
        rf"tensor 0 'x': zero point {zero_point} is outside INT8's range -128..127",
    )


def test_a_multiplier_beyond_int32_fixed_point_names_the_operator() -> None:
    tiny = edit_tensor(dense(), 2, quantization=Quantization.make(1e-38, 0))
    refused(
        edit_tensor(tiny, 0, quantization=Quantization.make(1e38, 0)),
        r"operator 0 \(FULLY_CONNECTED\): multiplier",
    )


@pytest.mark.parametrize("alpha", [np.nan, np.inf])
def test_option_floats_must_be_finite(alpha: float) -> None:
    refused(
        edit_operator(dense(), 1, options={"alpha": alpha}), r"operator 1 \(LEAKY_RELU\): option alpha is"
    )


# ---- sizes -------------------------------------------------------------------------------


def test_declared_sizes_over_the_budget_are_refused_before_allocation() -> None:
    model = dense(units=2**20, features=1)
    with pytest.raises(ModelError, match=r"need 2,097,\d+ bytes, over the memory budget of 1,000,000"):
        Interpreter(model=model, memory_budget=1_000_000)
    Interpreter(model=model, memory_budget=4_000_000)  # the budget is the user's to raise
    huge = edit_tensor(dense(), 2, shape=(1, 2**31 - 1))
    refused(huge, r"largest: tensor 2 'h', shape \[1, 2147483647\]")


def test_zero_size_outputs_of_rank_above_one_are_refused_as_by_tflm() -> None:
    import_required("tflite_micro.python.tflite_micro.runtime")
    for shape, accepted in [((0,), True), ((0, 3), False), ((1, 0, 2), False)]:
        b = ModelBuilder()
        x, y = b.input("x", shape, "float32"), b.input("y", shape, "float32")
        z = b.tensor("z", shape, "float32")
        b.op("ADD", [x, y], [z])
        b.output(z)
        model, inputs = b.build(), [np.zeros(shape, np.float32)] * 2
        case = OpCase("ADD", "float32", model, tuple(inputs))
        if accepted:
            interpreter = Interpreter(model=model)
            assert interpreter.run(*(x.reshape(batch_shape(shape, 1)) for x in inputs))[0].shape == (1, 0)
            assert run_tflm(case)[0].shape == shape
        else:
            refused(model, r"output tensor 2 'z' has no elements .* TFLM takes for a dynamic tensor")
            with pytest.raises(RuntimeError, match="TFLM failed to allocate tensors"):
                run_tflm(case)


# ---- inputs --------------------------------------------------------------------------------


def test_model_content_must_be_bytes() -> None:
    with pytest.raises(
        InputError, match=r"model_content must be the model's bytes, got str .*pass model_path"
    ):
        Interpreter(model_content="kws_ref_model.tflite")  # type: ignore[arg-type]


def test_a_ragged_list_is_an_input_error() -> None:
    interpreter = Interpreter(model=dense())
    interpreter.allocate_tensors()
    with pytest.raises(InputError, match=r"input tensor 0 'x': not an array"):
        interpreter.set_tensor(0, [[1, 2], [3]])


def test_a_big_endian_input_is_taken_as_its_values() -> None:
    b = ModelBuilder()
    x = b.input("x", (1, 3), "float32")
    y = b.tensor("y", (1, 3), "float32")
    b.op("RELU", [x], [y])
    b.output(y)
    interpreter = Interpreter(model=b.build())
    value = np.array([[-1.5, 2.0, 3.25]], dtype=">f4")
    assert interpreter.run(value)[0].tolist() == [[0.0, 2.0, 3.25]]
    with pytest.raises(InputError, match="expects dtype float32, got float64"):
        interpreter.run(value.astype(np.float64))


def test_model_errors_from_a_file_name_the_file(tmp_path) -> None:
    path = tmp_path / "broken.tflite"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match=r"broken\.tflite: not a TFLite model"):
        load_model(path)


# ---- run(): every layout invoke() takes ------------------------------------------------------


def item_by_item(interpreter: Interpreter, arrays: list[np.ndarray]) -> list[np.ndarray]:
    details = interpreter.get_input_details()
    outputs = []
    for k in range(arrays[0].shape[0]):
        for detail, x in zip(details, arrays):
            interpreter.set_tensor(detail["index"], x[k : k + 1].reshape(detail["shape"]))
        interpreter.invoke()
        outputs.append([interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()])
    shapes = [tuple(d["shape"]) for d in interpreter.get_output_details()]
    return [
        np.concatenate([o.reshape(batch_shape(s, 1)) for o in items])
        for items, s in zip(zip(*outputs), shapes)
    ]


def int16_sub_with_a_channel_vector() -> Model:
    """TFLM's int16 SUB integration layers: a [640, 1]-style input minus a [C] tensor."""
    b = ModelBuilder()
    x = b.input("x", (640, 1), "int16", scale=0.002, zero_point=0)
    c = b.input("c", (1,), "int16", scale=0.001, zero_point=0)
    y = b.tensor("y", (640, 1), "int16", scale=0.003, zero_point=0)
    b.op("SUB", [x, c], [y])
    b.output(y)
    return b.build()


def test_run_equals_item_by_item_when_the_leading_dimension_is_not_one() -> None:
    interpreter = Interpreter(model=int16_sub_with_a_channel_vector())
    rng = np.random.default_rng(1)
    arrays = [
        rng.integers(-32768, 32768, (5, 640, 1)).astype(np.int16),
        rng.integers(-9, 9, 5).astype(np.int16),
    ]
    batched = interpreter.run(*arrays)
    assert batched[0].shape == (5, 640, 1)
    np.testing.assert_array_equal(batched[0], item_by_item(interpreter, arrays)[0])


def test_run_of_zero_items_returns_empty_outputs() -> None:
    interpreter = Interpreter(model=stand_in("kws"))
    (scores,) = interpreter.run(np.zeros((0, 49, 10, 1), np.int8))
    assert scores.shape == (0, 12) and scores.dtype == np.int8


def test_a_constant_output_comes_back_once_per_item() -> None:
    b = ModelBuilder()
    x = b.input("x", (1, 2), "float32")
    y = b.tensor("y", (1, 2), "float32")
    k = b.constant("k", np.array([[7.0, 8.0]], np.float32))
    b.op("RELU", [x], [y])
    b.output(y, k)
    relu, constant = Interpreter(model=b.build()).run(np.ones((3, 2), np.float32))
    assert relu.shape == (3, 2) and constant.tolist() == [[7.0, 8.0]] * 3


def test_run_streams_a_large_batch_without_copying_it_whole() -> None:
    b = ModelBuilder()
    x = b.input("x", (1, 4096), "int8", scale=0.05, zero_point=0)
    w = b.constant("w", np.ones((1, 4096), np.int8), scale=0.001, zero_point=0)
    y = b.tensor("y", (1, 1), "int8", scale=1.0, zero_point=0)
    b.op("FULLY_CONNECTED", [x, w, -1], [y])
    b.output(y)
    interpreter = Interpreter(model=b.build())
    batch = np.broadcast_to(np.ones((1, 4096), np.int8), (2000, 4096))  # 8 MB, held by no array
    interpreter.run(batch[:2])  # compile and prepare outside the measurement
    tracemalloc.start()
    (scores,) = interpreter.run(batch)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert scores.shape == (2000, 1) and len(set(scores.ravel().tolist())) == 1
    assert peak < batch.nbytes / 2, f"run() held {peak:,} bytes for an {batch.nbytes:,}-byte batch"


def test_run_refuses_a_flat_array_naming_the_layout() -> None:
    interpreter = Interpreter(model=stand_in("kws"))
    with pytest.raises(
        InputError,
        match=r"expects shape \[N, 49, 10, 1\] \(N items of its shape \[1, 49, 10, 1\]\), got \[490\]",
    ):
        interpreter.run(np.zeros(490, np.int8))


def test_an_operator_missing_inputs_is_named() -> None:
    model = dense()
    refused(
        edit_operator(model, 0, inputs=model.main.operators[0].inputs[:1]), r"operator 0 \(FULLY_CONNECTED\)"
    )


def test_subgraph_tensors_of_an_unset_dtype_are_never_touched() -> None:
    """A tensor that nothing refers to may have any type: TFLM never reads it either."""
    model = dense()
    spare = Tensor(index=5, name="spare", shape=(3,), dtype=TensorType.STRING)
    Interpreter(model=edit_subgraph(model, tensors=(*model.main.tensors, spare))).allocate_tensors()


def test_conv_working_memory_over_the_budget_is_refused_at_prepare() -> None:
    """im2col patches grow with kernel size times output pixels, beyond any declared tensor (dilated
    along the width, a conv gathers them even with VNNI, whose tiles otherwise read the input)."""
    b = ModelBuilder()
    x = b.input("x", (1, 64, 64, 16), "int8", scale=0.05, zero_point=0)
    w = b.constant("w", np.ones((4, 3, 3, 16), np.int8), scale=0.01, zero_point=0)
    y = b.tensor("y", (1, 64, 64, 4), "int8", scale=0.1, zero_point=0)
    b.op("CONV_2D", [x, w, -1], [y], padding="SAME", stride_h=1, stride_w=1, dilation_w_factor=2)
    b.output(y)
    # About 0.66 MB as int_gemm's bytes (with VNNI), 2.4 MB as BLAS's float32.
    with pytest.raises(ModelError, match=r"operator 0 \(CONV_2D\): needs [\d,]+ bytes of working memory"):
        Interpreter(model=b.build(), memory_budget=500_000).allocate_tensors()
    Interpreter(model=b.build(), memory_budget=10_000_000).allocate_tensors()


def shared_entries(data: bytes, vector_slot: int) -> bytes:
    """The file with every entry of subgraph 0's vector at `vector_slot` (0 tensors, 3 operators)
    pointing at the vector's first table, as a file amplifying a few bytes would."""
    from tinyinterp.model.reader import _Bytes, _ModelReader

    buffer = _Bytes(data)
    subgraph = _ModelReader(data)._root().tables(2, "subgraphs", "subgraph {}")[0]
    start, length = subgraph.vector(vector_slot, 4, "entries")
    first = start + int(np.frombuffer(data, "<u4", 1, start)[0])
    patched = bytearray(buffer.data)
    for k in range(length):
        position = start + 4 * k
        patched[position : position + 4] = (first - position).to_bytes(4, "little")
    return bytes(patched)


@pytest.mark.parametrize(("slot", "name"), [(0, "tensors"), (3, "operators")])
def test_a_table_shared_by_several_entries_is_refused(slot: int, name: str) -> None:
    data = shared_entries(save_model(dense()), slot)
    with pytest.raises(ModelError, match=rf"subgraph 0: {name}: entries 0 and 1 are the same table"):
        load_model(data)


def test_vectors_of_tables_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinyinterp.model import reader

    monkeypatch.setattr(reader, "MAX_TABLES", 3)
    with pytest.raises(ModelError, match=r"subgraph 0: tensors has 4 entries, more than the 3 allowed"):
        load_model(save_model(dense()))


def test_options_left_out_read_the_schema_defaults() -> None:
    """Every reader of an option sees the schema's default, never one of its own choosing."""
    from tinyinterp.model.options import options_record

    trimmed = edit_operator(dense(), 0, options={})
    x = np.arange(8, dtype=np.int8).reshape(1, 8)
    assert Interpreter(model=trimmed).run(x)[0].tolist() == Interpreter(model=dense()).run(x)[0].tolist()
    assert options_record("CONV_2D", {}).stride_h == 0 and options_record("SOFTMAX", {}).beta == 0.0
    with pytest.raises(ModelError, match=r"CONV_2D: unknown option\(s\) stride \(known: padding, "):
        options_record("CONV_2D", {"stride": 1})


def test_an_operator_with_only_empty_outputs_computes_nothing() -> None:
    """A rank-1 tensor of no elements is valid in TFLM (its kernels loop over nothing)."""
    b = ModelBuilder()
    x = b.input("x", (0,), "float32")
    y = b.tensor("y", (0,), "float32")
    b.op("SOFTMAX", [x], [y], beta=1.0)
    b.output(y)
    interpreter = Interpreter(model=b.build())
    interpreter.allocate_tensors()
    interpreter.set_tensor(0, np.zeros(0, np.float32))
    interpreter.invoke()
    assert interpreter.get_tensor(1).shape == (0,)
    assert interpreter.run(np.zeros((3, 0), np.float32))[0].shape == (3, 0)


def test_inputs_listed_twice_or_constant_are_refused() -> None:
    model = dense()
    refused(edit_subgraph(model, inputs=(0, 0)), r"model input tensor 0 'x' is listed twice")
    refused(edit_subgraph(model, inputs=(0, 1)), r"model input tensor 1 'w' is a constant")


def test_keep_num_dims_needs_the_input_depth_last() -> None:
    b = ModelBuilder()
    x = b.input("x", (2, 12), "float32")
    w = b.constant("w", np.ones((15, 2), np.float32))
    y = b.tensor("y", (2, 15), "float32")
    b.op("FULLY_CONNECTED", [x, w, -1], [y], keep_num_dims=True)
    b.output(y)
    refused(b.build(), r"keep_num_dims needs tensor 0 'x''s last dimension to be the weights' depth 2")


def test_a_conv_input_without_channels_is_refused() -> None:
    b = ModelBuilder()
    x = b.input("x", (1, 4, 4, 0), "float32")
    w = b.constant("w", np.ones((2, 1, 1, 1), np.float32))
    y = b.tensor("y", (1, 4, 4, 2), "float32")
    b.op("CONV_2D", [x, w, -1], [y], padding="VALID", stride_h=1, stride_w=1)
    b.output(y)
    refused(b.build(), r"operator 0 \(CONV_2D\): input channels 0 are not a multiple of filter channels 1")


def test_an_activation_bound_beyond_float32_is_refused() -> None:
    """RELU6's 6.0 / scale overflows float32 for a scale of 1e-40: TFLM would convert inf to int."""
    b = ModelBuilder()
    x = b.input("x", (1, 4), "int16", scale=1e-40, zero_point=0)
    y = b.tensor("y", (1, 4), "int16", scale=1e-40, zero_point=0)
    b.op("RELU6", [x], [y])
    b.output(y)
    refused(b.build(), r"operator 0 \(RELU6\): 6 quantized with scale 9.99995e-41 is out of range")


def test_an_empty_shape_whose_other_dimensions_overflow_is_refused() -> None:
    b = ModelBuilder()
    x = b.input("x", (0, 2**31 - 1, 4), "int8", scale=0.1, zero_point=0)
    y = b.tensor("y", (0, 2**31 - 1, 4), "int8", scale=0.1, zero_point=0)
    b.op("RELU", [x], [y])
    b.output(y)
    with pytest.raises(ModelError, match=r"shape \[0, 2147483647, 4\] has more than 2147483647 elements"):
        load_model(save_model(b.build(), validate=False))
