"""What every op shares: the registry and the context an op's prepare step reads the model from.

An op is a class registered under its TFLite builtin name. Constructing it is TFLM's Prepare
(runs once when tensors are allocated: checks shapes and dtypes, computes multipliers,
padding and activation ranges, puts weights in the kernel's layout); calling it is TFLM's
Eval. Arrays passed to an
op may carry extra leading batch items: an op computes dimension 0 as a batch dimension.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import ClassVar, Generic, NoReturn, cast

import numpy as np

from tinyinterp.errors import ModelError
from tinyinterp.model.ir import Operator, Subgraph, Tensor, TensorType
from tinyinterp.model.options import OptionsT, options_record
from tinyinterp.numerics import TFLM_ROUNDING

Array = np.ndarray


class OpContext(Generic[OptionsT]):
    """Read access to one operator's tensors and options, with errors that name them.

    An op declares its options record in its annotation (`ctx: OpContext[Conv2DOptions]`), so mypy
    types `ctx.options.stride_h`; tests/test_options.py checks each declared record is the opcode's.
    """

    def __init__(self, subgraph: Subgraph, op: Operator, rounding: int = TFLM_ROUNDING) -> None:
        self.subgraph = subgraph
        self.op = op
        self.rounding = rounding  # of int8/int16 requantization (a numerics profile's; tinyinterp.numerics)

    def fail(self, message: str) -> NoReturn:
        raise ModelError(f"operator {self.op.index} ({self.op.opcode}): {message}")

    def describe(self, tensor: Tensor) -> str:
        return f"tensor {tensor.index} '{tensor.name}'"

    def _tensor_at(self, indices: tuple[int, ...], k: int, role: str, optional: bool) -> Tensor | None:
        index = indices[k] if k < len(indices) else -1
        if index < 0:
            if optional:
                return None
            self.fail(f"{role} {k} is missing (the op has {len(indices)} {role}s)")
        return self.subgraph.tensors[index]

    def input(self, k: int) -> Tensor:
        tensor = self._tensor_at(self.op.inputs, k, "input", optional=False)
        assert tensor is not None
        return tensor

    def optional_input(self, k: int) -> Tensor | None:
        return self._tensor_at(self.op.inputs, k, "input", optional=True)

    def output(self, k: int = 0) -> Tensor:
        tensor = self._tensor_at(self.op.outputs, k, "output", optional=False)
        assert tensor is not None
        return tensor

    @cached_property
    def options(self) -> OptionsT:
        """The op's options (the schema's defaults for those the model leaves out)."""
        return cast(OptionsT, options_record(self.op.opcode, self.op.options))

    def expect_count(self, inputs: int | tuple[int, int], outputs: int = 1) -> None:
        low, high = (inputs, inputs) if isinstance(inputs, int) else inputs
        if not low <= len(self.op.inputs) <= high:
            expected = str(low) if low == high else f"{low} to {high}"
            self.fail(f"expected {expected} inputs, got {len(self.op.inputs)}")
        if len(self.op.outputs) != outputs:
            self.fail(f"expected {outputs} outputs, got {len(self.op.outputs)}")

    def expect_dtype(self, tensor: Tensor, *dtypes: TensorType) -> None:
        if tensor.dtype not in dtypes:
            allowed = " or ".join(d.name for d in dtypes)
            self.fail(f"{self.describe(tensor)} has dtype {tensor.dtype.name}, expected {allowed}")

    def expect_rank(self, tensor: Tensor, rank: int) -> None:
        if len(tensor.shape) != rank:
            self.fail(f"{self.describe(tensor)} has shape {list(tensor.shape)}, expected rank {rank}")

    def expect_shape(self, tensor: Tensor, shape: Sequence[int]) -> None:
        if tuple(tensor.shape) != tuple(shape):
            self.fail(f"{self.describe(tensor)} has shape {list(tensor.shape)}, expected {list(shape)}")

    def expect_constant(self, tensor: Tensor) -> Array:
        if tensor.data is None:
            self.fail(f"{self.describe(tensor)} must be a constant (weights) tensor")
        return tensor.data

    def quantization(self, tensor: Tensor) -> tuple[float, int]:
        """Per-tensor (scale, zero point), as TFLM's params.scale / params.zero_point."""
        quant = tensor.quantization
        if quant is None or quant.scale.size == 0:
            self.fail(f"{self.describe(tensor)} must be quantized (it has no scale and zero point)")
        return float(quant.scale[0]), int(quant.zero_point[0])

    def channel_scales(self, tensor: Tensor) -> np.ndarray:
        quant = tensor.quantization
        if quant is None or quant.scale.size == 0:
            self.fail(f"{self.describe(tensor)} must be quantized (it has no scale and zero point)")
        return quant.scale


class Op(ABC):
    """A prepared operator: construct it from its context once, then call it on input arrays."""

    opcode: ClassVar[str]
    dtypes: ClassVar[tuple[str, ...]]  # activation dtypes supported, for the coverage table
    # False when this prepared op mixes dimension 0 with others (a transpose moving axis 0, a
    # reduction or concatenation along it): batched runs then go item by item.
    batch_safe: bool = True
    # Bytes of working memory one item needs beyond its tensors (im2col patches): the interpreter
    # checks it against its memory budget and sizes batched chunks by it.
    scratch_bytes: int = 0
    # True when this prepared op may multiply on BLAS (numpy's matmul): invokes then pin BLAS to
    # one thread around the plan (its small products lose milliseconds to a waiting second thread);
    # a plan without such an op skips the microseconds that pinning costs.
    calls_blas: bool = False

    @abstractmethod
    def __init__(self, ctx: OpContext) -> None: ...

    @abstractmethod
    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]: ...

    def bind(self) -> Callable[[Sequence[Array | None]], list[Array]]:
        """The eval a batch-1 invoke runs (inputs of the model's own shapes); an op may bind buffers
        it reuses from one invoke to the next. The op itself by default."""
        return self


def required(value: Array | None) -> Array:
    """A tensor value the graph guarantees when it is read. Only an absent optional input (a bias)
    is None: prepare checked that the model has every other input (OpContext.input), and the
    interpreter runs the ops that compute a tensor before those that read it."""
    assert value is not None, "a required input has no value"
    return value


OPS: dict[str, type[Op]] = {}


def register(opcode: str, dtypes: tuple[str, ...]) -> Callable[[type[Op]], type[Op]]:
    def decorate(cls: type[Op]) -> type[Op]:
        cls.opcode = opcode
        cls.dtypes = dtypes
        OPS[opcode] = cls
        return cls

    return decorate


def batched_shape(shape: tuple[int, ...], x: Array, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The model's `shape` for an output computed from `x`, which may carry extra batch items.

    A batched run feeds N items where the model has a leading dimension of 1, so the leading
    dimension grows by x.shape[0] / input_shape[0]; an ordinary run keeps the model's shapes.
    """
    if not shape or not input_shape or input_shape[0] == 0:
        return shape
    return (shape[0] * (x.shape[0] // input_shape[0]), *shape[1:])
