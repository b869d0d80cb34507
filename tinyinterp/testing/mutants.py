"""Mutators that turn a valid model into a hostile one, for fuzzing the reader, prepare and eval.

Two kinds, each a pure function of its input and a `random.Random`, so that a mutant is
reproducible from (seed model, mutator name, seed):

- model mutators (`MODEL_MUTATORS`) edit the IR (shapes, indices, opcodes, quantization,
  options, dtypes, graph order) and the result is written with `save_model(validate=False)`,
  so values the reader must refuse still reach the file;
- byte mutators (`BYTE_MUTATORS`) corrupt the file itself (bit flips, interesting values,
  truncation, duplicated regions); `splice` joins two models.

`mutate(data, name, seed)` applies one by name; `mutants()` is a hypothesis strategy of them.
`shared_table_model()` builds the amplification case: many vector entries sharing one table.
"""

from __future__ import annotations

import functools
import math
import random
import struct
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import flatbuffers
import numpy as np
from hypothesis import reject
from hypothesis import strategies as st

from tinyinterp.errors import ModelError
from tinyinterp.model import ir, schema
from tinyinterp.model.reader import load_model
from tinyinterp.model.writer import save_model
from tinyinterp.ops import OPS

ModelMutator = Callable[[ir.Model, random.Random], ir.Model]
ByteMutator = Callable[[bytes, random.Random], bytes]

# Dimensions that break size arithmetic: empty, unit, large, int32 limits, negative.
HOSTILE_DIMS = (0, 1, 2, 3, 2**20, 2**31 - 1, -1, -(2**31))
HOSTILE_SCALES = (0.0, -0.0, -1.0, float("inf"), float("-inf"), float("nan"), 1e-45, 1e38, 2.0**-40)
HOSTILE_ZERO_POINTS = (128, -129, 255, 32768, -32769, 2**31, -(2**63), 2**63 - 1)
HOSTILE_INT32 = (0, -1, 1, 2, 2**16, 2**31 - 1, -(2**31))
HOSTILE_FLOAT32 = (0.0, -0.0, -1.0, float("nan"), float("inf"), float("-inf"), 1e38, 1e-45)
INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF)
INTERESTING_WORDS = (0, 1, 2, 4, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFC, 0x10000)
# Constant data is reshaped to a mutated shape only up to this many elements and this rank
# (numpy's limit is 64); beyond, the data is dropped.
MAX_RESHAPED_ELEMENTS = 2**20
MAX_RESHAPED_RANK = 32


# ---- helpers on the IR ----------------------------------------------------------------------


def _with_main(model: ir.Model, **changes: Any) -> ir.Model:
    return replace(model, subgraphs=(replace(model.main, **changes), *model.subgraphs[1:]))


def _with_tensor(model: ir.Model, tensor: ir.Tensor) -> ir.Model:
    tensors = list(model.main.tensors)
    tensors[tensor.index] = tensor
    return _with_main(model, tensors=tuple(tensors))


def _with_operator(model: ir.Model, operator: ir.Operator) -> ir.Model:
    operators = list(model.main.operators)
    operators[operator.index] = operator
    return _with_main(model, operators=tuple(operators))


def _reindexed(operators: Sequence[ir.Operator]) -> tuple[ir.Operator, ...]:
    """Operators renumbered by position, as the writer requires."""
    return tuple(replace(op, index=i) for i, op in enumerate(operators))


def _pick_tensor(model: ir.Model, rng: random.Random) -> ir.Tensor | None:
    tensors = model.main.tensors
    return rng.choice(tensors) if tensors else None


def _pick_operator(model: ir.Model, rng: random.Random) -> ir.Operator | None:
    operators = model.main.operators
    return rng.choice(operators) if operators else None


def _fits(shape: Sequence[int]) -> bool:
    """Whether constant data of this shape is small enough to materialize."""
    return (
        len(shape) <= MAX_RESHAPED_RANK
        and all(dim >= 0 for dim in shape)
        and math.prod(shape) <= MAX_RESHAPED_ELEMENTS
    )


def _refit_data(tensor: ir.Tensor, shape: tuple[int, ...], dtype: ir.TensorType) -> np.ndarray | None:
    """The tensor's constant data fitted to a new shape and dtype, or None (no data) if it cannot be."""
    if tensor.data is None or dtype not in ir.NUMPY_TENSOR_TYPES:
        return None
    if not _fits(shape):
        return None
    with warnings.catch_warnings():  # casting complex to real, or out of range: fine for a mutant
        warnings.simplefilter("ignore")
        data = np.resize(tensor.data.astype(dtype.numpy), shape)
    data.flags.writeable = False
    return data


def _random_index(model: ir.Model, rng: random.Random) -> int:
    """A tensor index: half the time a hostile one (omitted, negative, out of range)."""
    count = len(model.main.tensors)
    if count == 0 or rng.random() < 0.5:
        return rng.choice((-1, -2, -(2**31), count, count + 1000, 2**31 - 1))
    return rng.randrange(count)


# ---- model mutators -------------------------------------------------------------------------


def tensor_shape(model: ir.Model, rng: random.Random) -> ir.Model:
    """One dimension to a hostile value, or the rank changed (dropped, added, 0, very high)."""
    tensor = _pick_tensor(model, rng)
    if tensor is None:
        return model
    shape = list(tensor.shape)
    action = rng.choice(("dim", "dim", "drop", "add", "scalar", "high_rank"))
    if action == "dim" and shape:
        shape[rng.randrange(len(shape))] = rng.choice(HOSTILE_DIMS)
    elif action == "drop" and shape:
        del shape[rng.randrange(len(shape))]
    elif action == "add":
        shape.insert(rng.randint(0, len(shape)), rng.choice(HOSTILE_DIMS))
    elif action == "scalar":
        shape = []
    else:
        shape = [1] * rng.choice((5, 6, 8, 16, 17, 64)) + shape
    new_shape = tuple(shape)
    data = _refit_data(tensor, new_shape, tensor.dtype)
    return _with_tensor(model, replace(tensor, shape=new_shape, data=data, shape_signature=None))


def tensor_dtype(model: ir.Model, rng: random.Random) -> ir.Model:
    """A tensor's type to any TensorType code (constant data converted when the type has a dtype)."""
    tensor = _pick_tensor(model, rng)
    if tensor is None:
        return model
    dtype = rng.choice(list(ir.TensorType))
    data = _refit_data(tensor, tensor.shape, dtype)
    return _with_tensor(model, replace(tensor, dtype=dtype, data=data))


def tensor_constness(model: ir.Model, rng: random.Random) -> ir.Model:
    """Constant data dropped, an activation given data, or the variable flag toggled."""
    tensor = _pick_tensor(model, rng)
    if tensor is None:
        return model
    action = rng.choice(("drop", "fill", "variable"))
    if action == "variable":
        return _with_tensor(model, replace(tensor, is_variable=not tensor.is_variable))
    if action == "drop" or tensor.dtype not in ir.NUMPY_TENSOR_TYPES:
        return _with_tensor(model, replace(tensor, data=None))
    if not _fits(tensor.shape):
        return model
    data = np.zeros(tensor.shape, tensor.dtype.numpy)
    data.flags.writeable = False
    return _with_tensor(model, replace(tensor, data=data))


def quantization(model: ir.Model, rng: random.Random) -> ir.Model:
    """A hostile scale, zero point, channel count or quantized_dimension; or quantization removed/added."""
    tensor = _pick_tensor(model, rng)
    if tensor is None:
        return model
    quant = tensor.quantization
    if quant is None or quant.scale.size == 0:  # a previous edit may have left no channels
        quant = ir.Quantization.make(0.5, 0)
    scale, zero_point, axis = quant.scale.copy(), quant.zero_point.copy(), quant.quantized_dimension
    action = rng.choice(("scale", "scale", "zero_point", "zero_point", "channels", "axis", "remove"))
    if action == "remove":
        return _with_tensor(model, replace(tensor, quantization=None))
    if action == "scale":
        scale[rng.randrange(scale.size)] = rng.choice(HOSTILE_SCALES)
    elif action == "zero_point":
        zero_point[rng.randrange(zero_point.size)] = rng.choice(HOSTILE_ZERO_POINTS)
    elif action == "channels":
        count = max(0, scale.size + rng.choice((-1, 1, 7)))
        scale, zero_point = np.resize(scale, count), np.resize(zero_point, count)
    else:
        axis = rng.choice((-1, len(tensor.shape), len(tensor.shape) - 1, 2**31 - 1))
    return _with_tensor(model, replace(tensor, quantization=ir.Quantization.make(scale, zero_point, axis)))


def operator_tensors(model: ir.Model, rng: random.Random) -> ir.Model:
    """An input, output or intermediate index to a hostile one: out of range, omitted, the op's own
    output, another op's tensor; or an entry added or removed (wrong arity)."""
    op = _pick_operator(model, rng)
    if op is None:
        return model
    role = rng.choice(("inputs", "inputs", "outputs", "intermediates"))
    indices = list(getattr(op, role))
    action = rng.choice(("set", "set", "add", "remove", "own_output"))
    if action == "remove" and indices:
        del indices[rng.randrange(len(indices))]
    elif action == "add" or not indices:
        indices.append(_random_index(model, rng))
    elif action == "own_output" and op.outputs:
        indices[rng.randrange(len(indices))] = rng.choice(op.outputs)
    else:
        indices[rng.randrange(len(indices))] = _random_index(model, rng)
    changed = tuple(indices)
    return _with_operator(
        model,
        replace(
            op,
            inputs=changed if role == "inputs" else op.inputs,
            outputs=changed if role == "outputs" else op.outputs,
            intermediates=changed if role == "intermediates" else op.intermediates,
        ),
    )


def opcode(model: ir.Model, rng: random.Random) -> ir.Model:
    """An operator becomes another registered op (options kept if they fit, else defaults)."""
    op = _pick_operator(model, rng)
    if op is None:
        return model
    new_opcode = rng.choice(sorted(OPS))
    same_table = schema.OPTIONS_BY_OPCODE.get(new_opcode) == schema.OPTIONS_BY_OPCODE.get(op.opcode)
    options = dict(op.options) if same_table else schema.default_options(new_opcode)
    return _with_operator(model, replace(op, opcode=new_opcode, options=options))


def _hostile_option(field: schema.Field, rng: random.Random) -> Any:
    kind = field.kind
    if kind in schema.ENUMS:
        return rng.choice(schema.ENUMS[kind])
    if kind in schema.VECTOR_KINDS:
        element = _hostile_option(schema.Field(field.name, field.slot, schema.VECTOR_KINDS[kind], 0), rng)
        return tuple([element] * rng.choice((0, 1, 2, 5, 100)))
    if kind == schema.STRING:
        return rng.choice(("", "x" * 1000))
    if kind == "bool":
        return rng.choice((False, True))
    if kind == "float32":
        return rng.choice(HOSTILE_FLOAT32)
    low, high = schema.SCALAR_KINDS[kind][1]
    return rng.choice([v for v in (*HOSTILE_INT32, low, high) if low <= v <= high])


def options(model: ir.Model, rng: random.Random) -> ir.Model:
    """One option of an operator to an extreme (int limits, 0, -1, NaN, inf, any enum value)."""
    candidates = [op for op in model.main.operators if op.opcode in schema.OPTIONS_BY_OPCODE]
    if not candidates:
        return model
    op = rng.choice(candidates)
    fields = schema.OPTIONS_BY_OPCODE[op.opcode].fields
    if not fields:
        return model
    field = rng.choice(fields)
    new_options = {**op.options, field.name: _hostile_option(field, rng)}
    return _with_operator(model, replace(op, options=new_options))


def operator_version(model: ir.Model, rng: random.Random) -> ir.Model:
    op = _pick_operator(model, rng)
    if op is None:
        return model
    return _with_operator(model, replace(op, version=rng.choice((1, 2, 7, 2**31 - 1))))


def graph_order(model: ir.Model, rng: random.Random) -> ir.Model:
    """Operators swapped, shuffled, deleted (a tensor loses its producer) or duplicated."""
    operators = list(model.main.operators)
    if not operators:
        return model
    action = rng.choice(("swap", "shuffle", "delete", "duplicate", "reverse"))
    if action == "swap":
        i, j = rng.randrange(len(operators)), rng.randrange(len(operators))
        operators[i], operators[j] = operators[j], operators[i]
    elif action == "shuffle":
        rng.shuffle(operators)
    elif action == "delete":
        del operators[rng.randrange(len(operators))]
    elif action == "duplicate":
        position = rng.randrange(len(operators))
        operators.insert(rng.randint(0, len(operators)), operators[position])
    else:
        operators.reverse()
    return _with_main(model, operators=_reindexed(operators))


