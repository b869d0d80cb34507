"""QUANTIZE's kernels (float to integer, integer requantization), also RELU's requantization."""

from __future__ import annotations

from tinyinterp.jit import jit
from tinyinterp.kernels.fixedpoint import multiply_by_quantized_multiplier, round_half_away_jit, wrap_int32

INT32_INDEFINITE = -2147483648  # what x86's float -> int32 conversion gives out of range or for NaN


@jit
def quantize_float(x, scale, zero_point, low, high, out):
    """reference_ops::AffineQuantize: round(x / scale) in float32, plus the zero point, clamped.

    Quotients beyond int32 (and NaN) convert to INT32_MIN and the zero point wraps around, as the
    x86-64 build of TFLM computes them: +inf quantizes to `low` (or to `high` if zero_point < 0).
    """
    for i in range(x.size):
        quotient = x[i] / scale  # float32 / float32 stays float32
        # float32 values near 2**31 are integers: rounding cannot leave the range.
        in_range = -2147483648.0 <= quotient < 2147483648.0
        integer = int(round_half_away_jit(quotient)) if in_range else INT32_INDEFINITE
        out[i] = min(max(wrap_int32(integer + zero_point), low), high)


@jit
def requantize(x, input_zero_point, multiplier, shift, output_zero_point, low, high, out):
    """reference_ops::Requantize and ReluQuantized: (x - input zero point) rescaled, plus the output
    zero point, clamped to [low, high]. TFLM's int32 x - zero point wraps around: so does the operand
    of multiply_by_quantized_multiplier, which comes to the same modulo 2**32."""
    for i in range(x.size):
        rescaled = multiply_by_quantized_multiplier(x[i] - input_zero_point, multiplier, shift)
        out[i] = min(max(wrap_int32(rescaled + output_zero_point), low), high)
