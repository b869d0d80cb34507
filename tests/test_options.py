"""The typed options records (tinyinterp/model/options.py): generated from the schema tables, so they
cannot drift from them; their defaults are the schema's; a wrong name or kind is a ModelError naming
the operator and the option; and every op and cost formula that declares a record declares its own."""

from __future__ import annotations

import dataclasses
import typing

import numpy as np
import pytest
from conftest import script

from tinyinterp import Interpreter, ModelBuilder
from tinyinterp.cost.registry import COSTS
from tinyinterp.errors import ModelError
from tinyinterp.model import schema
from tinyinterp.model.options import (
    RECORD_TYPES,
    Conv2DOptions,
    NoOptions,
    Pool2DOptions,
    options_record,
)
from tinyinterp.ops import OPS

BUILTINS = [op for op in schema.BUILTIN_OPERATORS if op not in ("PLACEHOLDER_FOR_GREATER_OP_CODES", "CUSTOM")]
# What each schema kind reads as in Python (schema.py's docstring), written out apart from the generator.
SCALAR_TYPES = {"bool": bool, "uint8": int, "int32": int, "uint32": int, "int64": int, "float32": float}


def test_the_committed_module_is_what_the_generator_writes() -> None:
    tool = script("tools/gen_options.py")
    committed = tool.TARGET.read_text(encoding="utf-8")
    assert tool.source() == committed, "stale records: run python tools/gen_options.py --write"


@pytest.mark.parametrize("opcode", BUILTINS)
def test_defaults_are_the_schema_defaults(opcode: str) -> None:
    record = options_record(opcode, {})
    assert dataclasses.asdict(record) == schema.default_options(opcode)
    assert record == RECORD_TYPES.get(opcode, NoOptions)()  # the dataclass's own defaults, too


def test_a_custom_operator_keeps_its_code_and_raw_options() -> None:
    record = options_record("CUSTOM", {"custom_code": "TFLite_Detection_PostProcess"})
    assert dataclasses.asdict(record) == {
        "custom_code": "TFLite_Detection_PostProcess",
        "custom_options": b"",
    }
    with pytest.raises(ModelError, match="CUSTOM: option custom_code must be a non-empty str"):
        options_record("CUSTOM", {})


def expected_type(kind: str) -> object:
    if kind in schema.ENUMS:
        return typing.Literal[schema.ENUMS[kind]]  # Literal[("A", "B")] is Literal["A", "B"]
    if kind in schema.VECTOR_KINDS:
        return tuple[SCALAR_TYPES[schema.VECTOR_KINDS[kind]], ...]  # type: ignore[misc]
    return str if kind == schema.STRING else SCALAR_TYPES[kind]


@pytest.mark.parametrize("table", schema.OPTIONS_TABLES.values(), ids=lambda t: t.name)
def test_fields_are_typed_from_their_kinds(table: schema.OptionsTable) -> None:
    records = {RECORD_TYPES.get(op, NoOptions) for op, t in schema.OPTIONS_BY_OPCODE.items() if t is table}
    if not table.fields:
        assert records == {NoOptions}
        return
    (record,) = records
    hints = typing.get_type_hints(record)
    assert record.__name__ == table.name
    assert {f.name: expected_type(f.kind) for f in table.fields} == hints


@pytest.mark.parametrize(
    ("opcode", "options", "message"),
    [
        ("CONV_2D", {"strides": 2}, r"CONV_2D: unknown option\(s\) strides \(known: padding, stride_w, "),
        ("CONV_2D", {"stride_h": "2"}, r"CONV_2D: option stride_h: expected an int, got '2'"),
        ("CONV_2D", {"stride_h": True}, r"CONV_2D: option stride_h: expected a number, got True"),
        ("CONV_2D", {"stride_h": 2**31}, r"CONV_2D: option stride_h: 2147483648 is outside the int32 range"),
        ("CONV_2D", {"padding": "FULL"}, r"CONV_2D: option padding: 'FULL' is not a Padding \(one of SAME"),
        ("SOFTMAX", {"beta": "1"}, r"SOFTMAX: option beta: expected a number, got '1'"),
        ("RESHAPE", {"new_shape": 4}, r"RESHAPE: option new_shape: expected a sequence of numbers, got 4"),
        ("MEAN", {"keep_dims": 1}, r"MEAN: option keep_dims: expected a bool, got 1"),
        ("TRANSPOSE", {"perm": (1, 0)}, r"TRANSPOSE: unknown option\(s\) perm \(known: none\)"),
        ("CONV2D", {}, r"unknown operator 'CONV2D'"),
    ],
)
def test_a_wrong_name_or_kind_is_a_model_error(opcode: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        options_record(opcode, options)


def test_given_options_are_converted_and_the_others_default() -> None:
    record = options_record("AVERAGE_POOL_2D", {"filter_height": np.int64(3), "padding": "valid"})
    assert record == Pool2DOptions(padding="VALID", filter_height=3)
    assert type(record.filter_height) is int and record.stride_h == 0  # the schema's default, not 1


def test_an_op_reading_a_wrong_option_names_the_operator() -> None:
    """A model made in memory skips the builder's checks: the op's prepare step refuses it."""
    b = ModelBuilder()
    x = b.input("x", (1, 4, 4, 1), "float32")
    y = b.tensor("y", (1, 2, 2, 1), "float32")
    b.op("MAX_POOL_2D", [x], [y], padding="VALID", stride_w=2, stride_h=2, filter_width=2, filter_height=2)
    b.output(y)
    model = b.build()
    pool = dataclasses.replace(
        model.main.operators[0], options={**model.main.operators[0].options, "stride_h": 2.0}
    )
    broken = dataclasses.replace(model, subgraphs=(dataclasses.replace(model.main, operators=(pool,)),))
    with pytest.raises(
        ModelError, match=r"operator 0 \(MAX_POOL_2D\): .*option stride_h: expected an int, got 2.0"
    ):
        Interpreter(model=broken).allocate_tensors()


def declared_record(function: typing.Callable[..., object]) -> tuple[object, ...]:
    """The records a function's `ctx` annotation declares: (Conv2DOptions,) for OpContext[Conv2DOptions]."""
    return typing.get_args(typing.get_type_hints(function)["ctx"])


@pytest.mark.parametrize("opcode", sorted(OPS))
def test_every_op_declares_its_opcodes_record(opcode: str) -> None:
    """An op reads `ctx.options` typed as the record it declares: it must be the one its opcode has,
    and an op whose opcode has options must declare it (a bare OpContext would type them Any)."""
    record = RECORD_TYPES.get(opcode, NoOptions)
    allowed = [(), (NoOptions,)] if record is NoOptions else [(record,)]
    assert declared_record(OPS[opcode].__init__) in allowed


@pytest.mark.parametrize("opcode", sorted(COSTS))
def test_every_cost_formula_declares_its_opcodes_record_or_none(opcode: str) -> None:
    record = RECORD_TYPES.get(opcode, NoOptions)
    assert declared_record(COSTS[opcode].cycles) in [(), (record,)]


def test_records_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Conv2DOptions().stride_h = 2  # type: ignore[misc]
