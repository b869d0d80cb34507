"""Reading, writing and building .tflite models, checked against TFLM and its generated schema."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import examples, import_required
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyinterp.errors import ModelError
from tinyinterp.model import ModelBuilder, load_model, save_model, schema, write_model

runtime = import_required("tflite_micro.python.tflite_micro.runtime")
generated = import_required("tflite_micro.tensorflow.lite.micro.python.schema_py_generated")

ARENA_SIZE = 4 << 20


def run_tflm(data: bytes, *inputs: np.ndarray) -> np.ndarray:
    interpreter = runtime.Interpreter.from_bytes(data, arena_size=ARENA_SIZE)
    for index, value in enumerate(inputs):
        interpreter.set_input(value, index)
    interpreter.invoke()
    return interpreter.get_output(0)


def random_input(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, shape, dtype=np.int8)


# ---- the schema tables against TFLM's generated schema ----------------------------------------


class _RecordingBuilder:
    """Stands in for flatbuffers.Builder: records what a generated XxxAddField function writes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, Any]] = []

    def __getattr__(self, method: str) -> Any:
        return lambda slot, _value, default: self.calls.append((method, slot, default))


_GENERATED_KIND = {
    "PrependBoolSlot": {"bool"},
    "PrependInt32Slot": {"int32"},
    "PrependUint32Slot": {"uint32"},
    "PrependInt64Slot": {"int64"},
    "PrependFloat32Slot": {"float32"},
    "PrependInt8Slot": set(schema.ENUMS),
    "PrependUOffsetTRelativeSlot": {*schema.VECTOR_KINDS, schema.STRING},
}


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def test_builtin_operators_match_generated_schema() -> None:
    expected = {k: v for k, v in vars(generated.BuiltinOperator).items() if not k.startswith("_")}
    assert expected == schema.BUILTIN_CODES


def test_enums_match_generated_schema() -> None:
    for name, values in schema.ENUMS.items():
        members = {k: v for k, v in vars(getattr(generated, name)).items() if not k.startswith("_")}
        assert dict(zip(values, range(len(values)), strict=True)) == members, name


@pytest.mark.parametrize("table", list(schema.OPTIONS_TABLES.values()), ids=lambda t: t.name)
def test_options_table_matches_generated_schema(table: schema.OptionsTable) -> None:
    assert getattr(generated.BuiltinOptions, table.name) == table.union_id
    adders = [n for n in dir(generated) if n.startswith(f"{table.name}Add")]
    assert len(adders) == len(table.fields), "every field of the table is listed"
    for field in table.fields:
        recorder = _RecordingBuilder()
        getattr(generated, f"{table.name}Add{_camel(field.name)}")(recorder, 0)
        ((method, slot, default),) = recorder.calls
        assert slot == field.slot, field.name
        assert field.kind in _GENERATED_KIND[method], field.name
        if field.kind in schema.ENUMS:
            assert schema.ENUMS[field.kind][default] == field.default, field.name
        elif method != "PrependUOffsetTRelativeSlot":
            assert default == field.default, field.name


def test_every_options_table_has_operators() -> None:
    assert set(schema.OPTIONS_BY_OPCODE.values()) == set(schema.OPTIONS_TABLES.values())
    assert all(op in schema.BUILTIN_CODES for op in schema.OPTIONS_BY_OPCODE)


# ---- reference models ------------------------------------------------------------------------


def test_round_trip(reference_model: Path) -> None:
    model = load_model(reference_model)
    written = save_model(model)
    assert load_model(written) == model
    assert save_model(load_model(written)) == written, "writing is deterministic"


def test_external_data_round_trip(reference_model: Path) -> None:
    model = load_model(reference_model)
    written = save_model(model, external_data=True)
    assert load_model(written) == model
    root = generated.Model.GetRootAs(written)
    offsets = [root.Buffers(i).Offset() for i in range(root.BuffersLength())]
    assert sum(o > 1 for o in offsets) == sum(root.Buffers(i).Size() > 0 for i in range(len(offsets))) > 0
    assert all(root.Buffers(i).DataLength() == 0 for i in range(len(offsets)))


def test_tflm_agrees_on_written_model(reference_model: Path) -> None:
    original = reference_model.read_bytes()
    model = load_model(original)
    x = random_input(model.main.tensors[model.main.inputs[0]].shape)
    np.testing.assert_array_equal(run_tflm(save_model(model), x), run_tflm(original, x))


