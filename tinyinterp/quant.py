"""Fixed-point arithmetic shared by every kernel, exactly as TFLM computes it.

Two halves:
- prepare-time helpers in plain Python (quantize a real multiplier, activation ranges),
  following tensorflow/lite/kernels/internal/quantization_util.cc and kernel_util.cc;
- run-time primitives jitted with numba (gemmlowp's fixedpoint.h and TFLM's common.h,
  double-rounding flavour, which is TFLM's default build), called from `kernels/`.

Integers in the jitted functions are int64 holding int32 values; `wrap_int32` reproduces
C's int32 wrap-around where TFLM's arithmetic relies on it.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from tinyinterp.errors import ModelError

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

jit = numba.njit(cache=True, nogil=True)

# ----------------------------------------------------------------------------------------
# Prepare time (plain Python, runs once per model)


def round_half_away(value: float) -> float:
    """C's std::round (TfLiteRound): halves go away from zero; Python's round() does not."""
    return math.copysign(math.floor(abs(value) + 0.5), value)


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """TFLM QuantizeMultiplier: real = multiplier * 2**(shift - 31), multiplier in [2**30, 2**31)."""
    if real_multiplier == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real_multiplier)
    q_fixed = int(round_half_away(fraction * (1 << 31)))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def quantize_multiplier_smaller_than_one(real_multiplier: float, what: str) -> tuple[int, int]:
    if not 0.0 < real_multiplier < 1.0:
        raise ModelError(f"{what}: multiplier {real_multiplier!r} must be in (0, 1)")
    return quantize_multiplier(real_multiplier)


def quantize_multiplier_greater_than_one(real_multiplier: float, what: str) -> tuple[int, int]:
    if not real_multiplier > 1.0:
        raise ModelError(f"{what}: multiplier {real_multiplier!r} must be > 1")
    return quantize_multiplier(real_multiplier)


def quantize_multipliers(real_multipliers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vector form of quantize_multiplier, for per-channel scales."""
    pairs = [quantize_multiplier(float(m)) for m in real_multipliers]
    multipliers = np.array([m for m, _ in pairs], dtype=np.int32)
    shifts = np.array([s for _, s in pairs], dtype=np.int32)
    return multipliers, shifts


def quantize_value(scale: float, zero_point: int, value: float) -> int:
    """TFLM's kernel_util Quantize(): the division and rounding happen in float32."""
    quotient = np.float32(value) / np.float32(scale)
    return int(zero_point) + int(round_half_away(float(quotient)))


ACTIVATIONS = ("NONE", "RELU", "RELU_N1_TO_1", "RELU6")


def activation_range(activation: str, scale: float, zero_point: int, dtype: np.dtype) -> tuple[int, int]:
    """CalculateActivationRangeQuantized: the fused activation as an output clamp."""
    info = np.iinfo(dtype)
    qmin, qmax = int(info.min), int(info.max)
    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, quantize_value(scale, zero_point, 0.0)), qmax
    if activation == "RELU6":
        high = quantize_value(scale, zero_point, 6.0)
        return max(qmin, quantize_value(scale, zero_point, 0.0)), min(qmax, high)
    if activation == "RELU_N1_TO_1":
        low = quantize_value(scale, zero_point, -1.0)
        return max(qmin, low), min(qmax, quantize_value(scale, zero_point, 1.0))
    raise ModelError(f"fused activation {activation} is not supported on quantized tensors")


# ----------------------------------------------------------------------------------------
# Run time (numba), gemmlowp fixedpoint.h and TFLM common.h


@jit
def wrap_int32(x: int) -> int:
    """Two's complement wrap of an integer to int32, as C arithmetic on int32_t does."""
    return ((x + 2147483648) & 0xFFFFFFFF) - 2147483648


@jit
def saturating_rounding_doubling_high_mul(a: int, b: int) -> int:
    ab = a * b
    nudge = 1073741824 if ab >= 0 else 1 - 1073741824
    total = ab + nudge
    # C++'s division by 2**31 truncates toward zero: bias negative values before the shift.
    high = (total + ((total >> 63) & 0x7FFFFFFF)) >> 31
    overflow = a == b and a == -2147483648
    return 2147483647 if overflow else high


@jit
def rounding_divide_by_pot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


