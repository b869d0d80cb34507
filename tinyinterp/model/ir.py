"""The immutable in-memory model: what the reader produces and the writer consumes.

Field names follow the TFLite schema (schema.fbs) so that a reader of TFLM's sources
recognises them. Constant tensor data are read-only numpy views of the file bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType
from typing import Any

import numpy as np

from tinyinterp.errors import ModelError


class TensorType(IntEnum):
    """TFLite's TensorType enum (the subset tinyinterp maps to numpy)."""

    FLOAT32 = 0
    FLOAT16 = 1
    INT32 = 2
    UINT8 = 3
    INT64 = 4
    STRING = 5
    BOOL = 6
    INT16 = 7
    COMPLEX64 = 8
    INT8 = 9
    FLOAT64 = 10
    COMPLEX128 = 11
    UINT64 = 12
    RESOURCE = 13
    VARIANT = 14
    UINT32 = 15
    UINT16 = 16
    INT4 = 17

    @property
    def numpy(self) -> np.dtype:
        """The numpy dtype of this tensor type (ModelError for types numpy cannot hold, e.g. STRING)."""
        if self not in _NUMPY_DTYPES:
            raise ModelError(f"{self.name} tensors are not supported")
        return np.dtype(_NUMPY_DTYPES[self])

    @classmethod
    def from_numpy(cls, dtype: np.dtype | type) -> TensorType:
        return _TYPES_BY_NUMPY[np.dtype(dtype)]


_NUMPY_DTYPES: dict[TensorType, str] = {
    TensorType.FLOAT32: "<f4",
    TensorType.FLOAT16: "<f2",
    TensorType.INT32: "<i4",
    TensorType.UINT8: "u1",
    TensorType.INT64: "<i8",
    TensorType.BOOL: "?",
    TensorType.INT16: "<i2",
    TensorType.COMPLEX64: "<c8",
    TensorType.INT8: "i1",
    TensorType.FLOAT64: "<f8",
    TensorType.COMPLEX128: "<c16",
    TensorType.UINT64: "<u8",
    TensorType.UINT32: "<u4",
    TensorType.UINT16: "<u2",
}
_TYPES_BY_NUMPY: dict[np.dtype, TensorType] = {np.dtype(v): k for k, v in _NUMPY_DTYPES.items()}
NUMPY_TENSOR_TYPES = frozenset(_NUMPY_DTYPES)


def _frozen_array(values: Any, dtype: str) -> np.ndarray:
    array = np.array(values, dtype=dtype)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Quantization:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per channel."""

    scale: np.ndarray  # float32, length 1 (per tensor) or channels (per channel)
    zero_point: np.ndarray  # int64, same length as scale
    quantized_dimension: int = 0

    @classmethod
    def make(cls, scale: Any, zero_point: Any, quantized_dimension: int = 0) -> Quantization:
        return cls(
            _frozen_array(np.atleast_1d(scale), "<f4"),
            _frozen_array(np.atleast_1d(zero_point), "<i8"),
            quantized_dimension,
        )

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Quantization)
            and np.array_equal(self.scale, other.scale)
            and np.array_equal(self.zero_point, other.zero_point)
            and self.quantized_dimension == other.quantized_dimension
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: TensorType
    buffer: int = 0
    quantization: Quantization | None = None
    data: np.ndarray | None = None  # read-only, shaped, for constant tensors only
    shape_signature: tuple[int, ...] | None = None
    is_variable: bool = False

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def empty(self) -> bool:
        """No elements: such a tensor has no buffer even when it is a constant."""
        return 0 in self.shape

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tensor):
            return False
        same_data = (self.data is None and other.data is None) or (
            self.data is not None
            and other.data is not None
            and self.data.dtype == other.data.dtype
            and np.array_equal(self.data, other.data)
        )
        return same_data and all(
            getattr(self, f) == getattr(other, f)
            for f in ("index", "name", "shape", "dtype", "quantization", "shape_signature", "is_variable")
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Operator:
    index: int
    opcode: str  # builtin operator name as in schema.fbs, e.g. "CONV_2D"
    inputs: tuple[int, ...]  # tensor indices, -1 for an omitted optional input
    outputs: tuple[int, ...]
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    version: int = 1
    # Tensors an op reads only for their quantization (TFLM's int8 LSTM takes its gate scales from them).
    intermediates: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Operator) and (
            self.index,
            self.opcode,
            self.inputs,
            self.outputs,
            dict(self.options),
            self.version,
            self.intermediates,
        ) == (
            other.index,
            other.opcode,
            other.inputs,
            other.outputs,
            dict(other.options),
            other.version,
            other.intermediates,
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Subgraph:
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    name: str = ""


@dataclass(frozen=True)
class Model:
    subgraphs: tuple[Subgraph, ...]
    description: str = ""
    version: int = 3
    metadata: tuple[tuple[str, bytes], ...] = ()  # (name, buffer bytes), kept for round trips

    @property
    def main(self) -> Subgraph:
        return self.subgraphs[0]
