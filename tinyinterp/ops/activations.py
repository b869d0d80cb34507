"""Activations: LOGISTIC, TANH, RELU, RELU6, LEAKY_RELU, HARD_SWISH (int8 / int16 / float32 as TFLM
runs each) and PRELU.

Where TFLM ignores a tensor's quantization we do too, so results stay equal: int8 LOGISTIC assumes
an output scale of 1/256 (it only checks the zero point, -128), int8 TANH an output of scale 1/128
and zero point 0, and RELU6 writes its input's quantization whatever the output's.

Float LOGISTIC and TANH call the C library's expf / tanhf as TFLM does, so they match TFLM bit for
bit when both resolve to the same libm (glibc here); see `FLOAT_NOT_BIT_EXACT` in
`tinyinterp.testing.strategies.activations`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tinyinterp.kernels.activations import (
    clamp_floats,
    hard_swish_float,
    hard_swish_int8,
    leaky_relu_float,
    leaky_relu_quantized,
    logistic_float,
    logistic_int16,
    prelu_float,
    prelu_quantized,
    sigmoid_family_int8,
    tanh_float,
    tanh_int16,
)
from tinyinterp.kernels.quantize import requantize
from tinyinterp.model.ir import Tensor, TensorType
from tinyinterp.model.options import LeakyReluOptions
from tinyinterp.ops.arithmetic import MAX_BROADCAST_RANK, Broadcast
from tinyinterp.ops.base import Array, Op, OpContext, register, required
from tinyinterp.quant import (
    calculate_input_radius,
    checked_log2,
    downscale_int32_to_int16_multiplier,
    quantize_multiplier,
    quantize_value,
    round_half_away,
)

INT8, INT16, FLOAT32 = TensorType.INT8, TensorType.INT16, TensorType.FLOAT32
Q4_INTEGER_BITS = 4  # int8 LOGISTIC / TANH rescale inputs to Q4.27
PRELU_FLOAT_MAX_RANK = 4  # TFLM's float PRELU is BroadcastPrelu4DSlow


def _unary(ctx: OpContext, *allowed: TensorType) -> tuple[Tensor, Tensor]:
    """The input and output of a one-input op that keeps shape and dtype."""
    ctx.expect_count(1)
    input_, output = ctx.input(0), ctx.output()
    ctx.expect_dtype(input_, *allowed)
    ctx.expect_dtype(output, input_.dtype)
    ctx.expect_shape(output, input_.shape)
    return input_, output


def _expect_zero_points(ctx: OpContext, *tensors: Tensor) -> None:
    for tensor in tensors:
        zero_point = ctx.quantization(tensor)[1]
        if zero_point != 0:
            ctx.fail(f"{ctx.describe(tensor)} needs a zero point of 0 (int16), got {zero_point}")


def _q4_rescaling(ctx: OpContext, input_: Tensor) -> tuple[int, int, int]:
    """int8 LOGISTIC / TANH Prepare: (multiplier, left shift) taking input - zero point to Q4.27 (frexp
    of scale * 2**27, not QuantizeMultiplier), and the radius beyond which the output saturates."""
    scale, _ = ctx.quantization(input_)
    fraction, left_shift = math.frexp(scale * (1 << (31 - Q4_INTEGER_BITS)))
    if left_shift < 0:  # TFLM's CalculateInputRadius would shift by a negative amount
        ctx.fail(f"{ctx.describe(input_)} has scale {scale}, below the 2**-28 TFLM can rescale")
    multiplier = int(round_half_away(fraction * (1 << 31)))
    return multiplier, left_shift, calculate_input_radius(Q4_INTEGER_BITS, left_shift)


def _sigmoid_table_rescaling(
    ctx: OpContext, input_: Tensor, output: Tensor, exact_left_shifts: tuple[int, ...]
) -> tuple[int, int]:
    """int16 LOGISTIC / TANH Prepare: (multiplier, right shift) taking the input to the table's scale,
    where 2**17 is 32/3. A power-of-two input scale with a left shift in `exact_left_shifts` gives
    multiplier 3 << shift, applied exactly (Eval's case of input_multiplier == 0, done here)."""
    _expect_zero_points(ctx, input_, output)
    output_scale, _ = ctx.quantization(output)
    is_power_of_two, log2 = checked_log2(output_scale)
    if not is_power_of_two or log2 != -15:
        ctx.fail(f"{ctx.describe(output)} needs scale 2**-15, got {output_scale}")
    input_scale, _ = ctx.quantization(input_)
    is_power_of_two, log2 = checked_log2(input_scale)
    left_shift = 12 + log2
    if is_power_of_two and left_shift in exact_left_shifts:
        return 3 << left_shift, 0
    multiplier, right_shift = input_scale * 4096.0 * 3.0, 0
    while multiplier <= 32767.0 / 2.0 and right_shift <= 30:
        right_shift += 1
        multiplier *= 2.0
    if multiplier > 32767:  # TFLM only DCHECKs this; its int32 product would overflow
        ctx.fail(f"{ctx.describe(input_)} has scale {input_scale}, above the {32767 / 12288:.4g} allowed")
    return int(multiplier), right_shift


class _SigmoidFamily(Op):
    """LOGISTIC and TANH: int8 in gemmlowp fixed point, int16 from the sigmoid table, float32 in libm."""

    is_tanh: bool

    def __init__(self, ctx: OpContext) -> None:
        input_, output = _unary(ctx, INT8, INT16, FLOAT32)
        self.dtype = input_.dtype.numpy
        if input_.dtype == INT8:
            self.zero_point = ctx.quantization(input_)[1]
            self.multiplier, self.left_shift, self.radius = _q4_rescaling(ctx, input_)
            if not self.is_tanh and ctx.quantization(output)[1] != -128:
                ctx.fail(f"{ctx.describe(output)} needs zero point -128, got {ctx.quantization(output)[1]}")
        elif input_.dtype == INT16:
            exact_shifts = (0, 1) if self.is_tanh else (0,)
            self.multiplier, self.right_shift = _sigmoid_table_rescaling(ctx, input_, output, exact_shifts)

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = required(inputs[0])
        out = np.empty(x.shape, self.dtype)
        flat_x, flat_out = x.reshape(-1), out.reshape(-1)
        if self.dtype == np.int8:
            rescaling = (self.zero_point, self.radius, self.multiplier, self.left_shift)
            sigmoid_family_int8(flat_x, *rescaling, self.is_tanh, flat_out)
        elif self.dtype == np.int16:
            kernel = tanh_int16 if self.is_tanh else logistic_int16
            kernel(flat_x, self.multiplier, self.right_shift, flat_out)
        else:
            (tanh_float if self.is_tanh else logistic_float)(flat_x, flat_out)
        return [out]


@register("LOGISTIC", dtypes=("int8", "int16", "float32"))
class Logistic(_SigmoidFamily):
    is_tanh = False


@register("TANH", dtypes=("int8", "int16", "float32"))
class Tanh(_SigmoidFamily):
    is_tanh = True


@register("RELU", dtypes=("int8", "int16", "float32"))
class Relu(Op):
    """Quantized: requantized by input_scale / output_scale, clamped at the output's zero point;
    float32: x < 0 ? 0 : x. The ratio is a double in the oracle's TFLM (older sources: float32)."""

    def __init__(self, ctx: OpContext) -> None:
        input_, output = _unary(ctx, INT8, INT16, FLOAT32)
        self.dtype = input_.dtype.numpy
        if input_.dtype == FLOAT32:
            return
        if input_.dtype == INT16:
            _expect_zero_points(ctx, input_, output)
        (input_scale, self.input_zero_point), (output_scale, self.output_zero_point) = (
            ctx.quantization(input_),
            ctx.quantization(output),
        )
        self.multiplier, self.shift = quantize_multiplier(input_scale / output_scale)
        info = np.iinfo(self.dtype)
        self.low, self.high = max(int(info.min), self.output_zero_point), int(info.max)

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = required(inputs[0])
        out = np.empty(x.shape, self.dtype)
        if self.dtype == np.float32:
            clamp_floats(x.reshape(-1), np.float32(0.0), np.float32(np.inf), out.reshape(-1))
            return [out]
        rescaling = (self.input_zero_point, self.multiplier, self.shift, self.output_zero_point)
        requantize(x.reshape(-1), *rescaling, self.low, self.high, out.reshape(-1))
        return [out]


@register("RELU6", dtypes=("int8", "int16", "float32"))
class Relu6(Op):
    """Quantized: clamped to [zero point, quantized 6] of the input's quantization (TFLM ignores the
    output's); float32: x > 6 ? 6 : x < 0 ? 0 : x."""

    def __init__(self, ctx: OpContext) -> None:
        input_, _ = _unary(ctx, INT8, INT16, FLOAT32)
        self.dtype = input_.dtype.numpy
        if input_.dtype == FLOAT32:
            return
        scale, zero_point = ctx.quantization(input_)
        info = np.iinfo(self.dtype)
        self.low = zero_point
        self.high = min(max(quantize_value(scale, zero_point, 6.0), int(info.min)), int(info.max))

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = required(inputs[0])
        if self.dtype != np.float32:
            return [np.clip(x, self.low, self.high)]
        out = np.empty(x.shape, self.dtype)
        clamp_floats(x.reshape(-1), np.float32(0.0), np.float32(6.0), out.reshape(-1))
        return [out]


@register("LEAKY_RELU", dtypes=("int8", "int16", "float32"))
class LeakyRelu(Op):
    """Quantized: x >= zero point rescaled by input/output scale, else by alpha * input/output scale
    (doubles in the oracle's TFLM, older sources: float32; a negative alpha flips the sign);
    float32: x > 0 ? x : x * alpha."""

    def __init__(self, ctx: OpContext[LeakyReluOptions]) -> None:
        input_, output = _unary(ctx, INT8, INT16, FLOAT32)
        self.dtype = input_.dtype.numpy
        alpha = np.float32(ctx.options.alpha)
        if input_.dtype == FLOAT32:
            self.alpha = alpha
            return
        (input_scale, self.input_zero_point), (output_scale, self.output_zero_point) = (
            ctx.quantization(input_),
            ctx.quantization(output),
        )
        self.identity = quantize_multiplier(input_scale / output_scale)
        alpha_multiplier, alpha_shift = quantize_multiplier(input_scale * float(alpha) / output_scale)
        self.alpha_rescaling = (abs(alpha_multiplier), alpha_shift, alpha_multiplier < 0)
        info = np.iinfo(self.dtype)
        self.low, self.high = int(info.min), int(info.max)

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = required(inputs[0])
        out = np.empty(x.shape, self.dtype)
        if self.dtype == np.float32:
            leaky_relu_float(x.reshape(-1), self.alpha, out.reshape(-1))
            return [out]
        leaky_relu_quantized(
            x.reshape(-1), self.input_zero_point, *self.identity, *self.alpha_rescaling,
            self.output_zero_point, self.low, self.high, out.reshape(-1),
        )  # fmt: skip
        return [out]


@register("HARD_SWISH", dtypes=("int8", "float32"))
class HardSwish(Op):
    """x * relu6(x + 3) / 6. int8 (TFLM has no int16 HARD_SWISH): HardSwishPrepare's two Q0.15
    multipliers, from the input scale / 128 to the output scale and to the scale where 3 is 2**15."""

    def __init__(self, ctx: OpContext) -> None:
        input_, output = _unary(ctx, INT8, FLOAT32)
        self.dtype = input_.dtype.numpy
        if input_.dtype == FLOAT32:
            return
        (input_scale, self.input_zero_point), (output_scale, self.output_zero_point) = (
            ctx.quantization(input_),
            ctx.quantization(output),
        )
        hires_input_scale = np.float32(1.0 / 128.0) * np.float32(input_scale)
        output_multiplier, self.output_exponent = quantize_multiplier(
            float(hires_input_scale / np.float32(output_scale))
        )
        if self.output_exponent > 0:
            ctx.fail(f"input scale / 128 / output scale must be below 1, got 2**{self.output_exponent - 1}+")
        reluish_multiplier, self.reluish_exponent = quantize_multiplier(
            float(hires_input_scale / np.float32(3.0 / 32768.0))
        )
        self.output_multiplier = downscale_int32_to_int16_multiplier(output_multiplier)
        self.reluish_multiplier = downscale_int32_to_int16_multiplier(reluish_multiplier)

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = required(inputs[0])
        out = np.empty(x.shape, self.dtype)
        if self.dtype == np.float32:
            hard_swish_float(x.reshape(-1), out.reshape(-1))
            return [out]
        hard_swish_int8(
            x.reshape(-1), self.input_zero_point, self.output_zero_point, self.output_multiplier,
            self.output_exponent, self.reluish_multiplier, self.reluish_exponent, out.reshape(-1),
        )  # fmt: skip
        return [out]


@register("PRELU", dtypes=("int8", "int16", "float32"))
class Prelu(Op):
    """x >= 0 ? x : x * alpha, alpha broadcast against x (rank <= 6; float32: <= 4, as TFLM). int16
    inputs take int8 alphas; quantized results are rescaled by input/output scale or by
    input * alpha / output scale (doubles)."""

    def __init__(self, ctx: OpContext) -> None:
        ctx.expect_count(2)
        input_, alpha, output = ctx.input(0), ctx.input(1), ctx.output()
        ctx.expect_dtype(input_, INT8, INT16, FLOAT32)
        ctx.expect_dtype(output, input_.dtype)
        ctx.expect_dtype(alpha, FLOAT32 if input_.dtype == FLOAT32 else INT8)
        max_rank = PRELU_FLOAT_MAX_RANK if input_.dtype == FLOAT32 else MAX_BROADCAST_RANK
        self.broadcast = Broadcast(ctx, input_, alpha, output, max_rank)
        self.dtype = input_.dtype.numpy
        if input_.dtype == FLOAT32:
            return
        (input_scale, input_zero), (alpha_scale, alpha_zero), (output_scale, self.output_offset) = (
            ctx.quantization(t) for t in (input_, alpha, output)
        )
        self.input_offset, self.alpha_offset = -input_zero, -alpha_zero
        self.identity = quantize_multiplier(input_scale / output_scale)
        self.alpha_rescaling = quantize_multiplier(input_scale * alpha_scale / output_scale)
        info = np.iinfo(self.dtype)
        self.low, self.high = int(info.min), int(info.max)

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x, alpha, shape = self.broadcast(required(inputs[0]), required(inputs[1]))
        out = np.empty(shape, self.dtype)
        if self.dtype == np.float32:
            prelu_float(x, alpha, out.reshape(-1))
            return [out]
        prelu_quantized(
            x, alpha, self.input_offset, self.alpha_offset, *self.identity, *self.alpha_rescaling,
            self.output_offset, self.low, self.high, out.reshape(-1),
        )  # fmt: skip
        return [out]
