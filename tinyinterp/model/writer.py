"""Write the IR as a .tflite flatbuffer laid out the way TFLite's converter does it.

Buffer 0 is the empty sentinel, each constant tensor gets its own buffer (tensors that shared
one in the source model and still hold equal bytes keep sharing it), tensor data is aligned
to 16 bytes, operator codes are deduplicated and carry both builtin_code and
deprecated_builtin_code, options are written from the schema tables (fields at their default
are omitted, as flatbuffers does), and metadata entries get their buffers back. What the IR
does not hold (signature defs, quantization min/max, has_rank) is not written.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import flatbuffers
import numpy as np

from tinyinterp.errors import ModelError
from tinyinterp.model import ir, schema
from tinyinterp.model.reader import load_model

DATA_ALIGNMENT = 16
_PLACEHOLDER_OFFSET = 2**62  # any non-default value: it only reserves the field's 8 bytes

_B = flatbuffers.Builder
_OFFSET = _B.PrependUOffsetTRelativeSlot  # a table, vector or string field
_SCALAR_SLOT_WRITERS: dict[str, Callable[..., None]] = {
    "bool": _B.PrependBoolSlot,
    "uint8": _B.PrependUint8Slot,
    "int32": _B.PrependInt32Slot,
    "uint32": _B.PrependUint32Slot,
    "int64": _B.PrependInt64Slot,
    "float32": _B.PrependFloat32Slot,
}


def save_model(model: ir.Model, *, external_data: bool = False, validate: bool = True) -> bytes:
    """The .tflite bytes of `model`; ModelError if the IR cannot be written.

    With external_data, buffer contents follow the flatbuffer and are referenced by
    Buffer.offset/size (the layout TFLite uses for models over 2 GB) instead of inline.
    validate=False skips reading the result back, so that fuzzers can write models the reader
    rejects (out-of-range indices, negative dimensions, ...) to test those very checks.
    """
    buffers, tensor_buffers = _plan_buffers(model)
    if external_data:
        result = _build_external(model, buffers, tensor_buffers)
    else:
        result = _build(model, buffers, tensor_buffers, None)
    if not validate:
        return result
    # Reading the result back applies every check of the reader to the IR we were given.
    try:
        load_model(result)
    except ModelError as error:
        raise ModelError(f"cannot write an invalid model: {error}") from None
    return result


def write_model(model: ir.Model, path: str | os.PathLike[str], *, external_data: bool = False) -> None:
    """Write `model` as a .tflite file at `path`."""
    data = save_model(model, external_data=external_data)
    with open(path, "wb") as file:
        file.write(data)


def _build_external(model: ir.Model, buffers: list[bytes], tensor_buffers: list[list[int]]) -> bytes:
    # Offsets count from the file start, so they depend on the flatbuffer's size. Placeholder
    # offsets occupy the same 8 bytes as the real ones: the second build has the same layout.
    placeholders = [_PLACEHOLDER_OFFSET if data else 0 for data in buffers]
    flatbuffer_size = len(_build(model, buffers, tensor_buffers, placeholders))
    offsets, position = [], _align(flatbuffer_size)
    for data in buffers:
        offsets.append(position if data else 0)
        position = _align(position + len(data))
    out = bytearray(_build(model, buffers, tensor_buffers, offsets))
    assert len(out) == flatbuffer_size, "placeholder offsets changed the flatbuffer layout"
    for data, offset in zip(buffers, offsets, strict=True):
        if data:
            out.extend(bytes(offset - len(out)))
            out.extend(data)
    return bytes(out)


def _prefix(subgraph_index: int) -> str:
    """How messages name a subgraph's tensors and operators (as the reader does)."""
    return f"subgraph {subgraph_index} " if subgraph_index else ""


