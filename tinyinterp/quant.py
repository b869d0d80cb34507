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
from collections.abc import Callable
from typing import SupportsFloat

import numpy as np

from tinyinterp.errors import ModelError
from tinyinterp.jit import jit
from tinyinterp.numerics import SINGLE_ROUNDING

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
MAX_MULTIPLIER = 2.0**62

# ----------------------------------------------------------------------------------------
# Prepare time (plain Python, runs once per model)


# Not mutated (mutmut): it is also jitted (round_half_away_jit), and numba cannot compile mutmut's wrapper.
def round_half_away(value: float) -> float:  # pragma: no mutate block
    """C's std::round (TfLiteRound) of a finite value: halves go away from zero; Python's round()
    does not. The fraction is compared exactly: abs(value) + 0.5 would round 0.49999999999999994 to 1."""
    magnitude = abs(value)
    whole = math.floor(magnitude)
    return math.copysign(whole + (1.0 if magnitude - whole >= 0.5 else 0.0), value)


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """TFLM QuantizeMultiplier: real = multiplier * 2**(shift - 31), multiplier in [2**30, 2**31).

    A multiplier that is not finite, or of 2**62 or more (a shift no int64 holds; a ratio of scales
    no converter makes), is refused: C leaves both undefined.
    """
    if real_multiplier == 0.0:
        return 0, 0
    if not math.isfinite(real_multiplier) or abs(real_multiplier) >= MAX_MULTIPLIER:
        raise ModelError(f"multiplier {real_multiplier!r} (a ratio of scales) is out of fixed-point range")
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
    with np.errstate(over="ignore"):  # an overflow is refused just below
        quotient = np.float32(value) / np.float32(scale)
    if not np.isfinite(quotient):  # C's conversion of inf or NaN to an integer is undefined
        raise ModelError(f"{value:g} quantized with scale {scale:g} is out of range")
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


# ----------------------------------------------------------------------------------------
# Prepare time, float kernels


def float_activation_range(activation: str) -> tuple[np.float32, np.float32]:
    """CalculateActivationRange<float>: the fused activation as a float32 clamp (others: none)."""
    limit = float(np.finfo(np.float32).max)
    ranges = {"RELU": (0.0, limit), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}
    low, high = ranges.get(activation, (-limit, limit))
    return np.float32(low), np.float32(high)


# ----------------------------------------------------------------------------------------
# Run time, 16-bit activations and float kernels


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


# ----------------------------------------------------------------------------------------
# Prepare time, LOGISTIC / TANH / HARD_SWISH (quantization_util.cc, common.h)


def calculate_input_radius(integer_bits: int, left_shift: int, total_signed_bits: int = 31) -> int:
    """CalculateInputRadius: the largest |input - zero point| whose rescaled value still fits the
    fixed-point format (beyond it LOGISTIC / TANH saturate). `left_shift` must be >= 0."""
    rescaled = ((1 << integer_bits) - 1) * (1 << (total_signed_bits - integer_bits)) / (1 << left_shift)
    return math.floor(rescaled)


def checked_log2(x: float) -> tuple[bool, int]:
    """CheckedLog2: (is `x` a power of two to 1e-3 in log2, round(log2(x))), in float32 as TFLM.
    TFLM's comparison with a NaN difference is false for x <= 0: not a power of two."""
    if not np.float32(x) > 0:
        return False, 0
    inverse_log2 = np.float32(1.0) / np.float32(math.log(2.0))
    x_log2 = np.float32(np.float32(math.log(np.float32(x))) * inverse_log2)
    rounded = np.float32(round_half_away(float(x_log2)))
    return bool(abs(x_log2 - rounded) < np.float32(1e-3)), int(rounded)


def downscale_int32_to_int16_multiplier(multiplier: int) -> int:
    """DownScaleInt32ToInt16Multiplier: a Q0.31 multiplier rounded to Q0.15, saturating at 32767."""
    if multiplier >= INT32_MAX - (1 << 15):
        return 32767
    return (multiplier + (1 << 15)) >> 16


# ----------------------------------------------------------------------------------------
# Run time, gemmlowp logistic / tanh (int32) and int16 primitives


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


# ----------------------------------------------------------------------------------------
# Int16 lookup tables with interpolation (common.h LUTPopulate<int16_t> / LUTLookup)

INT16_LUT_SIZE = 513  # 512 segments and the end point their slope needs


@jit
def exp_f32(x: np.float32) -> float:
    """std::exp on a float: numba calls the C library's expf, as TFLM does (numpy's exp differs)."""
    return math.exp(np.float32(x))


def lut_populate_int16(
    transform: Callable[[np.float32], SupportsFloat],
    input_scale: SupportsFloat,
    input_zero_point: int,
    output_scale: SupportsFloat,
    output_zero_point: int,
) -> np.ndarray:
    """LUTPopulateInt16<float>: `transform` sampled at 513 points of the int16 input range, each
    sample nudged by half the error of interpolating the segment's midpoint, all in float32.

    `transform` must compute in float32 as TFLM's does (e.g. `exp_f32`, not numpy's exp).
    """
    f32 = np.float32
    input_min = f32(input_scale) * f32(-32768 - input_zero_point)
    input_max = f32(input_scale) * f32(32767 - input_zero_point)
    output_min = f32(output_scale) * f32(-32768 - output_zero_point)
    output_max = f32(output_scale) * f32(32767 - output_zero_point)
    steps = INT16_LUT_SIZE - 1
    step = (input_max - input_min) / f32(steps)
    half_step = step / f32(2)
    scaling = f32(65536) / (output_max - output_min)

    def rounded(value: np.float32) -> np.float32:  # TfLiteRound: halves away from zero
        return f32(round_half_away(float(value)))

    lut = np.empty(INT16_LUT_SIZE, np.int16)
    for i in range(steps):
        start = input_min + f32(i) * step
        value = f32(transform(start))
        midpoint = f32(transform(start + half_step))
        following = f32(transform(input_min + f32(i + 1) * step))
        sample = rounded(value * scaling)
        midpoint_interpolated = rounded((following * scaling + rounded(value * scaling)) / f32(2))
        midpoint_error = midpoint_interpolated - rounded(midpoint * scaling)
        lut[i] = np.clip(sample - rounded(midpoint_error / f32(2)), -32768, 32767)
    lut[steps] = np.clip(rounded(f32(transform(input_max)) * scaling), -32768, 32767)
    return lut


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
