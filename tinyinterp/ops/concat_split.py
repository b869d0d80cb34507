"""CONCATENATION, SPLIT, PACK, UNPACK (int8, int16, float32): joining tensors along an axis and
taking them apart. All are copies: TFLM never requantizes here (CONCATENATION requires int8 inputs
to share the output's scale and zero point, and copies int16 inputs whatever their scales)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyinterp.model.ir import Tensor, TensorType
from tinyinterp.model.options import ConcatenationOptions, PackOptions, SplitOptions, UnpackOptions
from tinyinterp.ops.base import Array, Op, OpContext, register, required
from tinyinterp.ops.shape import DATA_TYPE_NAMES, constant_int, expect_data, expect_rank_within, resolve_axis

MAX_CONCATENATION_INPUTS = 10  # TFLM's kMaxInputNum


def _inputs(ctx: OpContext) -> list[Tensor]:
    return [ctx.input(k) for k in range(len(ctx.op.inputs))]


def _outputs(ctx: OpContext) -> list[Tensor]:
    return [ctx.output(k) for k in range(len(ctx.op.outputs))]


def _without(shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    return shape[:axis] + shape[axis + 1 :]


@register("CONCATENATION", dtypes=DATA_TYPE_NAMES)
class Concatenation(Op):
    def __init__(self, ctx: OpContext[ConcatenationOptions]) -> None:
        inputs, output = _inputs(ctx), ctx.output()
        if not 1 <= len(inputs) <= MAX_CONCATENATION_INPUTS:
            ctx.fail(f"has {len(inputs)} inputs; TFLM concatenates 1 to {MAX_CONCATENATION_INPUTS}")
        ctx.expect_count(len(inputs))
        expect_data(ctx, output, *inputs)
        activation = ctx.options.fused_activation_function
        if activation != "NONE":
            ctx.fail(f"fused activation {activation} is not supported (TFLM requires NONE)")
        rank = expect_rank_within(ctx, output, 1, 6)
        self.axis = resolve_axis(ctx, ctx.options.axis, rank)
        for tensor in inputs:
            if len(tensor.shape) != rank or _without(tensor.shape, self.axis) != _without(
                output.shape, self.axis
            ):
                pattern = ", ".join(
                    "*" if axis == self.axis else str(size) for axis, size in enumerate(output.shape)
                )
                ctx.fail(f"{ctx.describe(tensor)} has shape {list(tensor.shape)}, expected [{pattern}]")
        total = sum(tensor.shape[self.axis] for tensor in inputs)
        if total != output.shape[self.axis]:
            ctx.fail(
                f"the inputs have {total} entries along axis {self.axis}, "
                f"the output {output.shape[self.axis]}"
            )
        self._check_quantization(ctx, inputs, output)
        self.batch_safe = self.axis != 0

    @staticmethod
    def _check_quantization(ctx: OpContext, inputs: list[Tensor], output: Tensor) -> None:
        if output.dtype == TensorType.INT8:
            for tensor in inputs:
                if ctx.quantization(tensor) != ctx.quantization(output):
                    ctx.fail(
                        f"{ctx.describe(tensor)} has (scale, zero point) {ctx.quantization(tensor)}, but "
                        f"TFLM concatenates int8 only with the output's {ctx.quantization(output)}"
                    )
        elif output.dtype == TensorType.INT16:
            for tensor in (*inputs, output):
                if ctx.quantization(tensor)[1] != 0:
                    ctx.fail(
                        f"{ctx.describe(tensor)} has zero point {ctx.quantization(tensor)[1]}, expected 0"
                    )

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        return [np.concatenate([required(x) for x in inputs], axis=self.axis)]


@register("SPLIT", dtypes=DATA_TYPE_NAMES)
class Split(Op):
    """The number of parts is the number of outputs (TFLM ignores `num_splits`)."""

    def __init__(self, ctx: OpContext[SplitOptions]) -> None:
        outputs = _outputs(ctx)
        if not outputs:
            ctx.fail("has no outputs")
        ctx.expect_count(2, outputs=len(outputs))
        input_ = ctx.input(1)
        expect_data(ctx, input_, *outputs)
        shape = input_.shape
        self.axis = resolve_axis(ctx, constant_int(ctx, ctx.input(0), "axis"), len(shape))
        self.parts = len(outputs)
        if shape[self.axis] % self.parts:
            ctx.fail(
                f"dimension {self.axis} of size {shape[self.axis]} does not split into {self.parts} parts"
            )
        part_shape = list(shape)
        part_shape[self.axis] //= self.parts
        for output in outputs:
            ctx.expect_shape(output, part_shape)
        self.batch_safe = self.axis != 0

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        return [
            np.ascontiguousarray(part) for part in np.split(required(inputs[1]), self.parts, axis=self.axis)
        ]


@register("PACK", dtypes=DATA_TYPE_NAMES)
class Pack(Op):
    def __init__(self, ctx: OpContext[PackOptions]) -> None:
        inputs, output = _inputs(ctx), ctx.output()
        count = ctx.options.values_count
        if count < 1 or len(inputs) != count:
            ctx.fail(f"values_count is {count} but the op has {len(inputs)} inputs")
        ctx.expect_count(count)
        expect_data(ctx, output, *inputs)
        shape = inputs[0].shape
        for tensor in inputs[1:]:
            ctx.expect_shape(tensor, shape)
        self.axis = resolve_axis(ctx, ctx.options.axis, len(shape) + 1, "output axis")
        ctx.expect_shape(output, (*shape[: self.axis], count, *shape[self.axis :]))
        self.batch_safe = self.axis != 0

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        return [np.stack([required(x) for x in inputs], axis=self.axis)]


@register("UNPACK", dtypes=DATA_TYPE_NAMES)
class Unpack(Op):
    def __init__(self, ctx: OpContext[UnpackOptions]) -> None:
        outputs = _outputs(ctx)
        count = ctx.options.num
        if count < 1 or len(outputs) != count:
            ctx.fail(f"num is {count} but the op has {len(outputs)} outputs")
        ctx.expect_count(1, outputs=count)
        input_ = ctx.input(0)
        expect_data(ctx, input_, *outputs)
        shape = input_.shape
        self.axis = resolve_axis(ctx, ctx.options.axis, len(shape))
        if shape[self.axis] != count:
            ctx.fail(
                f"dimension {self.axis} of {ctx.describe(input_)} has size {shape[self.axis]}, "
                f"not num={count}"
            )
        for output in outputs:
            ctx.expect_shape(output, _without(shape, self.axis))
        self.batch_safe = self.axis != 0

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = required(inputs[0])
        return [
            np.asarray(x.take(k, axis=self.axis)) for k in range(x.shape[self.axis])
        ]  # 0-d stays an array