def test_written_layout(reference_model: Path) -> None:
    model = load_model(reference_model)
    written = save_model(model)
    root = generated.Model.GetRootAs(written)
    assert written[4:8] == b"TFL3" and root.Version() == 3
    assert root.Buffers(0).DataLength() == 0
    for i in range(1, root.BuffersLength()):
        buffer = root.Buffers(i)
        if buffer.DataLength():
            assert buffer._tab.Vector(buffer._tab.Offset(4)) % 16 == 0
    codes = [root.OperatorCodes(i) for i in range(root.OperatorCodesLength())]
    keys = [(c.BuiltinCode(), c.Version()) for c in codes]
    assert len(set(keys)) == len(keys)
    assert {schema.BUILTIN_OPERATORS[c] for c, _ in keys} == {op.opcode for op in model.main.operators}
    assert all(c.DeprecatedBuiltinCode() == min(c.BuiltinCode(), 127) for c in codes)
    assert [root.Metadata(i).Name().decode() for i in range(root.MetadataLength())] == [
        name for name, _ in model.metadata
    ]


def test_constant_data_are_read_only_views(reference_model: Path) -> None:
    data = reference_model.read_bytes()
    model = load_model(data)
    constants = [t for t in model.main.tensors if t.is_constant]
    assert constants
    for tensor in constants:
        assert not tensor.data.flags.writeable and not tensor.data.flags.owndata
        assert tensor.data.shape == tensor.shape and tensor.data.dtype == tensor.dtype.numpy


def test_reference_model_contents(data_dir: Path) -> None:
    model = load_model(data_dir / "models" / "kws_ref_model.tflite")
    conv = model.main.operators[0]
    assert conv.opcode == "CONV_2D" and conv.version == 3
    assert dict(conv.options) == {
        "padding": "SAME",
        "stride_w": 2,
        "stride_h": 2,
        "fused_activation_function": "RELU",
        "dilation_w_factor": 1,
        "dilation_h_factor": 1,
        "quantized_bias_type": "FLOAT32",
    }
    assert dict(model.metadata)["min_runtime_version"].rstrip(b"\0") == b"1.5.0"
    assert model.description == "MLIR Converted." and model.main.name == "main"
    weights = model.main.tensors[conv.inputs[1]]
    assert weights.quantization.per_channel and weights.quantization.scale.size == weights.shape[0]


def test_sources(data_dir: Path, tmp_path: Path) -> None:
    path = data_dir / "models" / "ad01_int8.tflite"
    data = path.read_bytes()
    model = load_model(data)
    mutable = bytearray(data)
    from_bytearray = load_model(mutable)
    mutable[:] = bytes(len(mutable))  # the model must not see later changes
    for other in (load_model(str(path)), load_model(path), from_bytearray, load_model(memoryview(data))):
        assert other == model
    write_model(model, tmp_path / "copy.tflite")
    assert load_model(tmp_path / "copy.tflite") == model
    with pytest.raises(TypeError):
        load_model(12)  # type: ignore[arg-type]


# ---- the builder -----------------------------------------------------------------------------


def _conv_model(**options: Any) -> ModelBuilder:
    rng = np.random.default_rng(0)
    b = ModelBuilder()
    x = b.input("x", (1, 8, 8, 3), "int8", scale=0.05, zero_point=-3)
    w_scales = rng.uniform(0.005, 0.02, 4)
    w = b.constant("w", rng.integers(-127, 128, (4, 3, 3, 3), dtype=np.int8), scale=w_scales, zero_point=0)
    bias = b.constant("b", rng.integers(-1000, 1000, 4, dtype=np.int32), scale=0.05 * w_scales, zero_point=0)
    y = b.tensor("y", (1, 8, 8, 4), "int8", scale=0.1, zero_point=2)
    b.op("CONV_2D", [x, w, bias], [y], **options)
    b.output(y)
    return b


def test_builder_conv() -> None:
    b = _conv_model(padding="SAME", stride_w=1, stride_h=1, fused_activation_function="RELU")
    model = b.build()
    assert model == load_model(b.build_bytes())
    conv = model.main.operators[0]
    assert conv.options["dilation_w_factor"] == 1, "options not given take the schema default"
    assert conv.options["fused_activation_function"] == "RELU"
    assert model.main.tensors[1].quantization.zero_point.tolist() == [0, 0, 0, 0]
    out = run_tflm(b.build_bytes(), random_input((1, 8, 8, 3)))
    assert out.shape == (1, 8, 8, 4) and out.dtype == np.int8


