"""Read a .tflite flatbuffer into the IR, checking every offset, index and length before use.

All access to the file goes through `_Bytes` and `_Table`, which bounds-check each read before
decoding it with flatbuffers' number_types, so a malformed file raises ModelError and never
IndexError, struct.error or UnicodeDecodeError. The reader follows the fixed schema depth
(model, subgraph, tensor/operator, quantization/options) and flatbuffer offsets are unsigned,
so no offset, cyclic or not, can make it recurse or loop.
"""

from __future__ import annotations

import os
import struct
from typing import Any

import numpy as np
from flatbuffers import number_types as N
from flatbuffers import util

from tinyinterp.errors import ModelError
from tinyinterp.model import ir, schema

MAX_RANK = 16  # far above any real model's; keeps numpy (max 64 dims) out of trouble
MAX_ELEMENTS = 2**31 - 1  # TFLM counts elements in an int
# Tables in one vector (tensors of a subgraph, operators, buffers, ...): real models have at most
# a few thousand; the cap keeps a small file from describing millions of them.
MAX_TABLES = 2**17

_SCALAR_FLAGS: dict[str, Any] = {
    "bool": N.BoolFlags,
    "uint8": N.Uint8Flags,
    "int32": N.Int32Flags,
    "uint32": N.Uint32Flags,
    "int64": N.Int64Flags,
    "float32": N.Float32Flags,
}
_VTABLE_HEADER = struct.Struct("<HH")  # vtable size, table size (both VOffsetT)
_I32 = np.dtype("<i4")
_U32 = np.dtype("<u4")
_I64 = np.dtype("<i8")
_F32 = np.dtype("<f4")


def load_model(source: str | os.PathLike[str] | bytes | bytearray | memoryview) -> ir.Model:
    """Read a .tflite model from a path or its bytes; ModelError if it is malformed (OSError if
    a path cannot be read).

    Constant tensor data are read-only views of the file bytes (a bytearray or memoryview is
    copied once into private bytes so that later changes to it cannot alter the model).
    """
    if isinstance(source, (str, os.PathLike)):
        try:
            return _ModelReader(_source_bytes(source)).read()
        except ModelError as error:
            raise ModelError(f"{os.fspath(source)}: {error}") from None
    return _ModelReader(_source_bytes(source)).read()


def _source_bytes(source: Any) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, bytearray):
        return bytes(source)
    if isinstance(source, memoryview):
        return source.tobytes()
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as file:
            return file.read()
    raise TypeError(f"load_model expects a path or bytes, got {type(source).__name__}")


class _Bytes:
    """The file bytes, with range checks and the few raw reads that are not table fields."""

    __slots__ = ("data", "size")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def check(self, pos: int, length: int, what: str) -> None:
        if pos < 0 or length < 0 or pos + length > self.size:
            raise ModelError(f"{what}: bytes {pos}..{pos + length} lie outside the file ({self.size} bytes)")

    def get(self, flags: Any, pos: int, what: str) -> Any:
        if pos < 0 or pos + flags.bytewidth > self.size:
            self.check(pos, flags.bytewidth, what)
        return flags.packer_type.unpack_from(self.data, pos)[0]

    def vector(self, pos: int, item_size: int, what: str) -> tuple[int, int]:
        """(start, length) of the vector whose length prefix is at `pos`."""
        length = self.get(N.UOffsetTFlags, pos, what)
        if pos + 4 + length * item_size > self.size:
            self.check(pos + 4, length * item_size, f"{what} ({length} elements)")
        return pos + 4, length

    def string(self, pos: int, what: str) -> str:
        start, length = self.vector(pos, 1, what)
        self.check(start, length + 1, f"{what} (with its terminating NUL)")
        if self.data[start + length] != 0:
            raise ModelError(f"{what}: string is not NUL-terminated")
        try:
            return self.data[start : start + length].decode("utf-8")
        except UnicodeDecodeError as error:
            raise ModelError(f"{what}: string is not UTF-8 ({error.reason} at byte {error.start})") from None


