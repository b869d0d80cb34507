"""A malformed model must make load_model raise ModelError, never anything else, and never hang."""

from __future__ import annotations

import struct
import time
from typing import Any

import numpy as np
import pytest
from conftest import conv_softmax_model, examples, import_required
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyinterp.errors import ModelError
from tinyinterp.model import load_model, save_model

generated = import_required("tflite_micro.tensorflow.lite.micro.python.schema_py_generated")


def fuzz(share: float) -> settings:
    """`share` of the profile's examples (conftest.examples)."""
    return settings(max_examples=examples(share), deadline=None, suppress_health_check=[HealthCheck.too_slow])


MAX_SECONDS = 2.0  # per load; loading a valid 300 KB model takes a few ms


def load_checked(data: bytes) -> None:
    """Load `data`, allowing only ModelError out; a model that loads must also write back stably."""
    start = time.perf_counter()
    try:
        model = load_model(data)
    except ModelError:
        return
    finally:
        assert time.perf_counter() - start < MAX_SECONDS, "load_model took too long"
    try:
        written = save_model(model)
    except ModelError:
        return
    assert save_model(load_model(written)) == written


def _structure_positions(data: bytes) -> np.ndarray:
    """Positions of the bytes that are not tensor data: where corruption matters most."""
    root = generated.Model.GetRootAs(data)
    is_data = np.zeros(len(data), bool)
    for i in range(root.BuffersLength()):
        buffer = root.Buffers(i)
        if buffer.DataLength():
            start = buffer._tab.Vector(buffer._tab.Offset(4))
            is_data[start : start + buffer.DataLength()] = True
    return np.flatnonzero(~is_data)


@pytest.fixture(scope="session")
def corpus(reference_bytes: dict[str, bytes]) -> list[tuple[bytes, np.ndarray]]:
    """Every reference model as converted and as we write it, with its structure positions."""
    files = [*reference_bytes.values(), *(save_model(load_model(d)) for d in reference_bytes.values())]
    return [(data, _structure_positions(data)) for data in files]


_model_choice = st.integers(0, 2**16)  # taken modulo the corpus size


@fuzz(2)
@given(choice=_model_choice, fraction=st.floats(0, 1, exclude_max=True))
def test_truncated(corpus: list[tuple[bytes, np.ndarray]], choice: int, fraction: float) -> None:
    data, _ = corpus[choice % len(corpus)]
    load_checked(data[: int(fraction * len(data))])


@fuzz(3)
@given(
    choice=_model_choice,
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=8),
    anywhere=st.booleans(),
)
def test_byte_flips(
    corpus: list[tuple[bytes, np.ndarray]], choice: int, flips: list[tuple[float, int]], anywhere: bool
) -> None:
    data, structure = corpus[choice % len(corpus)]
    corrupted = bytearray(data)
    for where, mask in flips:
        position = int(where * len(data)) if anywhere else int(structure[int(where * len(structure))])
        corrupted[position] ^= mask
    load_checked(bytes(corrupted))


@st.composite
def _offset_values(draw: st.DrawFn, size: int) -> int:
    near_end = draw(st.integers(-16, 16)) + size
    return draw(st.sampled_from([0, 1, 4, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFC, near_end % 2**32]))


@fuzz(3)
@given(
    choice=_model_choice,
    writes=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.data()), min_size=1, max_size=4),
)
def test_out_of_range_offsets(
    corpus: list[tuple[bytes, np.ndarray]], choice: int, writes: list[tuple[float, Any]]
) -> None:
    data, structure = corpus[choice % len(corpus)]
    corrupted = bytearray(data)
    for where, draw in writes:
        position = int(structure[int(where * len(structure))]) & ~3  # offsets are 4-byte aligned
        value = draw.draw(st.one_of(_offset_values(len(data)), st.integers(0, 2**32 - 1)))
        struct.pack_into("<I", corrupted, min(position, len(data) - 4), value)
    load_checked(bytes(corrupted))


@fuzz(2)
@given(garbage=st.binary(max_size=600), identified=st.booleans(), root=st.integers(0, 700))
def test_garbage(garbage: bytes, identified: bool, root: int) -> None:
    if identified:  # get past the identifier check to exercise the table parsing
        garbage = struct.pack("<I", root) + b"TFL3" + garbage
    load_checked(garbage)


@fuzz(0.5)
@given(choice=_model_choice, identifier=st.binary(min_size=4, max_size=4).filter(lambda b: b != b"TFL3"))
def test_wrong_identifier(corpus: list[tuple[bytes, np.ndarray]], choice: int, identifier: bytes) -> None:
    data, _ = corpus[choice % len(corpus)]
    with pytest.raises(ModelError, match=r"file identifier \(bytes 4..8\) is .*expected b'TFL3'"):
        load_model(data[:4] + identifier + data[8:])


# ---- explicit corruptions: the message must name what is wrong ------------------------------