def _single_op_models() -> dict[str, tuple[ModelBuilder, tuple[int, ...]]]:
    rng = np.random.default_rng(1)
    models: dict[str, tuple[ModelBuilder, tuple[int, ...]]] = {}

    def new(shape: tuple[int, ...]) -> tuple[ModelBuilder, int]:
        b = ModelBuilder()
        return b, b.input("x", shape, "int8", scale=0.05, zero_point=-3)

    b, x = new((1, 6, 6, 4))
    w = b.constant("w", rng.integers(-127, 128, (1, 3, 3, 4), dtype=np.int8), scale=[0.01] * 4,
                   zero_point=0, quantized_dimension=3)  # fmt: skip
    bias = b.constant("b", np.zeros(4, np.int32), scale=[0.0005] * 4, zero_point=0)
    y = b.tensor("y", (1, 6, 6, 4), "int8", scale=0.1, zero_point=0)
    b.op("DEPTHWISE_CONV_2D", [x, w, bias], [y], padding="SAME", stride_w=1, stride_h=1, depth_multiplier=1)
    b.output(y)
    models["DEPTHWISE_CONV_2D"] = b, (1, 6, 6, 4)

    b, x = new((1, 16))
    w = b.constant("w", rng.integers(-127, 128, (5, 16), dtype=np.int8), scale=0.02, zero_point=0)
    bias = b.constant("b", rng.integers(-100, 100, 5, dtype=np.int32), scale=0.001, zero_point=0)
    y = b.tensor("y", (1, 5), "int8", scale=0.2, zero_point=1)
    b.op("FULLY_CONNECTED", [x, w, bias], [y], fused_activation_function="RELU6")
    b.output(y)
    models["FULLY_CONNECTED"] = b, (1, 16)

    for pool in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        b, x = new((1, 8, 8, 2))
        y = b.tensor("y", (1, 4, 4, 2), "int8", scale=0.05, zero_point=-3)
        b.op(pool, [x], [y], padding="VALID", stride_w=2, stride_h=2, filter_width=2, filter_height=2)
        b.output(y)
        models[pool] = b, (1, 8, 8, 2)

    for name in ("ADD", "MUL", "SUB"):
        b, x = new((1, 4, 4, 3))
        c = b.constant("c", rng.integers(-128, 128, (1, 1, 1, 3), dtype=np.int8), scale=0.03, zero_point=5)
        y = b.tensor("y", (1, 4, 4, 3), "int8", scale=0.1, zero_point=0)
        b.op(name, [x, c], [y])
        b.output(y)
        models[name] = b, (1, 4, 4, 3)

    for name in ("SOFTMAX", "LOGISTIC"):
        b, x = new((1, 10))
        y = b.tensor("y", (1, 10), "int8", scale=1 / 256, zero_point=-128)
        b.op(name, [x], [y], **({"beta": 1.0} if name == "SOFTMAX" else {}))
        b.output(y)
        models[name] = b, (1, 10)

    b, x = new((1, 2, 3, 4))
    shape = b.constant("shape", np.array([1, 24], np.int32))
    y = b.tensor("y", (1, 24), "int8", scale=0.05, zero_point=-3)
    b.op("RESHAPE", [x, shape], [y], new_shape=(1, 24))
    b.output(y)
    models["RESHAPE"] = b, (1, 2, 3, 4)

    b, x = new((1, 2, 2, 3))
    c = b.constant("c", rng.integers(-128, 128, (1, 2, 2, 2), dtype=np.int8), scale=0.05, zero_point=-3)
    y = b.tensor("y", (1, 2, 2, 5), "int8", scale=0.05, zero_point=-3)
    b.op("CONCATENATION", [x, c], [y], axis=3)
    b.output(y)
    models["CONCATENATION"] = b, (1, 2, 2, 3)

    b, x = new((1, 4, 4, 3))
    axes = b.constant("axes", np.array([1, 2], np.int32))
    y = b.tensor("y", (1, 1, 1, 3), "int8", scale=0.05, zero_point=-3)
    b.op("MEAN", [x, axes], [y], keep_dims=True)
    b.output(y)
    models["MEAN"] = b, (1, 4, 4, 3)
    return models


_SINGLE_OP_MODELS = _single_op_models()


@pytest.mark.parametrize("name", list(_SINGLE_OP_MODELS))
def test_builder_single_op_models_run_in_tflm(name: str) -> None:
    builder, input_shape = _SINGLE_OP_MODELS[name]
    model = builder.build()
    output = model.main.tensors[model.main.outputs[0]]
    result = run_tflm(builder.build_bytes(), random_input(input_shape))
    assert result.shape == output.shape and result.dtype == np.int8


def test_builder_errors() -> None:
    b = ModelBuilder()
    x = b.input("x", (1, 4), "int8", scale=0.1, zero_point=0)
    with pytest.raises(ModelError, match="unknown operator 'CONV_3X3'"):
        b.op("CONV_3X3", [x], [x])
    with pytest.raises(ModelError, match=r"SOFTMAX: unknown option\(s\) alpha, gamma"):
        b.op("SOFTMAX", [x], [x], gamma=1.0, alpha=2.0)
    with pytest.raises(ModelError, match="option padding: 'HALF' is not a Padding"):
        b.op("CONV_2D", [x], [x], padding="HALF")
    with pytest.raises(ModelError, match="option stride_w: expected an int"):
        b.op("CONV_2D", [x], [x], stride_w=1.5)
    with pytest.raises(ModelError, match="unknown or unsupported tensor dtype 'int3'"):
        b.tensor("t", (1,), "int3")
    with pytest.raises(ModelError, match="constant 's': STRING tensors cannot hold data"):
        b.constant("s", [1], "string")
    b.op("SOFTMAX", [x], [7])
    with pytest.raises(ModelError, match=r"operator 0 \(SOFTMAX\) outputs\[0\]: tensor index 7 out of range"):
        b.build()