class _Table:
    """One flatbuffer table whose vtable and inline size have been checked against the file.

    Reads use flatbuffers' number_types packers directly: `flatbuffers.table.Table.Get` costs
    a few microseconds per read (a memoryview and range assertions each time), too slow for
    the thousands of reads of a model.
    """

    __slots__ = ("_offsets", "_pos", "_size", "buf", "what")

    def __init__(self, buf: _Bytes, pos: int, what: str) -> None:
        self.buf = buf
        self.what = what
        vtable = pos - buf.get(N.SOffsetTFlags, pos, what)
        buf.check(vtable, 4, f"{what}: vtable")
        vtable_size, size = _VTABLE_HEADER.unpack_from(buf.data, vtable)
        if vtable_size < 4 or vtable_size % 2 or size < 4:
            raise ModelError(f"{what}: corrupt vtable (vtable size {vtable_size}, table size {size})")
        buf.check(vtable, vtable_size, f"{what}: vtable")
        buf.check(pos, size, what)
        self._pos = pos
        self._offsets = struct.unpack_from(f"<{vtable_size // 2 - 2}H", buf.data, vtable + 4)
        self._size = size

    def _field(self, slot: int, width: int, name: str) -> int:
        """Absolute position of field `slot`, or 0 if the table does not store it."""
        if slot >= len(self._offsets):
            return 0
        offset = self._offsets[slot]
        if offset and offset + width > self._size:
            raise ModelError(f"{self.what}: field {name} lies outside its table")
        return offset and self._pos + offset

    def has(self, slot: int, name: str) -> bool:
        """Whether the table stores the offset field `slot`."""
        return self._field(slot, 4, name) != 0

    def scalar(self, slot: int, flags: Any, default: Any, name: str) -> Any:
        pos = self._field(slot, flags.bytewidth, name)
        return flags.packer_type.unpack_from(self.buf.data, pos)[0] if pos else default

    def _target(self, slot: int, name: str) -> int:
        """Where the offset field `slot` points, or 0 if absent."""
        pos = self._field(slot, 4, name)
        return pos and pos + N.UOffsetTFlags.packer_type.unpack_from(self.buf.data, pos)[0]

    def table(self, slot: int, name: str, what: str) -> _Table | None:
        target = self._target(slot, name)
        return _Table(self.buf, target, what) if target else None

    def vector(self, slot: int, item_size: int, name: str) -> tuple[int, int] | None:
        target = self._target(slot, name)
        return self.buf.vector(target, item_size, f"{self.what}: {name}") if target else None

    def array(self, slot: int, dtype: np.dtype, name: str) -> np.ndarray | None:
        """A numeric vector as a read-only view of the file, or None if absent."""
        found = self.vector(slot, dtype.itemsize, name)
        return None if found is None else np.frombuffer(self.buf.data, dtype, found[1], found[0])

    def ints(self, slot: int, name: str) -> tuple[int, ...]:
        found = self.array(slot, _I32, name)
        return () if found is None else tuple(found.tolist())

    def string(self, slot: int, name: str) -> str:
        target = self._target(slot, name)
        return self.buf.string(target, f"{self.what}: {name}") if target else ""

    def tables(self, slot: int, name: str, label: str) -> list[_Table]:
        """The tables of a vector of tables; `label.format(i)` names table i in messages."""
        found = self.vector(slot, 4, name)
        if found is None:
            return []
        start, length = found
        if length > MAX_TABLES:
            raise ModelError(
                f"{self.what}: {name} has {length:,} entries, more than the {MAX_TABLES:,} allowed"
            )
        offsets = np.frombuffer(self.buf.data, _U32, length, start).astype(np.int64)
        targets = offsets + np.arange(start, start + 4 * length, 4, dtype=np.int64)
        _check_distinct(targets, f"{self.what}: {name}")
        return [_Table(self.buf, pos, label.format(i)) for i, pos in enumerate(targets.tolist())]


def _check_distinct(targets: np.ndarray, what: str) -> None:
    """Every entry its own table: no writer shares them, and a shared one would let a few bytes
    stand for any number of tensors or operators (each read, prepared and run)."""
    unique, first = np.unique(targets, return_index=True)
    if unique.size != targets.size:
        repeated = int(np.setdiff1d(np.arange(targets.size), first)[0])
        original = int(np.flatnonzero(targets == targets[repeated])[0])
        raise ModelError(f"{what}: entries {original} and {repeated} are the same table")


class _OpCode:
    __slots__ = ("custom_code", "name", "version")

    def __init__(self, name: str, version: int, custom_code: str) -> None:
        self.name = name
        self.version = version
        self.custom_code = custom_code