def subgraph_io(model: ir.Model, rng: random.Random) -> ir.Model:
    """Subgraph inputs or outputs emptied, duplicated, or pointed at another tensor."""
    role = rng.choice(("inputs", "outputs"))
    indices = list(getattr(model.main, role))
    action = rng.choice(("empty", "duplicate", "set", "add"))
    if action == "empty" or not indices:
        indices = []
    elif action == "duplicate":
        indices.append(indices[0])
    elif action == "set":
        indices[rng.randrange(len(indices))] = _random_index(model, rng)
    else:
        indices.append(_random_index(model, rng))
    return _with_main(model, **{role: tuple(indices)})


MODEL_MUTATORS: dict[str, ModelMutator] = {
    "tensor_shape": tensor_shape,
    "tensor_dtype": tensor_dtype,
    "tensor_constness": tensor_constness,
    "quantization": quantization,
    "operator_tensors": operator_tensors,
    "opcode": opcode,
    "options": options,
    "operator_version": operator_version,
    "graph_order": graph_order,
    "subgraph_io": subgraph_io,
}


# ---- byte mutators --------------------------------------------------------------------------


def structure_size(data: bytes) -> int:
    """Bytes before the first constant tensor's data: the flatbuffer tables, where a corruption
    changes the model's structure rather than a weight (converters and our writer put the data last).
    The whole length if the file does not load or has no constant data."""
    try:
        model = load_model(data)
    except ModelError:
        return len(data)
    base = np.frombuffer(data, np.uint8).ctypes.data
    starts = [t.data.ctypes.data - base for s in model.subgraphs for t in s.tensors if t.data is not None]
    return min([len(data), *(s for s in starts if 0 <= s < len(data))])


def _region_end(data: bytes, rng: random.Random, tables_share: float) -> int:
    """Where positions are drawn below: the tables with probability `tables_share`, else the whole file."""
    return max(1, structure_size(data) if rng.random() < tables_share else len(data))


def bit_flips(data: bytes, rng: random.Random) -> bytes:
    """1 to 8 bits flipped, in the tables more often than in tensor data."""
    if not data:
        return data
    out = bytearray(data)
    end = _region_end(data, rng, 0.8)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(end)] ^= 1 << rng.randrange(8)
    return bytes(out)


def interesting_values(data: bytes, rng: random.Random) -> bytes:
    """A byte or an aligned 32-bit word overwritten with a boundary value (or a near-end offset)."""
    out = bytearray(data)
    if len(out) < 4:
        return data
    position = rng.randrange(_region_end(data, rng, 0.9))
    if rng.random() < 0.3:
        out[position] = rng.choice(INTERESTING_BYTES)
    else:
        word = rng.choice((*INTERESTING_WORDS, (len(data) + rng.randint(-16, 16)) % 2**32))
        struct.pack_into("<I", out, min(position & ~3, len(out) - 4), word)
    return bytes(out)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def duplicate_region(data: bytes, rng: random.Random) -> bytes:
    """A region copied over (or inserted at) another place of the file."""
    if not data:
        return data
    start = rng.randrange(len(data))
    region = data[start : start + rng.randint(1, 256)]
    at = rng.randrange(len(data))
    if rng.random() < 0.5:
        return data[:at] + region + data[at:]
    return data[:at] + region + data[at + len(region) :]


def splice(data: bytes, donor: bytes, rng: random.Random) -> bytes:
    """The head of `data` followed by the tail of `donor`, each cut at a random point."""
    return data[: rng.randrange(len(data) + 1)] + donor[rng.randrange(len(donor) + 1) :]


BYTE_MUTATORS: dict[str, ByteMutator] = {
    "bit_flips": bit_flips,
    "interesting_values": interesting_values,
    "truncate": truncate,
    "duplicate_region": duplicate_region,
}
MUTATORS: tuple[str, ...] = (*MODEL_MUTATORS, *BYTE_MUTATORS, "splice")