@jit
def multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    left_shift = shift if shift > 0 else 0
    right_shift = -shift if shift < 0 else 0
    return rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(wrap_int32(x * (1 << left_shift)), multiplier), right_shift
    )


@jit
def multiply_by_quantized_multiplier_greater_than_one(x: int, multiplier: int, left_shift: int) -> int:
    return saturating_rounding_doubling_high_mul(wrap_int32(x * (1 << left_shift)), multiplier)


@jit
def saturating_left_shift(x: int, exponent: int) -> int:
    """gemmlowp SaturatingRoundingMultiplyByPOT with a positive exponent, on int32."""
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return 2147483647
    if x < -threshold:
        return -2147483648
    return wrap_int32(x << exponent)


@jit
def rounding_half_sum(a: int, b: int) -> int:
    total = a + b
    sign = 1 if total >= 0 else -1
    numerator = total + sign
    return numerator // 2 if numerator >= 0 else -((-numerator) // 2)


@jit
def exp_on_interval_between_negative_one_quarter_and_0_excl(a: int) -> int:
    """exp(a) for a in [-1/4, 0) in Q0.31, by a Taylor expansion around -1/8."""
    constant_term = 1895147668  # exp(-1/8)
    constant_1_over_3 = 715827883
    x = wrap_int32(a + (1 << 28))
    x2 = saturating_rounding_doubling_high_mul(x, x)
    x3 = saturating_rounding_doubling_high_mul(x2, x)
    x4 = saturating_rounding_doubling_high_mul(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    poly = saturating_rounding_doubling_high_mul(wrap_int32(x4_over_4 + x3), constant_1_over_3)
    x4_over_24_plus_x3_over_6_plus_x2_over_2 = rounding_divide_by_pot(wrap_int32(poly + x2), 1)
    product = saturating_rounding_doubling_high_mul(
        constant_term, wrap_int32(x + x4_over_24_plus_x3_over_6_plus_x2_over_2)
    )
    return wrap_int32(constant_term + product)


# exp(-2**k) in Q0.31 for k = -2..4, applied for each set bit of the remainder.
_EXP_BARREL = (
    (-2, 1672461947),
    (-1, 1302514674),
    (0, 790015084),
    (1, 290630308),
    (2, 39332535),
    (3, 720401),
    (4, 242),
)


@jit
def exp_on_negative_values(a: int, integer_bits: int) -> int:
    """gemmlowp exp_on_negative_values: a is a Q(integer_bits).(31-integer_bits) value <= 0."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = wrap_int32((a & mask) - one_quarter)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_left_shift(a_mod_quarter_minus_one_quarter, integer_bits)
    )
    remainder = wrap_int32(a_mod_quarter_minus_one_quarter - a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent and remainder & (1 << (fractional_bits + exponent)):
            result = saturating_rounding_doubling_high_mul(result, multiplier)
    if integer_bits > 5 and a < -(1 << (36 - integer_bits)):
        result = 0
    if a == 0:
        result = 2147483647
    return result


@jit
def one_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    """1 / (1 + a) for a Q0.31 value a in [0, 1), by Newton-Raphson in Q2.29."""
    half_denominator = rounding_half_sum(a, 2147483647)
    x = wrap_int32(1515870810 + saturating_rounding_doubling_high_mul(half_denominator, -1010580540))
    for _ in range(3):
        half_denominator_times_x = saturating_rounding_doubling_high_mul(half_denominator, x)
        one_minus = wrap_int32((1 << 29) - half_denominator_times_x)
        x = wrap_int32(x + saturating_left_shift(saturating_rounding_doubling_high_mul(x, one_minus), 2))
    return saturating_left_shift(x, 1)


@jit
def count_leading_zeros_u32(x: int) -> int:
    if x == 0:
        return 32
    count = 0
    while (x & 0x80000000) == 0:
        x <<= 1
        count += 1
    return count


@jit
def get_reciprocal(x: int, x_integer_digits: int) -> tuple[int, int]:
    """TFLM GetReciprocal: (Q0.31 reciprocal of x scaled into [1, 2), num_bits_over_unit)."""
    headroom_plus_one = count_leading_zeros_u32(x & 0xFFFFFFFF)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted_sum_minus_one = wrap_int32(((x << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit
