"""ADD, SUB, MUL, MAXIMUM, MINIMUM (int8, int16, float32), broadcasting two inputs up to rank 6 as TFLM's
BroadcastBinaryOpSimple does.

ADD and SUB are one kernel (TFLM's AddElementwise and SubElementwise differ only in the sign). TFLM's
int16 ADD and SUB are the int8 kernel with 15 bits of headroom instead of 20, allowing any zero
points (int16 ADD ignores the `pot_scale_int16` option: its power-of-two kernel is never called, and
so do we); its int16 MUL requires zero points of 0. Its MAXIMUM and MINIMUM compare the stored
integers and ignore quantization entirely (they have no Prepare); so do we.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tinyinterp.kernels.arithmetic import add_sub_float, add_sub_quantized, mul_float, mul_quantized
from tinyinterp.model.ir import Tensor, TensorType
from tinyinterp.model.options import AddOptions, MulOptions, SubOptions
from tinyinterp.numerics import TFLM_ROUNDING
from tinyinterp.ops.base import Array, Op, OpContext, batched_shape, register, required
from tinyinterp.quant import (
    activation_range,
    float_activation_range,
    quantize_multiplier,
    quantize_multiplier_smaller_than_one,
)

INT8, INT16, FLOAT32 = TensorType.INT8, TensorType.INT16, TensorType.FLOAT32
MAX_BROADCAST_RANK = 6
# Bits of headroom ADD and SUB shift their inputs up by, per dtype.
ADD_SUB_LEFT_SHIFT = {INT8: 20, INT16: 15}


class Broadcast:
    """Prepared broadcasting of two inputs to the output's shape, extra batch items included."""

    def __init__(self, ctx: OpContext, a: Tensor, b: Tensor, output: Tensor, max_rank: int) -> None:
        for tensor in (a, b, output):
            if len(tensor.shape) > max_rank:
                ctx.fail(f"{ctx.describe(tensor)} has rank {len(tensor.shape)}, at most {max_rank} allowed")
        try:
            shape = np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            ctx.fail(f"shapes {list(a.shape)} and {list(b.shape)} do not broadcast")
        ctx.expect_shape(output, shape)
        self.model_shapes = (a.shape, b.shape)
        # Each input with leading 1s up to the output's rank, so that a batched input's extra items
        # stay on dimension 0 (numpy would align a lower-rank input's batch to the right).
        self.full_shapes = tuple((1,) * (len(shape) - len(s)) + tuple(s) for s in self.model_shapes)

    def __call__(self, a: Array, b: Array) -> tuple[Array, Array, tuple[int, ...]]:
        """Both operands broadcast, flat and contiguous, and the (batched) output shape."""
        if a.shape == b.shape:  # equal model shapes (a batch scales both alike): nothing to broadcast
            return _flat(a, a.shape), _flat(b, b.shape), a.shape
        a, b = (
            x.reshape(batched_shape(full, x, model))
            for x, full, model in zip((a, b), self.full_shapes, self.model_shapes)
        )
        shape = np.broadcast_shapes(a.shape, b.shape)
        return _flat(a, shape), _flat(b, shape), shape


def _flat(x: Array, shape: tuple[int, ...]) -> Array:
    """`x` broadcast to `shape`, as a flat contiguous array (a copy only when values repeat: numba
    must not see numpy's read-only broadcast views)."""
    if x.size == math.prod(shape):
        return np.ascontiguousarray(x).reshape(-1)
    return np.broadcast_to(x, shape).reshape(-1)


def _same_dtype_operands(ctx: OpContext, *allowed: TensorType) -> tuple[Tensor, Tensor, Tensor]:
    ctx.expect_count(2)
    a, b, output = ctx.input(0), ctx.input(1), ctx.output()
    ctx.expect_dtype(a, *allowed)
    ctx.expect_dtype(b, a.dtype)
    ctx.expect_dtype(output, a.dtype)
    return a, b, output


@register("MUL", dtypes=("int8", "int16", "float32"))
class Mul(Op):
    """The product requantized by in1_scale * in2_scale / out_scale (a double, as TFLM), then the
    fused activation; float32: a * b clamped to the activation's range."""

    # The fused activation's clamp: float32 bounds on float32, quantized bounds otherwise.
    act_min: np.float32 | int
    act_max: np.float32 | int

    def __init__(self, ctx: OpContext[MulOptions]) -> None:
        a, b, output = _same_dtype_operands(ctx, INT8, INT16, FLOAT32)
        self.broadcast = Broadcast(ctx, a, b, output, MAX_BROADCAST_RANK)
        self.dtype = output.dtype.numpy
        activation = ctx.options.fused_activation_function
        if output.dtype == FLOAT32:
            self.act_min, self.act_max = float_activation_range(activation)
            return
        (a_scale, a_zero), (b_scale, b_zero) = ctx.quantization(a), ctx.quantization(b)
        out_scale, self.out_offset = ctx.quantization(output)
        if output.dtype == INT16 and (a_zero, b_zero, self.out_offset) != (0, 0, 0):
            ctx.fail(f"int16 MUL needs zero points of 0, got {a_zero}, {b_zero} and {self.out_offset}")
        self.a_offset, self.b_offset = -a_zero, -b_zero
        self.multiplier, self.shift = quantize_multiplier(a_scale * b_scale / out_scale)
        if self.shift > 30:
            ctx.fail(f"input scales {a_scale} x {b_scale} / output scale {out_scale} is 2**31 or more")
        self.act_min, self.act_max = activation_range(activation, out_scale, self.out_offset, self.dtype)

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        a, b, shape = self.broadcast(required(inputs[0]), required(inputs[1]))
        out = np.empty(shape, self.dtype)
        if self.dtype == np.float32:
            mul_float(a, b, self.act_min, self.act_max, out.reshape(-1))
        else:
            mul_quantized(
                a, b, self.a_offset, self.b_offset, self.multiplier, self.shift,
                self.out_offset, self.act_min, self.act_max, out.reshape(-1),
            )  # fmt: skip
        return [out]