class _ModelReader:
    def __init__(self, data: bytes) -> None:
        self.buf = _Bytes(data)
        self.opcodes: list[_OpCode] = []
        self.buffers: list[tuple[int, int]] = []  # (start, length) of each buffer's bytes

    def read(self) -> ir.Model:
        model = self._root()
        version = model.scalar(0, N.Uint32Flags, 0, "version")
        if version != schema.SCHEMA_VERSION:
            raise ModelError(f"model has schema version {version}, expected {schema.SCHEMA_VERSION}")
        self.opcodes = [self._opcode(t) for t in model.tables(1, "operator_codes", "operator_codes[{}]")]
        self.buffers = [self._buffer(t) for t in model.tables(4, "buffers", "buffers[{}]")]
        description = model.string(3, "description")
        metadata = tuple(self._metadata(t) for t in model.tables(6, "metadata", "metadata[{}]"))
        subgraphs = tuple(
            self._subgraph(t, i) for i, t in enumerate(model.tables(2, "subgraphs", "subgraph {}"))
        )
        if not subgraphs:
            raise ModelError("model has no subgraphs")
        return ir.Model(subgraphs, description, version, metadata)

    def _root(self) -> _Table:
        if self.buf.size < 8:
            raise ModelError(f"not a TFLite model: {self.buf.size} bytes is too short for a flatbuffer")
        identifier = bytes(util.GetBufferIdentifier(self.buf.data, 0))
        if identifier != schema.FILE_IDENTIFIER:
            raise ModelError(
                f"not a TFLite model: file identifier (bytes 4..8) is {identifier!r}, "
                f"expected {schema.FILE_IDENTIFIER!r}"
            )
        return _Table(self.buf, self.buf.get(N.UOffsetTFlags, 0, "root offset"), "model")

    def _opcode(self, table: _Table) -> _OpCode:
        deprecated = table.scalar(0, N.Int8Flags, 0, "deprecated_builtin_code")
        code = max(deprecated, table.scalar(3, N.Int32Flags, 0, "builtin_code"))
        if not 0 <= code < len(schema.BUILTIN_OPERATORS) or code == schema.PLACEHOLDER_FOR_GREATER_OP_CODES:
            raise ModelError(f"{table.what}: unknown builtin operator code {code}")
        name = schema.BUILTIN_OPERATORS[code]
        version = table.scalar(2, N.Int32Flags, 1, "version")
        if version < 1:
            raise ModelError(f"{table.what} ({name}): invalid version {version}")
        custom_code = table.string(1, "custom_code")
        if name == schema.CUSTOM and not custom_code:
            raise ModelError(f"{table.what}: CUSTOM operator code without a custom_code")
        return _OpCode(name, version, custom_code)

    def _buffer(self, table: _Table) -> tuple[int, int]:
        inline = table.vector(0, 1, "data") or (0, 0)
        offset = table.scalar(1, N.Uint64Flags, 0, "offset")
        # Offsets 0 and 1 mean "inline" (1 is the converter's placeholder), as in TFLite.
        if offset <= 1:
            return inline
        if inline[1]:
            raise ModelError(f"{table.what}: has both inline data and an offset")
        size = table.scalar(2, N.Uint64Flags, 0, "size")
        self.buf.check(offset, size, f"{table.what} (offset {offset}, size {size})")
        return offset, size

    def _buffer_bytes(self, index: int, what: str) -> tuple[int, int]:
        if index >= len(self.buffers):
            raise ModelError(
                f"{what}: buffer index {index} out of range (model has {len(self.buffers)} buffers)"
            )
        return self.buffers[index]

    def _metadata(self, table: _Table) -> tuple[str, bytes]:
        name = table.string(0, "name")
        start, length = self._buffer_bytes(table.scalar(1, N.Uint32Flags, 0, "buffer"), f"metadata {name!r}")
        return name, self.buf.data[start : start + length]

    def _subgraph(self, table: _Table, index: int) -> ir.Subgraph:
        # Names of things in the main subgraph are not prefixed, to keep messages short.
        prefix = f"subgraph {index} " if index else ""
        tensors = tuple(
            self._tensor(t, i, prefix)
            for i, t in enumerate(table.tables(0, "tensors", f"{prefix}tensor {{}}"))
        )
        inputs = _indices(table.ints(1, "inputs"), len(tensors), f"{prefix}subgraph inputs", optional=False)
        outputs = _indices(
            table.ints(2, "outputs"), len(tensors), f"{prefix}subgraph outputs", optional=False
        )
        operators = tuple(
            self._operator(t, i, prefix, len(tensors))
            for i, t in enumerate(table.tables(3, "operators", f"{prefix}operator {{}}"))
        )
        return ir.Subgraph(tensors, operators, inputs, outputs, table.string(4, "name"))

    def _tensor(self, table: _Table, index: int, prefix: str) -> ir.Tensor:
        name = table.string(3, "name")
        what = table.what = f"{prefix}tensor {index} {name!r}"
        shape = _shape(table.ints(0, "shape"), what)
        dtype = _tensor_type(table.scalar(1, N.Int8Flags, 0, "type"), what)
        buffer = table.scalar(2, N.Uint32Flags, 0, "buffer")
        quantization = _quantization(table.table(4, "quantization", f"{what}: quantization"), shape, what)
        if table.has(6, "sparsity"):
            raise ModelError(f"{what}: sparse tensors are not supported")
        signature = table.array(7, _I32, "shape_signature")
        if table.scalar(10, N.Uint32Flags, 0, "external_buffer"):
            raise ModelError(f"{what}: external buffers are not supported")
        return ir.Tensor(
            index=index,
            name=name,
            shape=shape,
            dtype=dtype,
            buffer=buffer,
            quantization=quantization,
            data=self._tensor_data(buffer, shape, dtype, what),
            shape_signature=None if signature is None else _shape_signature(signature.tolist(), shape, what),
            is_variable=table.scalar(5, N.BoolFlags, False, "is_variable"),
        )

    def _tensor_data(
        self, buffer: int, shape: tuple[int, ...], dtype: ir.TensorType, what: str
    ) -> np.ndarray | None:
        if buffer == 0:  # buffer 0 is the schema's "no data" sentinel
            return None
        start, length = self._buffer_bytes(buffer, what)
        if not length:
            return None
        if dtype not in ir.NUMPY_TENSOR_TYPES:
            raise ModelError(f"{what}: {dtype.name} tensors cannot hold constant data (buffer {buffer})")
        count = _element_count(shape)
        expected = count * dtype.numpy.itemsize
        if length != expected:
            raise ModelError(
                f"{what}: buffer {buffer} holds {length} bytes, expected {expected} "
                f"for shape {list(shape)} of {dtype.name}"
            )
        return np.frombuffer(self.buf.data, dtype.numpy, count, start).reshape(shape)

    def _operator(self, table: _Table, index: int, prefix: str, n_tensors: int) -> ir.Operator:
        opcode_index = table.scalar(0, N.Uint32Flags, 0, "opcode_index")
        if opcode_index >= len(self.opcodes):
            raise ModelError(
                f"{table.what}: opcode index {opcode_index} out of range "
                f"(model has {len(self.opcodes)} operator codes)"
            )
        opcode = self.opcodes[opcode_index]
        what = table.what = f"{prefix}operator {index} ({opcode.name})"
        inputs = _indices(table.ints(1, "inputs"), n_tensors, f"{what} inputs", optional=True)
        outputs = _indices(table.ints(2, "outputs"), n_tensors, f"{what} outputs", optional=False)
        intermediates = _indices(
            table.ints(8, "intermediates"), n_tensors, f"{what} intermediates", optional=False
        )
        table.vector(7, 1, "mutating_variable_inputs")  # not kept (TFLM ignores it), but framing checked
        options = (
            self._custom_options(table, opcode)
            if opcode.name == schema.CUSTOM
            else _options(table, opcode.name)
        )
        return ir.Operator(index, opcode.name, inputs, outputs, options, opcode.version, intermediates)

    def _custom_options(self, table: _Table, opcode: _OpCode) -> dict[str, Any]:
        format_ = table.scalar(6, N.Int8Flags, 0, "custom_options_format")
        if format_ != 0:
            raise ModelError(f"{table.what}: unknown custom_options_format {format_} (only 0, FLEXBUFFERS)")
        start, length = table.vector(5, 1, "custom_options") or (0, 0)
        # Models over 2 GB store custom options after the flatbuffer, like buffers.
        large_offset = table.scalar(9, N.Uint64Flags, 0, "large_custom_options_offset")
        if large_offset > 1:
            length = table.scalar(10, N.Uint64Flags, 0, "large_custom_options_size")
            start = large_offset
            self.buf.check(start, length, f"{table.what}: large custom options")
        return {"custom_code": opcode.custom_code, "custom_options": self.buf.data[start : start + length]}


def _indices(values: tuple[int, ...], n_tensors: int, what: str, *, optional: bool) -> tuple[int, ...]:
    low = -1 if optional else 0
    for position, value in enumerate(values):
        if not low <= value < n_tensors:
            allowed = f"-1 (omitted) or 0..{n_tensors - 1}" if optional else f"0..{n_tensors - 1}"
            raise ModelError(f"{what}[{position}]: tensor index {value} out of range ({allowed})")
    return values


def _shape(shape: tuple[int, ...], what: str) -> tuple[int, ...]:
    if len(shape) > MAX_RANK:
        raise ModelError(f"{what}: rank {len(shape)} exceeds the maximum {MAX_RANK}")
    if any(dim < 0 for dim in shape):
        raise ModelError(f"{what}: negative dimension in shape {list(shape)}")
    # Non-zero dimensions only: a shape with a 0 is empty, yet numpy still refuses to make an
    # array of it when the other dimensions' product overflows.
    if _element_count(tuple(d for d in shape if d)) > MAX_ELEMENTS:
        raise ModelError(f"{what}: shape {list(shape)} has more than {MAX_ELEMENTS} elements")
    return shape


def _shape_signature(signature: list[int], shape: tuple[int, ...], what: str) -> tuple[int, ...]:
    # -1 marks a dimension unknown at conversion time; every other entry must match the shape.
    if len(signature) != len(shape) or any(s != -1 and s != d for s, d in zip(signature, shape, strict=True)):
        raise ModelError(f"{what}: shape_signature {signature} does not match shape {list(shape)}")
    return tuple(signature)