def _align(position: int) -> int:
    return -(-position // DATA_ALIGNMENT) * DATA_ALIGNMENT


def _plan_buffers(model: ir.Model) -> tuple[list[bytes], list[list[int]]]:
    """The model's buffers (0 empty, tensors' data, then metadata) and each tensor's buffer index."""
    buffers: list[bytes] = [b""]
    shared: dict[tuple[int, bytes], int] = {}
    tensor_buffers = []
    for subgraph_index, subgraph in enumerate(model.subgraphs):
        indices = []
        for position, tensor in enumerate(subgraph.tensors):
            data = _tensor_bytes(tensor, position, subgraph_index)
            if not data:
                indices.append(0)
                continue
            key = (tensor.buffer, data)
            if tensor.buffer == 0 or key not in shared:
                shared[key] = len(buffers)
                buffers.append(data)
            indices.append(shared[key])
        tensor_buffers.append(indices)
    buffers.extend(data for _, data in model.metadata)
    return buffers, tensor_buffers


def _tensor_bytes(tensor: ir.Tensor, position: int, subgraph_index: int) -> bytes:
    what = f"{_prefix(subgraph_index)}tensor {position} {tensor.name!r}"
    if tensor.index != position:
        raise ModelError(f"{what}: index is {tensor.index}, expected its position {position}")
    if tensor.data is None:
        return b""
    if tensor.dtype not in ir.NUMPY_TENSOR_TYPES:
        raise ModelError(f"{what}: {tensor.dtype.name} tensors cannot hold constant data")
    if tensor.data.shape != tensor.shape or tensor.data.dtype != tensor.dtype.numpy:
        raise ModelError(
            f"{what}: data is {tensor.data.dtype}{list(tensor.data.shape)}, "
            f"expected {tensor.dtype.numpy}{list(tensor.shape)}"
        )
    return np.ascontiguousarray(tensor.data).tobytes()


class _Writer:
    def __init__(self, builder: flatbuffers.Builder) -> None:
        self.b = builder
        self.opcodes: dict[tuple[str, int, str], int] = {}  # (name, version, custom_code) -> index

    def vector(self, values: Any, dtype: str) -> int:
        return self.b.CreateNumpyVector(np.asarray(values, dtype=dtype).reshape(-1))

    def offsets(self, offsets: list[int]) -> int:
        self.b.StartVector(4, len(offsets), 4)
        for offset in reversed(offsets):
            self.b.PrependUOffsetTRelative(offset)
        return self.b.EndVector()

    def table(self, fields: list[tuple[Callable[..., None], int, Any, Any]]) -> int:
        """A table from (Builder.PrependXSlot, slot, value, default) entries; children come first."""
        self.b.StartObject(max((slot for _, slot, _, _ in fields), default=-1) + 1)
        for prepend, slot, value, default in fields:
            prepend(self.b, slot, value, default)
        return self.b.EndObject()

    def buffer(self, data: bytes, offset: int | None) -> int:
        if offset is not None:  # external data: only the location is stored here
            return self.table(
                [
                    (_B.PrependUint64Slot, 1, offset, 0),
                    (_B.PrependUint64Slot, 2, len(data), 0),
                ]
            )
        if not data:
            return self.table([])
        # Aligning the vector's contents: Prep pads so that the bytes written next end aligned.
        self.b.Prep(DATA_ALIGNMENT, len(data))
        return self.table([(_OFFSET, 0, self.b.CreateByteVector(data), 0)])

    def quantization(self, quantization: ir.Quantization) -> int:
        scale = self.vector(quantization.scale, "<f4")
        zero_point = self.vector(quantization.zero_point, "<i8")
        return self.table(
            [
                (_OFFSET, 2, scale, 0),
                (_OFFSET, 3, zero_point, 0),
                (_B.PrependInt32Slot, 6, quantization.quantized_dimension, 0),
            ]
        )

    def tensor(self, tensor: ir.Tensor, buffer: int) -> int:
        fields = [
            (_OFFSET, 0, self.vector(tensor.shape, "<i4"), 0),
            (_OFFSET, 3, self.b.CreateString(tensor.name), 0),
            (_B.PrependInt8Slot, 1, int(tensor.dtype), 0),
            (_B.PrependUint32Slot, 2, buffer, 0),
            (_B.PrependBoolSlot, 5, tensor.is_variable, False),
        ]
        if tensor.quantization is not None:
            fields.append((_OFFSET, 4, self.quantization(tensor.quantization), 0))
        if tensor.shape_signature is not None:
            fields.append((_OFFSET, 7, self.vector(tensor.shape_signature, "<i4"), 0))
        return self.table(fields)

    def opcode_index(self, op: ir.Operator, options: dict[str, Any]) -> int:
        key = (op.opcode, op.version, options.get("custom_code", ""))
        return self.opcodes.setdefault(key, len(self.opcodes))

    def opcode(self, name: str, version: int, custom_code: str) -> int:
        code = schema.BUILTIN_CODES[name]
        fields = [
            (_B.PrependInt8Slot, 0, min(code, schema.PLACEHOLDER_FOR_GREATER_OP_CODES), 0),
            (_B.PrependInt32Slot, 2, version, 1),
            (_B.PrependInt32Slot, 3, code, 0),
        ]
        if custom_code:
            fields.append((_OFFSET, 1, self.b.CreateString(custom_code), 0))
        return self.table(fields)

    def operator(self, op: ir.Operator, what: str) -> int:
        try:
            options = schema.normalize_options(op.opcode, op.options)
        except ModelError as error:
            raise ModelError(f"{what}: {error}") from None
        if not 1 <= op.version < 2**31:
            raise ModelError(f"{what}: invalid version {op.version}")
        fields = [
            (_B.PrependUint32Slot, 0, self.opcode_index(op, options), 0),
            (_OFFSET, 1, self.vector(op.inputs, "<i4"), 0),
            (_OFFSET, 2, self.vector(op.outputs, "<i4"), 0),
        ]
        if op.intermediates:
            fields.append((_OFFSET, 8, self.vector(op.intermediates, "<i4"), 0))
        if op.opcode == schema.CUSTOM:
            fields.append((_OFFSET, 5, self.b.CreateByteVector(options["custom_options"]), 0))
        elif op.opcode in schema.OPTIONS_BY_OPCODE:
            spec = schema.OPTIONS_BY_OPCODE[op.opcode]
            fields.append((_B.PrependUint8Slot, 3, spec.union_id, 0))
            fields.append((_OFFSET, 4, self.options(spec, options), 0))
        return self.table(fields)

    def options(self, spec: schema.OptionsTable, options: dict[str, Any]) -> int:
        fields: list[tuple[Callable[..., None], int, Any, Any]] = []
        for field in spec.fields:
            value = options[field.name]
            if value == field.default:
                continue
            if field.kind in schema.ENUMS:
                names = schema.ENUMS[field.kind]
                fields.append((_B.PrependInt8Slot, field.slot, names.index(value), None))
            elif field.kind in schema.VECTOR_KINDS:
                dtype = schema.SCALAR_KINDS[schema.VECTOR_KINDS[field.kind]][0]
                offset = self.vector(value, dtype)
                fields.append((_OFFSET, field.slot, offset, 0))
            elif field.kind == schema.STRING:
                offset = self.b.CreateString(value)
                fields.append((_OFFSET, field.slot, offset, 0))
            else:
                fields.append((_SCALAR_SLOT_WRITERS[field.kind], field.slot, value, None))
        return self.table(fields)

    def subgraph(self, subgraph: ir.Subgraph, index: int, buffers: list[int]) -> int:
        tensors = [self.tensor(t, buffer) for t, buffer in zip(subgraph.tensors, buffers, strict=True)]
        operators = []
        for position, op in enumerate(subgraph.operators):
            what = f"{_prefix(index)}operator {position} ({op.opcode})"
            if op.index != position:
                raise ModelError(f"{what}: index is {op.index}, expected its position {position}")
            operators.append(self.operator(op, what))
        return self.table(
            [
                (_OFFSET, 0, self.offsets(tensors), 0),
                (_OFFSET, 1, self.vector(subgraph.inputs, "<i4"), 0),
                (_OFFSET, 2, self.vector(subgraph.outputs, "<i4"), 0),
                (_OFFSET, 3, self.offsets(operators), 0),
                (_OFFSET, 4, self.b.CreateString(subgraph.name), 0),
            ]
        )


def _build(
    model: ir.Model, buffers: list[bytes], tensor_buffers: list[list[int]], offsets: list[int] | None
) -> bytes:
    builder = _B(sum(len(data) for data in buffers) + 65536)
    writer = _Writer(builder)
    try:
        # Flatbuffers are built back to front: creating the buffers first, last one first, puts
        # the bulky data at the end of the file in buffer order.
        buffer_tables = [
            writer.buffer(buffers[i], None if offsets is None else offsets[i])
            for i in reversed(range(len(buffers)))
        ][::-1]
        subgraphs = [writer.subgraph(s, i, tensor_buffers[i]) for i, s in enumerate(model.subgraphs)]
        opcodes = [writer.opcode(*key) for key in writer.opcodes]
        first_metadata_buffer = len(buffers) - len(model.metadata)
        metadata = [
            writer.table(
                [
                    (_OFFSET, 0, builder.CreateString(name), 0),
                    (_B.PrependUint32Slot, 1, first_metadata_buffer + i, 0),
                ]
            )
            for i, (name, _) in enumerate(model.metadata)
        ]
        root = writer.table(
            [
                (_B.PrependUint32Slot, 0, model.version, 0),
                (_OFFSET, 1, writer.offsets(opcodes), 0),
                (_OFFSET, 2, writer.offsets(subgraphs), 0),
                (_OFFSET, 3, builder.CreateString(model.description), 0),
                (_OFFSET, 4, writer.offsets(buffer_tables), 0),
                (_OFFSET, 6, writer.offsets(metadata), 0),
            ]
        )
        builder.Finish(root, file_identifier=schema.FILE_IDENTIFIER)
    except ModelError:
        raise
    except (TypeError, ValueError, OverflowError, flatbuffers.builder.BuilderSizeError) as error:
        # e.g. a name that is not a str, or a number out of its field's range
        raise ModelError(f"cannot write model: {error}") from None
    return bytes(builder.Output())