class _AddSub(Op):
    """CalculateOpDataAdd / CalculateOpDataSub: both inputs shifted up by headroom bits and rescaled to
    twice the larger input scale (ratios in double), added or subtracted, rescaled to the output;
    float32: a + b or a - b clamped to the activation's range."""

    subtract: bool
    # The fused activation's clamp: float32 bounds on float32, quantized bounds otherwise.
    act_min: np.float32 | int
    act_max: np.float32 | int

    def __init__(self, ctx: OpContext[AddOptions | SubOptions], rounding: int) -> None:
        a, b, output = _same_dtype_operands(ctx, INT8, INT16, FLOAT32)
        self.broadcast = Broadcast(ctx, a, b, output, MAX_BROADCAST_RANK)
        self.dtype = output.dtype.numpy
        activation = ctx.options.fused_activation_function
        if output.dtype == FLOAT32:
            self.act_min, self.act_max = float_activation_range(activation)
            return
        self.rounding = rounding
        (a_scale, a_zero), (b_scale, b_zero) = ctx.quantization(a), ctx.quantization(b)
        out_scale, self.out_offset = ctx.quantization(output)
        self.a_offset, self.b_offset = -a_zero, -b_zero
        self.left_shift = ADD_SUB_LEFT_SHIFT[output.dtype]
        twice_max = 2 * max(a_scale, b_scale)
        what = f"{ctx.op.opcode} {ctx.op.index}"
        self.a_mult = quantize_multiplier_smaller_than_one(a_scale / twice_max, f"{what} input 0")
        self.b_mult = quantize_multiplier_smaller_than_one(b_scale / twice_max, f"{what} input 1")
        out_real = twice_max / ((1 << self.left_shift) * out_scale)
        self.out_mult = quantize_multiplier_smaller_than_one(out_real, f"{what} output")
        self.act_min, self.act_max = activation_range(activation, out_scale, self.out_offset, self.dtype)

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        a, b, shape = self.broadcast(required(inputs[0]), required(inputs[1]))
        out = np.empty(shape, self.dtype)
        if self.dtype == np.float32:
            add_sub_float(a, b, self.subtract, self.act_min, self.act_max, out.reshape(-1))
        else:
            add_sub_quantized(
                a, b, self.subtract, self.a_offset, self.b_offset, self.left_shift, *self.a_mult,
                *self.b_mult, *self.out_mult, self.out_offset, self.act_min, self.act_max,
                out.reshape(-1), self.rounding,
            )  # fmt: skip
        return [out]


@register("ADD", dtypes=("int8", "int16", "float32"))
class Add(_AddSub):
    """Requantized with the numerics profile's rounding (CMSIS-NN's arm_elementwise_add_s8 rounds as
    its arm_nn_requantize is built)."""

    subtract = False

    def __init__(self, ctx: OpContext[AddOptions]) -> None:
        super().__init__(ctx, ctx.rounding)


@register("SUB", dtypes=("int8", "int16", "float32"))
class Sub(_AddSub):
    """Always TFLM's rounding: TFLM's CMSIS-NN build runs the reference SUB. The oracle's TFLM computes
    the ratios as ADD does, not in float32 as the older sub_common.cc did."""

    subtract = True

    def __init__(self, ctx: OpContext[SubOptions]) -> None:
        super().__init__(ctx, TFLM_ROUNDING)


class _Select(Op):
    """MAXIMUM / MINIMUM: `keep_a(a, b)` says where the first input is the result (el1 > el2 or
    el1 < el2, so a NaN in either input yields the second one, as TFLM's ternaries do)."""

    keep_a: np.ufunc

    def __init__(self, ctx: OpContext) -> None:
        a, b, output = _same_dtype_operands(ctx, INT8, INT16, FLOAT32)
        self.broadcast = Broadcast(ctx, a, b, output, MAX_BROADCAST_RANK)

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        a, b, shape = self.broadcast(required(inputs[0]), required(inputs[1]))
        return [np.where(type(self).keep_a(a, b), a, b).reshape(shape)]


@register("MAXIMUM", dtypes=("int8", "int16", "float32"))
class Maximum(_Select):
    keep_a = np.greater


@register("MINIMUM", dtypes=("int8", "int16", "float32"))
class Minimum(_Select):
    keep_a = np.less