def _element_count(shape: tuple[int, ...]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def _tensor_type(code: int, what: str) -> ir.TensorType:
    try:
        return ir.TensorType(code)
    except ValueError:
        names = schema.ENUMS["TensorType"]
        known = f" ({names[code]})" if 0 <= code < len(names) else ""
        raise ModelError(f"{what}: unsupported tensor type {code}{known}") from None


def _quantization(table: _Table | None, shape: tuple[int, ...], what: str) -> ir.Quantization | None:
    if table is None:
        return None
    if table.scalar(4, N.Uint8Flags, 0, "details_type"):
        raise ModelError(f"{what}: custom quantization details are not supported")
    # min and max are converter annotations the IR does not keep; only their framing is checked.
    table.vector(0, 4, "min")
    table.vector(1, 4, "max")
    scale = table.array(2, _F32, "scale")
    zero_point = table.array(3, _I64, "zero_point")
    n_scale = 0 if scale is None else scale.size
    n_zero_point = 0 if zero_point is None else zero_point.size
    if n_scale == 0 and n_zero_point == 0:
        return None
    if n_scale != n_zero_point:
        raise ModelError(f"{what}: quantization has {n_scale} scales but {n_zero_point} zero points")
    axis = table.scalar(6, N.Int32Flags, 0, "quantized_dimension")
    if len(shape) == 1 and axis >= 1 and n_scale == shape[0]:
        # Converters give a depthwise conv's 1-D bias its filter's quantized_dimension (3), which
        # TFLM ignores: one scale per element of a 1-D tensor is dimension 0.
        axis = 0
    if not 0 <= axis < max(len(shape), 1):
        raise ModelError(f"{what}: quantized_dimension {axis} out of range for shape {list(shape)}")
    if n_scale > 1 and (not shape or shape[axis] != n_scale):
        raise ModelError(
            f"{what}: {n_scale} per-channel scales but shape {list(shape)} has "
            f"{shape[axis] if shape else 'no'} channels in dimension {axis}"
        )
    # The views already have the IR's dtypes (<f4, <i8) and are read-only: no copy needed.
    assert scale is not None and zero_point is not None  # equal counts, not both zero
    return ir.Quantization(scale, zero_point, axis)


def _options(table: _Table, opcode: str) -> dict[str, Any]:
    spec = schema.OPTIONS_BY_OPCODE.get(opcode)
    if spec is None:  # an operator without options (or one whose options we do not model)
        return {}
    union_id = table.scalar(3, N.Uint8Flags, 0, "builtin_options_type")
    if union_id and union_id != spec.union_id:
        found = schema.OPTIONS_BY_UNION_ID.get(union_id)
        raise ModelError(
            f"{table.what}: builtin_options_type is {found.name if found else 'unknown'} ({union_id}), "
            f"expected {spec.name} ({spec.union_id})"
        )
    options_table = table.table(4, "builtin_options", f"{table.what}: {spec.name}") if union_id else None
    if options_table is None:  # absent options mean all defaults
        return schema.default_options(opcode)
    return {field.name: _option(options_table, field) for field in spec.fields}


def _option(table: _Table, field: schema.Field) -> Any:
    kind = field.kind
    if kind in schema.ENUMS:
        names = schema.ENUMS[kind]
        value = table.scalar(field.slot, N.Int8Flags, None, field.name)
        if value is None:
            return field.default
        if not 0 <= value < len(names):
            raise ModelError(f"{table.what}: option {field.name} has invalid {kind} value {value}")
        return names[value]
    if kind in schema.VECTOR_KINDS:
        dtype = np.dtype(schema.SCALAR_KINDS[schema.VECTOR_KINDS[kind]][0])
        found = table.array(field.slot, dtype, field.name)
        return field.default if found is None else tuple(found.tolist())
    if kind == schema.STRING:
        return table.string(field.slot, field.name)
    return table.scalar(field.slot, _SCALAR_FLAGS[kind], field.default, field.name)