BASE = conv_softmax_model()
ROOT = generated.Model.GetRootAs(BASE)
GRAPH = ROOT.Subgraphs(0)


def _field(obj: Any, slot: int) -> int:
    offset = obj._tab.Offset(4 + 2 * slot)
    assert offset, "the field must be present to be patched"
    return obj._tab.Pos + offset


def _vector(obj: Any, slot: int) -> int:
    """Position of the first element of vector field `slot` (its length is just before)."""
    return obj._tab.Vector(obj._tab.Offset(4 + 2 * slot))


def _patched(position: int, fmt: str, value: Any) -> bytes:
    data = bytearray(BASE)
    struct.pack_into(fmt, data, position, value)
    return bytes(data)


def _conv_options() -> Any:
    table = GRAPH.Operators(0).BuiltinOptions()
    options = generated.Conv2DOptions()
    options.Init(table.Bytes, table.Pos)
    return options


def _quantization(tensor: int) -> Any:
    return GRAPH.Tensors(tensor).Quantization()


CORRUPTIONS = {
    "buffer size": (
        _patched(_vector(GRAPH.Tensors(1), 0) + 4, "<i", 2),
        r"tensor 1 'w': buffer 1 holds 108 bytes, expected 72 for shape \[4, 2, 3, 3\] of INT8",
    ),
    "negative dimension": (
        _patched(_vector(GRAPH.Tensors(0), 0) + 4, "<i", -2),
        r"tensor 0 'x': negative dimension in shape \[1, -2, 8, 3\]",
    ),
    "huge shape": (
        _patched(_vector(GRAPH.Tensors(3), 0) + 4, "<i", 2**30),
        r"tensor 3 'y': shape \[1, 1073741824, 6, 4\] has more than 2147483647 elements",
    ),
    "tensor type": (
        _patched(_field(GRAPH.Tensors(1), 1), "<b", 18),
        r"tensor 1 'w': unsupported tensor type 18 \(BFLOAT16\)",
    ),
    "data of a string tensor": (
        _patched(_field(GRAPH.Tensors(1), 1), "<b", 5),
        r"tensor 1 'w': STRING tensors cannot hold constant data \(buffer 1\)",
    ),
    "buffer index": (
        _patched(_field(GRAPH.Tensors(1), 2), "<I", 50),
        r"tensor 1 'w': buffer index 50 out of range \(model has 3 buffers\)",
    ),
    "name not UTF-8": (
        _patched(_vector(GRAPH.Tensors(2), 3), "<B", 0xFF),
        r"tensor 2: name: string is not UTF-8 \(invalid start byte at byte 0\)",
    ),
    "zero points": (
        _patched(_vector(_quantization(1), 3) - 4, "<I", 3),
        r"tensor 1 'w': quantization has 4 scales but 3 zero points",
    ),
    "channels": (
        _patched(_vector(_quantization(2), 2) - 4, "<I", 3),
        r"tensor 2 'b': quantization has 3 scales but 4 zero points",
    ),
    "operator input": (
        _patched(_vector(GRAPH.Operators(0), 1) + 4, "<i", 99),
        r"operator 0 \(CONV_2D\) inputs\[1\]: tensor index 99 out of range \(-1 \(omitted\) or 0..4\)",
    ),
    "operator output": (
        _patched(_vector(GRAPH.Operators(1), 2), "<i", -1),
        r"operator 1 \(SOFTMAX\) outputs\[0\]: tensor index -1 out of range \(0..4\)",
    ),
    "subgraph output": (
        _patched(_vector(GRAPH, 2), "<i", 5),
        r"subgraph outputs\[0\]: tensor index 5 out of range \(0..4\)",
    ),
    "opcode index": (
        _patched(_field(GRAPH.Operators(1), 0), "<I", 9),
        r"operator 1: opcode index 9 out of range \(model has 2 operator codes\)",
    ),
    "enum value": (
        _patched(_field(_conv_options(), 0), "<b", 9),
        r"operator 0 \(CONV_2D\): Conv2DOptions: option padding has invalid Padding value 9",
    ),
    "options type": (
        _patched(_field(GRAPH.Operators(0), 3), "<B", 5),
        r"operator 0 \(CONV_2D\): builtin_options_type is Pool2DOptions \(5\), expected Conv2DOptions \(1\)",
    ),
    "schema version": (
        _patched(_field(ROOT, 0), "<I", 4),
        r"model has schema version 4, expected 3",
    ),
    "root offset": (
        _patched(0, "<I", 0xFFFFFF00),
        r"model: bytes 4294967040..4294967044 lie outside the file",
    ),
    "too short": (BASE[:7], r"7 bytes is too short"),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_error_names_the_culprit(name: str) -> None:
    data, message = CORRUPTIONS[name]
    with pytest.raises(ModelError, match=message):
        load_model(data)


def test_base_model_is_valid() -> None:
    assert load_model(BASE).main.operators[1].opcode == "SOFTMAX"
