"""Run-time fixed-point primitives of the kernels, jitted with numba: gemmlowp's fixedpoint.h and TFLM's
common.h (double-rounding flavour, which is TFLM's default build), and the float clamp. Their
prepare-time counterparts (multipliers, ranges, lookup tables) are in `tinyinterp/quant.py`.

Integers here are int64 holding int32 values; `wrap_int32` reproduces C's int32 wrap-around where
TFLM's arithmetic relies on it.
"""

from __future__ import annotations

import math

import numpy as np

from tinyinterp.jit import jit
from tinyinterp.numerics import SINGLE_ROUNDING
from tinyinterp.quant import round_half_away


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
def multiply_by_quantized_multiplier_single_rounding(x: int, multiplier: int, shift: int) -> int:
    """CMSIS-NN's arm_nn_requantize with CMSIS_NN_USE_SINGLE_ROUNDING: (x * multiplier) >> (31 - shift),
    rounded half up, once."""
    result = (wrap_int32(x) * multiplier) >> (30 - shift)
    return (result + 1) >> 1


@jit
def requantize_with(x: int, multiplier: int, shift: int, rounding: int) -> int:
    """multiply_by_quantized_multiplier, or its single-rounding variant (`rounding`: SINGLE_ROUNDING)."""
    if rounding == SINGLE_ROUNDING:
        return multiply_by_quantized_multiplier_single_rounding(x, multiplier, shift)
    return multiply_by_quantized_multiplier(x, multiplier, shift)


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
    return saturating_left_shift(newton_reciprocal_q2_29(rounding_half_sum(a, 2147483647)), 1)


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


@jit
def multiply_by_quantized_multiplier_int64(x: int, multiplier: int, shift: int) -> int:
    """TFLM's MultiplyByQuantizedMultiplier(int64_t x, ...) of the 16x8 kernels: the multiplier
    reduced to 16 bits, one rounding shift, and the result truncated to int32 as C's cast does.

    Shift counts are masked to 6 bits, as x86 does for the shifts TFLM leaves undefined (shift >= 15).
    """
    reduced = (multiplier + (1 << 15)) >> 16 if multiplier < 0x7FFF0000 else 0x7FFF
    total_shift = 15 - shift
    rounded = x * reduced + (1 << ((total_shift - 1) & 63))
    return wrap_int32(rounded >> (total_shift & 63))


@jit
def clamp_float(x: float, low: float, high: float) -> float:
    """ActivationFunctionWithMinMax on floats, std::min(std::max(x, low), high): NaN passes through,
    infinities clamp to the float range of an op without activation, and -0.0 survives a RELU."""
    y = low if x < low else x
    return high if high < y else y


@jit
def newton_reciprocal_q2_29(half_denominator: int) -> int:
    """1 / half_denominator in Q2.29 for a Q0.31 half_denominator in [1/2, 1), by three
    Newton-Raphson steps from 48/17 - 32/17 * d (gemmlowp's shared division)."""
    x = wrap_int32(1515870810 + saturating_rounding_doubling_high_mul(half_denominator, -1010580540))
    for _ in range(3):
        half_denominator_times_x = saturating_rounding_doubling_high_mul(half_denominator, x)
        one_minus = wrap_int32((1 << 29) - half_denominator_times_x)
        x = wrap_int32(x + saturating_left_shift(saturating_rounding_doubling_high_mul(x, one_minus), 2))
    return x


@jit
def one_minus_x_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    """(1 - a) / (1 + a) for a Q0.31 value a in [0, 1): 2 / (1 + a) - 1, rescaled from Q2.29."""
    x = newton_reciprocal_q2_29(rounding_half_sum(a, 2147483647))
    return saturating_left_shift(wrap_int32(x - (1 << 29)), 2)


@jit
def logistic_q0_31(a: int, integer_bits: int) -> int:
    """gemmlowp logistic of a Q(integer_bits) value, in Q0.31: 1 / (1 + exp(-|a|)), mirrored for a < 0."""
    if a == 0:
        return 1 << 30
    minus_abs = wrap_int32(-a) if a > 0 else a
    if_positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(minus_abs, integer_bits))
    return if_positive if a > 0 else wrap_int32(2147483647 - if_positive)


@jit
def tanh_q0_31(a: int, integer_bits: int) -> int:
    """gemmlowp tanh of a Q(integer_bits) value, in Q0.31: (1 - exp(-2|a|)) / (1 + exp(-2|a|)).

    -2|a| is -|a| read with one more integer bit (gemmlowp's ExactMulByPot<1>), not a shift.
    """
    if a == 0:
        return 0
    minus_abs = a if a < 0 else wrap_int32(-a)
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(minus_abs, integer_bits + 1))
    return wrap_int32(-t) if a < 0 else t


@jit
def saturating_rounding_doubling_high_mul_int16(a: int, b: int) -> int:
    """gemmlowp's int16_t SaturatingRoundingDoublingHighMul: round(a * b / 2**15), ties up."""
    if a == b and a == -32768:
        return 32767
    total = a * b + (16384 if a * b >= 0 else 1 - 16384)
    # C++'s division truncates toward zero.
    return total // 32768 if total >= 0 else -((-total) // 32768)


@jit
def rounding_divide_by_pot_int16(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT on int16_t. Its mask is an int16_t, so from exponent 16 on it
    truncates to -1 and the result is +1 for x >= 0, -1 for x < 0: reproduced as TFLM computes it."""
    mask = wrap_int16((1 << exponent) - 1)
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if (x & mask) > threshold else 0)


@jit
def exp_f32(x: np.float32) -> float:
    """std::exp on a float: numba calls the C library's expf, as TFLM does (numpy's exp differs)."""
    return math.exp(np.float32(x))


@jit
def wrap_int16(x: int) -> int:
    return ((x + 32768) & 0xFFFF) - 32768


@jit
def lut_lookup_int16(value: int, lut: np.ndarray) -> int:
    """LUTLookup: the segment's base plus its slope times the low 7 bits, in int16 as C casts."""
    index = 256 + (value >> 7)
    offset = value & 0x7F
    base = np.int64(lut[index])
    slope = wrap_int16(np.int64(lut[index + 1]) - base)
    return wrap_int16(base + ((slope * offset + 64) >> 7))


# TfLiteRound for kernels (numba compiles the same Python function), for |value| < 2**63: numba's
# math.floor returns an int64.
round_half_away_jit = jit(round_half_away)