def mutate(data: bytes, mutator: str, seed: int, donor: bytes | None = None) -> bytes:
    """The mutant of seed model `data` made by `mutator` (a name in MUTATORS) with `seed`.

    Model mutators apply 1 to 3 edits and write with `save_model(validate=False)`; `splice`
    needs `donor` (another model, or `data` itself when None). ModelError if `data` does not load
    (model mutators) or the mutated IR cannot be written at all.
    """
    rng = random.Random(seed)
    if mutator == "splice":
        return splice(data, data if donor is None else donor, rng)
    if mutator in BYTE_MUTATORS:
        return BYTE_MUTATORS[mutator](data, rng)
    if mutator not in MODEL_MUTATORS:
        raise ModelError(f"unknown mutator {mutator!r}; known: {', '.join(MUTATORS)}")
    model = _parsed(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        model = MODEL_MUTATORS[mutator](model, rng)
    return save_model(model, validate=False)


@functools.lru_cache(maxsize=64)
def _parsed(data: bytes) -> ir.Model:
    """A seed model's IR, parsed once per process (the IR is immutable: mutators build new ones)."""
    return load_model(data)


@st.composite
def mutants(draw: st.DrawFn, seeds: Sequence[bytes], names: Sequence[str] = MUTATORS) -> bytes:
    """Mutants of the given seed models by the named mutators; unwritable mutants are filtered out."""
    data = draw(st.sampled_from(seeds))
    donor = draw(st.sampled_from(seeds))
    mutator = draw(st.sampled_from(names))
    seed = draw(st.integers(0, 2**32 - 1))
    try:
        return mutate(data, mutator, seed, donor)
    except ModelError:
        reject()


# ---- amplification: many vector entries sharing one table -----------------------------------


def shared_table_model(copies: int, payload: int, shared: str = "operators") -> bytes:
    """A model whose `shared` vector ("operators" or "tensors") holds `copies` offsets to one
    table carrying a vector of `payload` entries (an operator's inputs, a tensor's shape).

    The file grows by 4 bytes per copy while a naive reader does `payload` work per copy.
    """
    b = flatbuffers.Builder(1024 + 4 * (copies + payload))
    tensor = _one_tensor(b)
    if shared == "operators":
        inputs = b.CreateNumpyVector(np.zeros(payload, "<i4"))
        b.StartObject(2)
        b.PrependUOffsetTRelativeSlot(1, inputs, 0)
        b.PrependUint32Slot(0, 0, 1)
        table = b.EndObject()
    else:
        shape = b.CreateNumpyVector(np.ones(payload, "<i4"))
        b.StartObject(1)
        b.PrependUOffsetTRelativeSlot(0, shape, 0)
        table = b.EndObject()
    b.StartVector(4, copies, 4)
    for _ in range(copies):
        b.PrependUOffsetTRelative(table)
    vector = b.EndVector()
    tensors = vector if shared == "tensors" else _offset_vector(b, [tensor])
    b.StartObject(4)
    b.PrependUOffsetTRelativeSlot(0, tensors, 0)
    if shared == "operators":
        b.PrependUOffsetTRelativeSlot(3, vector, 0)
    subgraph = b.EndObject()
    b.StartObject(4)
    b.PrependInt32Slot(3, schema.BUILTIN_CODES["ADD"], 0)
    opcode_table = b.EndObject()
    codes = _offset_vector(b, [opcode_table])
    subgraphs = _offset_vector(b, [subgraph])
    b.StartObject(3)
    b.PrependUOffsetTRelativeSlot(2, subgraphs, 0)
    b.PrependUOffsetTRelativeSlot(1, codes, 0)
    b.PrependUint32Slot(0, schema.SCHEMA_VERSION, 0)
    b.Finish(b.EndObject(), file_identifier=schema.FILE_IDENTIFIER)
    return bytes(b.Output())


def _one_tensor(builder: flatbuffers.Builder) -> int:
    """An int8 tensor of shape [1], which index 0 of the shared operator's inputs refers to."""
    shape = builder.CreateNumpyVector(np.ones(1, "<i4"))
    builder.StartObject(2)
    builder.PrependUOffsetTRelativeSlot(0, shape, 0)
    builder.PrependInt8Slot(1, int(ir.TensorType.INT8), 0)
    return builder.EndObject()


def _offset_vector(builder: flatbuffers.Builder, offsets: list[int]) -> int:
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()
