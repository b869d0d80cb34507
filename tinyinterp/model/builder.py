"""Build small models in a few lines, e.g. a single-operator model for a kernel test:

b = ModelBuilder()
x = b.input("x", (1, 8, 8, 3), "int8", scale=0.05, zero_point=-3)
w = b.constant("w", weights, scale=channel_scales, zero_point=0, quantized_dimension=0)
y = b.tensor("y", (1, 8, 8, 4), "int8", scale=0.1, zero_point=2)
b.op("CONV_2D", [x, w, -1], [y], padding="SAME", stride_w=1, stride_h=1)
b.output(y)
model = b.build()
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from tinyinterp.errors import ModelError
from tinyinterp.model import ir, schema
from tinyinterp.model.reader import load_model
from tinyinterp.model.writer import save_model

DType = str | np.dtype | type | ir.TensorType


class ModelBuilder:
    """Collects tensors and operators of one subgraph; tensors are referred to by their index."""

    def __init__(self, description: str = "tinyinterp ModelBuilder") -> None:
        self.description = description
        self._tensors: list[ir.Tensor] = []
        self._operators: list[ir.Operator] = []
        self._inputs: list[int] = []
        self._outputs: list[int] = []

    def tensor(
        self,
        name: str,
        shape: Sequence[int],
        dtype: DType,
        *,
        scale: Any = None,
        zero_point: Any = None,
        quantized_dimension: int = 0,
        is_variable: bool = False,
    ) -> int:
        """A tensor without data (an activation); per-channel when `scale` has several values."""
        return self._add(
            name,
            tuple(int(dim) for dim in shape),
            _tensor_type(dtype),
            quantization=_quantization(scale, zero_point, quantized_dimension),
            is_variable=is_variable,
        )

    def input(self, name: str, shape: Sequence[int], dtype: DType, **quantization: Any) -> int:
        """A tensor (as `tensor`) that is also a model input, in the order of the calls."""
        index = self.tensor(name, shape, dtype, **quantization)
        self._inputs.append(index)
        return index

    def constant(
        self,
        name: str,
        data: Any,
        dtype: DType | None = None,
        *,
        scale: Any = None,
        zero_point: Any = None,
        quantized_dimension: int = 0,
    ) -> int:
        """A constant tensor holding a copy of `data` (converted to `dtype` if given)."""
        tensor_type = _tensor_type(np.asarray(data).dtype if dtype is None else dtype)
        if tensor_type not in ir.NUMPY_TENSOR_TYPES:
            raise ModelError(f"constant {name!r}: {tensor_type.name} tensors cannot hold data")
        array = np.array(data, dtype=tensor_type.numpy)  # a little-endian private copy
        array.flags.writeable = False
        return self._add(
            name,
            array.shape,
            tensor_type,
            quantization=_quantization(scale, zero_point, quantized_dimension),
            data=array,
            buffer=sum(t.data is not None for t in self._tensors) + 1,
        )

    def op(
        self,
        opcode: str,
        inputs: Iterable[int | None],
        outputs: Iterable[int],
        version: int = 1,
        **options: Any,
    ) -> int:
        """Add an operator; options not given take their schema defaults. Returns its index.

        An input of None or -1 is an omitted optional input.
        """
        self._operators.append(
            ir.Operator(
                index=len(self._operators),
                opcode=opcode,
                inputs=tuple(-1 if i is None else int(i) for i in inputs),
                outputs=tuple(int(i) for i in outputs),
                options=schema.normalize_options(opcode, options),
                version=version,
            )
        )
        return len(self._operators) - 1

    def output(self, *tensors: int) -> None:
        """Mark tensors as model outputs, in order."""
        self._outputs.extend(int(t) for t in tensors)

    def build(self) -> ir.Model:
        """The model, exactly as `load_model` reads it back from `build_bytes()`."""
        return load_model(self.build_bytes())

    def build_bytes(self) -> bytes:
        """The model as .tflite bytes; ModelError names whatever makes it invalid."""
        subgraph = ir.Subgraph(
            tuple(self._tensors), tuple(self._operators), tuple(self._inputs), tuple(self._outputs), "main"
        )
        return save_model(ir.Model((subgraph,), self.description))

    def _add(self, name: str, shape: tuple[int, ...], dtype: ir.TensorType, **fields: Any) -> int:
        self._tensors.append(
            ir.Tensor(index=len(self._tensors), name=name, shape=shape, dtype=dtype, **fields)
        )
        return len(self._tensors) - 1


def _tensor_type(dtype: DType) -> ir.TensorType:
    """A TensorType from its name ("int8"), a numpy dtype or a TensorType."""
    if isinstance(dtype, ir.TensorType):
        return dtype
    if isinstance(dtype, str) and dtype.upper() in ir.TensorType.__members__:
        return ir.TensorType[dtype.upper()]
    try:
        return ir.TensorType.from_numpy(np.dtype(dtype).newbyteorder("<"))
    except (TypeError, KeyError):
        raise ModelError(f"unknown or unsupported tensor dtype {dtype!r}") from None


def _quantization(scale: Any, zero_point: Any, quantized_dimension: int) -> ir.Quantization | None:
    if scale is None:
        if zero_point is not None:
            raise ModelError("zero_point given without scale")
        return None
    scales = np.asarray(scale, dtype=np.float32).reshape(-1)
    zero_points = np.asarray(0 if zero_point is None else zero_point, dtype=np.int64).reshape(-1)
    if zero_points.size == 1:  # one zero point for all channels, as per-channel int8 weights have
        zero_points = np.repeat(zero_points, scales.size)
    return ir.Quantization.make(scales, zero_points, quantized_dimension)
