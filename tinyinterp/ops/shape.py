"""TRANSPOSE, SQUEEZE, EXPAND_DIMS (int8, int16, float32), and the operand checks the data-movement
families share: activation dtypes, constant integer operands, axes.

These ops move data without arithmetic, so quantization parameters are never looked at (TFLM
copies the bytes whatever the input and output scales are).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tinyinterp.model.ir import Tensor, TensorType
from tinyinterp.model.options import SqueezeOptions
from tinyinterp.ops.base import Array, Op, OpContext, batched_shape, register, required

DATA_TYPES = (TensorType.INT8, TensorType.INT16, TensorType.FLOAT32)
DATA_TYPE_NAMES = ("int8", "int16", "float32")


def expect_data(ctx: OpContext, reference: Tensor, *others: Tensor) -> None:
    """`reference` holds int8, int16 or float32 activations and every other tensor the same dtype."""
    ctx.expect_dtype(reference, *DATA_TYPES)
    for tensor in others:
        ctx.expect_dtype(tensor, reference.dtype)


def expect_rank_within(ctx: OpContext, tensor: Tensor, min_rank: int, max_rank: int) -> int:
    """The tensor's rank, which must be one TFLM's kernel supports."""
    rank = len(tensor.shape)
    if not min_rank <= rank <= max_rank:
        ctx.fail(
            f"{ctx.describe(tensor)} has rank {rank}; TFLM's {ctx.op.opcode} supports ranks "
            f"{min_rank} to {max_rank}"
        )
    return rank


def constant_ints(ctx: OpContext, tensor: Tensor, *dtypes: TensorType) -> list[int]:
    """A constant integer operand (axis, perm, begin...) as Python ints, in storage order."""
    ctx.expect_dtype(tensor, *(dtypes or (TensorType.INT32,)))
    if math.prod(tensor.shape) == 0:  # stored without a buffer, like a run-time tensor
        return []
    return [int(v) for v in ctx.expect_constant(tensor).reshape(-1)]


def constant_int(ctx: OpContext, tensor: Tensor, what: str) -> int:
    """A constant operand holding exactly one integer (TFLM reads only its first element)."""
    values = constant_ints(ctx, tensor)
    if len(values) != 1:
        ctx.fail(f"{what} ({ctx.describe(tensor)}) must hold one value, got {values}")
    return values[0]


def resolve_axis(ctx: OpContext, axis: int, rank: int, what: str = "axis") -> int:
    """A possibly negative axis as an index into `rank` dimensions."""
    if not -rank <= axis < rank:
        ctx.fail(f"{what} {axis} is out of range for rank {rank} (expected {-rank} to {rank - 1})")
    return axis % rank


@register("TRANSPOSE", dtypes=DATA_TYPE_NAMES)
class Transpose(Op):
    def __init__(self, ctx: OpContext) -> None:
        ctx.expect_count(2)
        input_, perm_tensor, output = ctx.input(0), ctx.input(1), ctx.output()
        expect_data(ctx, input_, output)
        rank = expect_rank_within(ctx, input_, 1, 5)
        ctx.expect_shape(perm_tensor, (rank,))
        self.perm = tuple(constant_ints(ctx, perm_tensor))
        if sorted(self.perm) != list(range(rank)):
            ctx.fail(f"perm {list(self.perm)} is not a permutation of the {rank} input dimensions")
        ctx.expect_shape(output, tuple(input_.shape[p] for p in self.perm))
        self.batch_safe = self.perm[0] == 0

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        return [np.ascontiguousarray(required(inputs[0]).transpose(self.perm))]


class _Reshaping(Op):
    """Ops that only rename dimensions: the output is the input's data under the model's output shape
    (with the run's batch size in front, which is exact since the data are stored item by item)."""

    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = required(inputs[0])
        return [x.reshape(batched_shape(self.out_shape, x, self.in_shape))]


@register("SQUEEZE", dtypes=DATA_TYPE_NAMES)
class Squeeze(_Reshaping):
    def __init__(self, ctx: OpContext[SqueezeOptions]) -> None:
        ctx.expect_count(1)
        input_, output = ctx.input(0), ctx.output()
        expect_data(ctx, input_, output)
        rank = expect_rank_within(ctx, input_, 0, 8)
        shape = input_.shape
        dims = ctx.options.squeeze_dims
        if dims:
            squeezed = {resolve_axis(ctx, d, rank, "squeeze dimension") for d in dims}
        else:  # every dimension of size 1
            squeezed = {axis for axis, size in enumerate(shape) if size == 1}
        for axis in sorted(squeezed):
            if shape[axis] != 1:
                ctx.fail(
                    f"cannot squeeze dimension {axis} of {ctx.describe(input_)}: its size is {shape[axis]}"
                )
        ctx.expect_shape(output, tuple(size for axis, size in enumerate(shape) if axis not in squeezed))
        self.in_shape, self.out_shape = input_.shape, output.shape


@register("EXPAND_DIMS", dtypes=DATA_TYPE_NAMES)
class ExpandDims(_Reshaping):
    def __init__(self, ctx: OpContext) -> None:
        ctx.expect_count(2)
        input_, output = ctx.input(0), ctx.output()
        expect_data(ctx, input_, output)
        shape = input_.shape
        axis = resolve_axis(ctx, constant_int(ctx, ctx.input(1), "axis"), len(shape) + 1, "output axis")
        ctx.expect_shape(output, (*shape[:axis], 1, *shape[axis:]))
        self.in_shape, self.out_shape = input_.shape, output.shape