def test_builder_per_channel_mismatch_names_the_tensor() -> None:
    b = ModelBuilder()
    b.constant("weights", np.zeros((4, 3), np.int8), scale=[0.1, 0.2, 0.3], zero_point=0)
    with pytest.raises(ModelError, match=r"tensor 0 'weights': 3 per-channel scales but shape \[4, 3\]"):
        b.build()


def test_custom_and_high_code_operators_round_trip() -> None:
    b = ModelBuilder()
    x = b.input("x", (2, 3), "float32")
    y = b.tensor("y", (2, 3), "float32")
    z = b.tensor("z", (2, 3), "float32")
    b.op("CUSTOM", [x], [y], custom_code="MyOp", custom_options=b"\x01\x02")
    b.op("GELU", [y], [z], version=2, approximate=True)
    b.output(z)
    model = b.build()
    custom, gelu = model.main.operators
    assert dict(custom.options) == {"custom_code": "MyOp", "custom_options": b"\x01\x02"}
    assert gelu.opcode == "GELU" and gelu.version == 2 and gelu.options["approximate"] is True
    root = generated.Model.GetRootAs(b.build_bytes())
    codes = {root.OperatorCodes(i).BuiltinCode(): root.OperatorCodes(i) for i in range(2)}
    assert codes[150].DeprecatedBuiltinCode() == 127
    assert codes[32].CustomCode() == b"MyOp"
    with pytest.raises(ModelError, match="custom_code must be a non-empty str"):
        b.op("CUSTOM", [x], [y])


def _option_value(kind: str) -> st.SearchStrategy[Any]:
    if kind in schema.ENUMS:
        return st.sampled_from(schema.ENUMS[kind])
    if kind in schema.VECTOR_KINDS:
        return st.lists(_option_value(schema.VECTOR_KINDS[kind]), max_size=5).map(tuple)
    if kind == schema.STRING:
        return st.text(max_size=8)
    if kind == "bool":
        return st.booleans()
    if kind == "float32":
        return st.floats(width=32, allow_nan=False)
    low, high = schema.SCALAR_KINDS[kind][1]
    return st.integers(low, high)


@st.composite
def _operators_with_options(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    opcode = draw(st.sampled_from(sorted(schema.OPTIONS_BY_OPCODE)))
    fields = schema.OPTIONS_BY_OPCODE[opcode].fields
    chosen = draw(st.lists(st.sampled_from(fields), unique=True)) if fields else []
    return opcode, {f.name: draw(_option_value(f.kind)) for f in chosen}


@settings(max_examples=examples(3), deadline=None)
@given(_operators_with_options())
def test_every_option_round_trips(case: tuple[str, dict[str, Any]]) -> None:
    opcode, options = case
    b = ModelBuilder()
    x = b.input("x", (1, 2), "int8", scale=0.5, zero_point=0)
    y = b.tensor("y", (1, 2), "int8", scale=0.5, zero_point=0)
    b.op(opcode, [x, -1], [y], **options)
    b.output(y)
    read = dict(b.build().main.operators[0].options)
    assert read == {**schema.default_options(opcode), **options}


def test_intermediates_round_trip() -> None:
    b = ModelBuilder()
    x = b.input("x", (1, 4), "int8", scale=0.1, zero_point=0)
    y = b.tensor("y", (1, 4), "int8", scale=1 / 256, zero_point=-128)
    hidden = b.tensor("hidden", (1, 4), "int8", scale=0.02, zero_point=0)
    b.op("LOGISTIC", [x], [y])
    b.output(y)
    model = b.build()
    op = dataclasses.replace(model.main.operators[0], intermediates=(hidden,))
    model = dataclasses.replace(model, subgraphs=(dataclasses.replace(model.main, operators=(op,)),))
    assert load_model(save_model(model)) == model
    assert load_model(save_model(model)).main.operators[0].intermediates == (hidden,)


def test_one_dimensional_bias_may_carry_its_filters_quantized_dimension() -> None:
    """Converters write a depthwise filter's quantized_dimension (3) on its 1-D bias; TFLM accepts it."""
    builder = ModelBuilder()
    values, scales = np.arange(8, dtype=np.int32), np.full(8, 0.5)
    bias = builder.constant("bias", values, scale=scales, quantized_dimension=3)
    builder.output(bias)
    quantization = load_model(builder.build_bytes()).main.tensors[0].quantization
    assert quantization is not None and quantization.quantized_dimension == 0
