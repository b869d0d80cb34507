"""STRIDED_SLICE, SLICE, PAD and PADV2 (int8, int16, float32): copies of a box of the input, or
of the input into a box of the output.

STRIDED_SLICE follows TFLM, which differs from TensorFlow: TFLM ignores `ellipsis_mask`,
`new_axis_mask` and `offset` (each begin/end/stride entry applies to the input dimension of the
same index and `end` is never relative to `begin`), so these options are ignored here too; models
whose output shape assumed them are refused by the output shape check, as TFLM refuses them.

SLICE's begin and size must be constants here (TFLM also reads them at run time).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyinterp.model.ir import TensorType
from tinyinterp.model.options import StridedSliceOptions
from tinyinterp.ops.base import Array, Op, OpContext, batched_shape, register, required
from tinyinterp.ops.shape import DATA_TYPE_NAMES, constant_ints, expect_data, expect_rank_within


def _clamp(value: int, low: int, high: int) -> int:
    return min(max(value, low), high)


def _strided_range(
    begin: int, end: int, stride: int, size: int, begin_masked: bool, end_masked: bool
) -> tuple[int, int]:
    """TFLM's StridedSliceStartForAxis / EndForAxis: (start, stop) of one axis, C-style (a stop of
    -1 with a negative stride means "down to index 0 included")."""
    start = begin + size if begin < 0 else begin
    start = _clamp(start, 0, size) if stride > 0 else _clamp(start, -1, size - 1)
    if begin_masked:
        start = 0 if stride > 0 else size - 1
    stop = end + size if end < 0 else end
    stop = _clamp(stop, 0, size) if stride > 0 else _clamp(stop, -1, size - 1)
    if end_masked:
        stop = size if stride > 0 else -1
    return start, stop


def _as_slice(indices: range) -> slice:
    """The numpy slice of the same indices (a range's stop of -1 is not numpy's "last")."""
    if not indices:
        return slice(0, 0)
    stop = indices[-1] + (1 if indices.step > 0 else -1)
    return slice(indices.start, stop if stop >= 0 else None, indices.step)


@register("STRIDED_SLICE", dtypes=DATA_TYPE_NAMES)
class StridedSlice(Op):
    def __init__(self, ctx: OpContext[StridedSliceOptions]) -> None:
        ctx.expect_count(4)
        input_, output = ctx.input(0), ctx.output()
        expect_data(ctx, input_, output)
        rank = expect_rank_within(ctx, input_, 0, 4)
        begin, end, strides = (
            self._indices(ctx, k, name, rank) for k, name in enumerate(("begin", "end", "strides"), 1)
        )
        shrink_mask = ctx.options.shrink_axis_mask
        begin_mask, end_mask = ctx.options.begin_mask, ctx.options.end_mask
        slices, out_shape = [], []
        for axis, size in enumerate(input_.shape):
            stride = strides[axis]
            if stride == 0:
                ctx.fail(f"stride of dimension {axis} is 0")
            begin_masked, end_masked = bool(begin_mask >> axis & 1), bool(end_mask >> axis & 1)
            start, stop = _strided_range(begin[axis], end[axis], stride, size, begin_masked, end_masked)
            if shrink_mask >> axis & 1:
                # For these TFLM copies nothing, leaving whatever the output's memory held.
                if stride < 0 or start >= size:
                    ctx.fail(
                        f"dimension {axis} (size {size}) is shrunk to index {begin[axis]} with stride "
                        f"{stride}: TFLM supports an index in [{-size}, {size}) and a positive stride"
                    )
                slices.append(slice(start, start + 1))
            else:
                indices = range(start, stop, stride)
                slices.append(_as_slice(indices))
                out_shape.append(len(indices))
        ctx.expect_shape(output, out_shape)
        # Dimension 0 is the batch when the slice keeps all of it, unshrunk and in order.
        self.batch_safe = rank == 0 or (slices[0] == slice(0, input_.shape[0], 1) and not shrink_mask & 1)
        if self.batch_safe and rank:
            slices[0] = slice(None)
        self.slices = tuple(slices)
        self.in_shape, self.out_shape = input_.shape, output.shape

    @staticmethod
    def _indices(ctx: OpContext, k: int, name: str, rank: int) -> list[int]:
        values = constant_ints(ctx, ctx.input(k))
        if len(values) < rank:  # TFLM reads one value per input dimension and ignores any extra
            ctx.fail(f"{name} has {len(values)} values, expected {rank} (one per input dimension)")
        return values[:rank]

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = required(inputs[0])
        return [np.array(x[self.slices].reshape(batched_shape(self.out_shape, x, self.in_shape)))]


@register("SLICE", dtypes=DATA_TYPE_NAMES)
class Slice(Op):
    def __init__(self, ctx: OpContext) -> None:
        ctx.expect_count(3)
        input_, output = ctx.input(0), ctx.output()
        expect_data(ctx, input_, output)
        rank = expect_rank_within(ctx, input_, 0, 5)
        begin_tensor, size_tensor = ctx.input(1), ctx.input(2)
        begin = constant_ints(ctx, begin_tensor, TensorType.INT32, TensorType.INT64)
        sizes = constant_ints(ctx, size_tensor, begin_tensor.dtype)
        if len(begin) != rank or len(sizes) != rank:
            ctx.fail(f"begin {begin} and size {sizes} need one value per input dimension ({rank})")
        slices = []
        for axis, (start, size, dim) in enumerate(zip(begin, sizes, input_.shape)):
            stop = dim if size == -1 else start + size
            if not 0 <= start <= stop <= dim:
                ctx.fail(f"begin {start} and size {size} of dimension {axis} do not fit its size {dim}")
            slices.append(slice(start, stop))
        ctx.expect_shape(output, tuple(s.stop - s.start for s in slices))
        self.batch_safe = rank == 0 or slices[0] == slice(0, input_.shape[0])
        self.slices = tuple(
            slice(None) if self.batch_safe and axis == 0 else s for axis, s in enumerate(slices)
        )

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        return [np.array(required(inputs[0])[self.slices])]


@register("PAD", dtypes=DATA_TYPE_NAMES)
class Pad(Op):
    """PAD and PADV2 (TFLM runs both with the same kernel and either number of inputs).

    The pad value is `constant_values` if given (it may be a run-time tensor), else the output
    zero point for int8 and 0 otherwise (also for int16, whatever its zero point). The input is
    copied, never requantized, as TFLM does.
    """

    def __init__(self, ctx: OpContext) -> None:
        ctx.expect_count((2, 3))
        input_, output = ctx.input(0), ctx.output()
        expect_data(ctx, input_, output)
        rank = expect_rank_within(ctx, input_, 0, 5)
        paddings = constant_ints(ctx, ctx.input(1))
        if len(paddings) != 2 * rank or min(paddings, default=0) < 0:
            ctx.fail(f"paddings {paddings} must be {rank} non-negative (before, after) pairs")
        self.pairs = tuple(zip(paddings[::2], paddings[1::2]))
        ctx.expect_shape(output, tuple(d + sum(pair) for d, pair in zip(input_.shape, self.pairs)))
        self.value: Array | None = self._constant_value(ctx)
        self.batch_safe = (rank == 0 or self.pairs[0] == (0, 0)) and self.value is not None
        self.in_shape, self.out_shape = input_.shape, output.shape

    @staticmethod
    def _constant_value(ctx: OpContext) -> Array | None:
        """The pad value, or None when it is a run-time input."""
        output, values = ctx.output(), ctx.optional_input(2)
        dtype = output.dtype.numpy
        if values is None:
            zero_point = ctx.quantization(output)[1] if output.dtype == TensorType.INT8 else 0
            if not np.iinfo(np.int8).min <= zero_point <= np.iinfo(np.int8).max:
                ctx.fail(f"{ctx.describe(output)} has zero point {zero_point}, outside the int8 range")
            return np.array(zero_point, dtype)
        ctx.expect_dtype(values, output.dtype)
        if int(np.prod(values.shape)) != 1:
            ctx.fail(
                f"constant_values ({ctx.describe(values)}) must hold one value, "
                f"got shape {list(values.shape)}"
            )
        if output.dtype == TensorType.INT8 and ctx.quantization(values) != ctx.quantization(output):
            ctx.fail(
                f"constant_values ({ctx.describe(values)}) has (scale, zero point) "
                f"{ctx.quantization(values)}, expected the output's {ctx.quantization(output)}"
            )
        return None if values.data is None else values.data.reshape(())

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = required(inputs[0])
        value = self.value if self.value is not None else required(inputs[2]).reshape(-1)[0]
        out = np.full(batched_shape(self.out_shape, x, self.in_shape), value, x.dtype)
        out[tuple(slice(before, before + size) for (before, _), size in zip(self.pairs, x.shape))] = x
        return [out]


@register("PADV2", dtypes=DATA_TYPE_NAMES)
class PadV2(Pad):
    """The same op as PAD in TFLM."""
