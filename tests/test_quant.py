"""tinyinterp.quant's prepare-time helpers and tinyinterp.kernels.fixedpoint's run-time primitives against
Python big-integer re-statements of TFLM's and gemmlowp's C++ (written here from the C++ sources, not from
the code under test): on edge values (INT32_MIN, INT32_MAX, shifts of +-31, rounding ties, multipliers
near 1 and 2**-31) and, with hypothesis, over
the whole int32 range. The exp / logistic / tanh / reciprocal approximations are checked against
the real functions (their bit-exactness against TFLM is the differential tests' job)."""

from __future__ import annotations

import itertools
import math
import re
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyinterp import quant
from tinyinterp.errors import ModelError
from tinyinterp.kernels import fixedpoint

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT32_EDGES = (INT32_MIN, INT32_MIN + 1, -(2**30) - 1, -(2**30), -2, -1, 0, 1, 2, 2**30, 2**30 + 1)
INT32_EDGES += (INT32_MAX - 1, INT32_MAX)
MULTIPLIER_EDGES = (0, 1, 2, 2**30, 2**30 + 1, INT32_MAX - 1, INT32_MAX)  # Q0.31: 0, 2**-31 ... 1
int32s = st.one_of(st.sampled_from(INT32_EDGES), st.integers(INT32_MIN, INT32_MAX))
int16s = st.integers(-(2**15), 2**15 - 1)
multipliers = st.one_of(st.sampled_from(MULTIPLIER_EDGES), st.integers(0, INT32_MAX))


# ---- C semantics, spelled out -------------------------------------------------------------


def to_int32(x: int) -> int:
    """A C cast to int32_t (two's complement wrap)."""
    return int.from_bytes((x % 2**32).to_bytes(4, "little"), "little", signed=True)


def to_int16(x: int) -> int:
    return int.from_bytes((x % 2**16).to_bytes(2, "little"), "little", signed=True)


def c_div(a: int, b: int) -> int:
    """C's integer division: the quotient truncated toward zero."""
    return int(Fraction(a, b))


# ---- gemmlowp fixedpoint.h / TFLM common.h, re-stated ---------------------------------------


def srdhm(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul<int32_t>."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = 2**30 if ab >= 0 else 1 - 2**30
    return to_int32(c_div(ab + nudge, 2**31))


def srdhm16(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul<int16_t>."""
    if a == b == -(2**15):
        return 2**15 - 1
    ab = a * b
    nudge = 2**14 if ab >= 0 else 1 - 2**14
    return to_int16(c_div(ab + nudge, 2**15))


def rdbpot(x: int, exponent: int, cast=to_int32) -> int:
    """RoundingDivideByPOT<IntegerType>: mask, remainder and threshold in IntegerType (`cast`)."""
    mask = cast((1 << exponent) - 1)
    remainder = cast(x & mask)
    threshold = cast((mask >> 1) + (1 if x < 0 else 0))
    return cast((x >> exponent) + (1 if remainder > threshold else 0))


def mbqm(x: int, multiplier: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier(int32_t x, ...), double rounding."""
    left, right = max(shift, 0), max(-shift, 0)
    return rdbpot(srdhm(to_int32(x * 2**left), multiplier), right)


def mbqm_int64(x: int, multiplier: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier(int64_t x, ...) of the 16x8 kernels."""
    reduced = (multiplier + 2**15) >> 16 if multiplier < 0x7FFF0000 else 0x7FFF
    total_shift = 15 - shift
    return to_int32((x * reduced + 2 ** (total_shift - 1)) >> total_shift)


def saturating_rounding_multiply_by_pot(x: int, exponent: int) -> int:
    """SaturatingRoundingMultiplyByPOT<exponent > 0> on int32."""
    threshold = 2 ** (31 - exponent) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return to_int32(x * 2**exponent)


def rounding_half_sum(a: int, b: int) -> int:
    total = a + b
    return to_int32(c_div(total + (1 if total >= 0 else -1), 2))


def std_round(value: float) -> float:
    """std::round: to nearest, halves away from zero, exactly."""
    exact = Fraction(value)
    rounded = math.floor(abs(exact) + Fraction(1, 2))
    return math.copysign(rounded, value)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier (quantization_util.cc)."""
    if real == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real)
    q_fixed = int(std_round(fraction * 2**31))
    if q_fixed == 2**31:
        q_fixed, shift = q_fixed // 2, shift + 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


# ---- edge values --------------------------------------------------------------------------


@pytest.mark.parametrize("a", INT32_EDGES)
def test_srdhm_edges(a: int) -> None:
    for b in INT32_EDGES + MULTIPLIER_EDGES:
        assert fixedpoint.saturating_rounding_doubling_high_mul(a, b) == srdhm(a, b), (a, b)


@pytest.mark.parametrize("exponent", [0, 1, 2, 15, 16, 30, 31])
def test_rounding_divide_by_pot_edges_and_ties(exponent: int) -> None:
    half = 2 ** (exponent - 1) if exponent else 0
    ties = [k * 2**exponent + sign * half for k in (-3, 0, 3) for sign in (1, -1)]
    for x in [*INT32_EDGES, *(t for t in ties if INT32_MIN <= t <= INT32_MAX)]:
        assert fixedpoint.rounding_divide_by_pot(x, exponent) == rdbpot(x, exponent), (x, exponent)
    if exponent:  # ties go away from zero: 2.5 -> 3, -2.5 -> -3
        assert fixedpoint.rounding_divide_by_pot(5 * half, exponent) == 3
        assert fixedpoint.rounding_divide_by_pot(-5 * half, exponent) == -3


@pytest.mark.parametrize("shift", [-31, -30, -1, 0, 1, 30, 31])
def test_multiply_by_quantized_multiplier_edges(shift: int) -> None:
    for x, multiplier in itertools.product(INT32_EDGES, MULTIPLIER_EDGES):
        result = fixedpoint.multiply_by_quantized_multiplier(x, multiplier, shift)
        assert result == mbqm(x, multiplier, shift), (x, multiplier)


@pytest.mark.parametrize("exponent", [1, 2, 15, 30, 31])
def test_saturating_left_shift_edges(exponent: int) -> None:
    limit = 2 ** (31 - exponent)
    for x in [*INT32_EDGES, limit - 1, limit, -limit, -limit + 1, -limit - 1]:
        assert fixedpoint.saturating_left_shift(x, exponent) == saturating_rounding_multiply_by_pot(
            x, exponent
        )


def test_rounding_half_sum_edges() -> None:
    for a, b in itertools.product(INT32_EDGES, repeat=2):
        assert fixedpoint.rounding_half_sum(a, b) == rounding_half_sum(a, b), (a, b)


@pytest.mark.parametrize(
    "real",
    [
        1.0,
        1.0 - 2**-53,  # rounds up to 2**31: the multiplier halves, the shift grows
        1.0 - 2**-32,
        1.0 + 2**-52,
        2.0 - 2**-52,
        0.5,
        2**-31,
        2**-31 * (1 - 2**-53),
        2**-32,  # the smallest shift TFLM keeps, -31
        2**-33,  # flushed to zero
        1.5 * 2**-32,
        2.0**30,
        -0.2,  # LEAKY_RELU's negative alpha
        1 / 3,
        0.0,
    ],
)
def test_quantize_multiplier_edges(real: float) -> None:
    multiplier, shift = quant.quantize_multiplier(real)
    assert (multiplier, shift) == quantize_multiplier(real)
    if multiplier:
        represented = Fraction(multiplier) * Fraction(2) ** (shift - 31)
        assert abs(represented - Fraction(real)) <= Fraction(2) ** (shift - 32)  # half a step


@pytest.mark.parametrize(
    "value", [0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994, 2.0**52 + 1, 0.0]
)
def test_round_half_away_ties(value: float) -> None:
    assert quant.round_half_away(value) == std_round(value)
    assert fixedpoint.round_half_away_jit(value) == std_round(value)


def test_wrap_and_count_leading_zeros_edges() -> None:
    for x in [*INT32_EDGES, 2**31, 2**32 - 1, 2**32, -(2**31) - 1, 2**40 + 5, -(2**40) - 5]:
        assert fixedpoint.wrap_int32(x) == to_int32(x)
    for x in [0, 1, 2, 2**16, 2**31 - 1, 2**31, 2**32 - 1]:
        assert fixedpoint.count_leading_zeros_u32(x) == 32 - x.bit_length()


@pytest.mark.parametrize("exponent", [0, 1, 7, 14, 15, 16, 20, 31])
def test_rounding_divide_by_pot_int16_edges(exponent: int) -> None:
    """From exponent 16 the int16_t mask is -1: +1 for x >= 0, -1 below, as TFLM computes it."""
    for x in (-(2**15), -(2**15) + 1, -3, -1, 0, 1, 3, 2**14, 2**15 - 1):
        expected = rdbpot(x, exponent, cast=to_int16)
        assert fixedpoint.rounding_divide_by_pot_int16(x, exponent) == expected, (x, exponent)
        if exponent >= 16:
            assert expected == (1 if x >= 0 else -1)


def test_int16_helpers_edges() -> None:
    edges16 = (-(2**15), -(2**15) + 1, -(2**14), -1, 0, 1, 2**14, 2**15 - 1)
    for a, b in itertools.product(edges16, repeat=2):
        assert fixedpoint.saturating_rounding_doubling_high_mul_int16(a, b) == srdhm16(a, b), (a, b)
    # INT32_MAX - 2**15 + 1 and above would round to 2**15 without the saturation.
    for multiplier in (
        0,
        1,
        2**30,
        0x7FFEFFFF,
        0x7FFF0000,
        INT32_MAX - 2**15,
        INT32_MAX - 2**15 + 1,
        INT32_MAX,
    ):
        expected = 32767 if multiplier >= INT32_MAX - 2**15 else (multiplier + 2**15) >> 16
        assert quant.downscale_int32_to_int16_multiplier(multiplier) == expected


def test_input_radius_and_log2() -> None:
    # CalculateInputRadius: floor((2**ib - 1) * 2**(31 - ib) / 2**left_shift)
    for integer_bits, left_shift in itertools.product((3, 4, 5), (0, 1, 20, 27, 30, 31, 40)):
        expected = ((2**integer_bits - 1) * 2 ** (31 - integer_bits)) >> left_shift
        assert quant.calculate_input_radius(integer_bits, left_shift) == expected
    assert quant.checked_log2(2.0**-15) == (True, -15)
    assert quant.checked_log2(2.0**-12 * 1.0001) == (True, -12)  # within 1e-3 of a power of two in log2
    assert quant.checked_log2(3.0) == (False, 2)
    for not_positive in (0.0, -0.0, -4.0, math.nan):  # TFLM's log of these is NaN or -inf: never a power
        assert quant.checked_log2(not_positive) == (False, 0)


# ---- the whole int32 range ----------------------------------------------------------------


@given(int32s, int32s)
def test_srdhm_property(a: int, b: int) -> None:
    assert fixedpoint.saturating_rounding_doubling_high_mul(a, b) == srdhm(a, b)
    if not a == b == INT32_MIN:  # the meaning: a * b / 2**31 rounded to nearest, ties up
        assert srdhm(a, b) == math.floor(Fraction(a * b, 2**31) + Fraction(1, 2))


@given(int32s, st.integers(0, 31))
def test_rounding_divide_by_pot_property(x: int, exponent: int) -> None:
    result = fixedpoint.rounding_divide_by_pot(x, exponent)
    assert result == rdbpot(x, exponent)
    assert result == std_round(Fraction(x, 2**exponent))  # to nearest, ties away from zero


@given(int32s, multipliers, st.integers(-31, 31))
def test_multiply_by_quantized_multiplier_property(x: int, multiplier: int, shift: int) -> None:
    assert fixedpoint.multiply_by_quantized_multiplier(x, multiplier, shift) == mbqm(x, multiplier, shift)


@given(int32s, multipliers, st.integers(0, 31))
def test_multiply_by_quantized_multiplier_greater_than_one_property(
    x: int, multiplier: int, shift: int
) -> None:
    expected = srdhm(to_int32(x * 2**shift), multiplier)
    assert fixedpoint.multiply_by_quantized_multiplier_greater_than_one(x, multiplier, shift) == expected


@given(st.integers(-(2**47), 2**47 - 1), multipliers, st.integers(-31, 7))
def test_multiply_by_quantized_multiplier_int64_property(x: int, multiplier: int, shift: int) -> None:
    """On TFLM's stated domain: |x| < 2**47, shift in [-31, 7]."""
    assert fixedpoint.multiply_by_quantized_multiplier_int64(x, multiplier, shift) == mbqm_int64(
        x, multiplier, shift
    )


@given(int32s, st.integers(1, 31))
def test_saturating_left_shift_property(x: int, exponent: int) -> None:
    assert fixedpoint.saturating_left_shift(x, exponent) == saturating_rounding_multiply_by_pot(x, exponent)


@given(int32s, int32s)
def test_rounding_half_sum_property(a: int, b: int) -> None:
    assert fixedpoint.rounding_half_sum(a, b) == rounding_half_sum(a, b)


@given(st.integers(-(2**62), 2**62))
def test_wrap_int32_property(x: int) -> None:
    assert fixedpoint.wrap_int32(x) == to_int32(x)


@given(st.integers(0, 2**32 - 1))
def test_count_leading_zeros_property(x: int) -> None:
    assert fixedpoint.count_leading_zeros_u32(x) == 32 - x.bit_length()


@given(int16s, int16s, st.integers(0, 31))
def test_int16_primitives_property(a: int, b: int, exponent: int) -> None:
    assert fixedpoint.saturating_rounding_doubling_high_mul_int16(a, b) == srdhm16(a, b)
    assert fixedpoint.rounding_divide_by_pot_int16(a, exponent) == rdbpot(a, exponent, cast=to_int16)


@given(st.floats(min_value=2.0**-40, max_value=2.0**40) | st.floats(min_value=-4.0, max_value=-(2.0**-40)))
def test_quantize_multiplier_property(real: float) -> None:
    assert quant.quantize_multiplier(real) == quantize_multiplier(real)


@given(st.floats(allow_nan=False, allow_infinity=False, width=32))
def test_round_half_away_property(value: float) -> None:
    assert quant.round_half_away(value) == std_round(value)


# ---- fixed-point transcendental functions, against the real ones ---------------------------


@given(st.integers(INT32_MIN, 0), st.sampled_from([0, 1, 4, 5, 6, 12]))
def test_exp_on_negative_values_accuracy(a: int, integer_bits: int) -> None:
    real = math.exp(a / 2 ** (31 - integer_bits))
    assert abs(fixedpoint.exp_on_negative_values(a, integer_bits) / 2**31 - real) < 2**-21


@given(int32s, st.sampled_from([0, 3, 4, 5]))
def test_logistic_and_tanh_accuracy(a: int, integer_bits: int) -> None:
    x = a / 2 ** (31 - integer_bits)
    assert abs(fixedpoint.logistic_q0_31(a, integer_bits) / 2**31 - 1 / (1 + math.exp(-x))) < 2**-22
    assert abs(fixedpoint.tanh_q0_31(a, integer_bits) / 2**31 - math.tanh(x)) < 2**-22


@given(st.integers(0, INT32_MAX))
def test_reciprocal_helpers_accuracy(a: int) -> None:
    x = a / 2**31
    assert abs(fixedpoint.one_over_one_plus_x_for_x_in_0_1(a) / 2**31 - 1 / (1 + x)) < 2**-26
    assert abs(fixedpoint.one_minus_x_over_one_plus_x_for_x_in_0_1(a) / 2**31 - (1 - x) / (1 + x)) < 2**-26


def test_fixed_point_function_edges() -> None:
    assert fixedpoint.exp_on_negative_values(0, 5) == INT32_MAX
    assert fixedpoint.exp_on_negative_values(INT32_MIN, 6) == 0  # below -32: clamped to 0
    assert fixedpoint.logistic_q0_31(0, 4) == 2**30
    assert fixedpoint.tanh_q0_31(0, 4) == 0
    assert fixedpoint.tanh_q0_31(INT32_MAX, 4) == -fixedpoint.tanh_q0_31(-INT32_MAX, 4)
    assert np.isclose(fixedpoint.logistic_q0_31(INT32_MIN, 4) / 2**31, 1 / (1 + math.exp(16)), atol=2**-22)


@pytest.mark.parametrize("real", [2.0**62, -(2.0**62), math.inf, -math.inf, math.nan])
def test_multipliers_no_int64_shift_holds_are_refused(real: float) -> None:
    with pytest.raises(ModelError, match="out of fixed-point range"):
        quant.quantize_multiplier(real)
    assert quant.quantize_multiplier(2.0**61) == (1 << 30, 62)


@pytest.mark.parametrize("real", [0.0, 1.0, -0.5, 1.5])
def test_multipliers_outside_zero_one_are_refused(real: float) -> None:
    with pytest.raises(ModelError, match=rf"^input scale: multiplier {real!r} must be in \(0, 1\)$"):
        quant.quantize_multiplier_smaller_than_one(real, "input scale")
    assert quant.quantize_multiplier_smaller_than_one(0.5, "x") == (2**30, 0)


def test_multipliers_greater_than_one() -> None:
    # 3.0 = 0.75 x 2**2: Q0.31 0.75 is 3 x 2**29; 1.5 = 0.75 x 2**1 and 2.0 = 0.5 x 2**2 (any real above 1).
    assert quant.quantize_multiplier_greater_than_one(3.0, "x") == (3 << 29, 2)
    assert quant.quantize_multiplier_greater_than_one(1.5, "x") == (3 << 29, 1)
    assert quant.quantize_multiplier_greater_than_one(2.0, "x") == (1 << 30, 2)
    for real in (1.0, 0.5, math.nan):
        with pytest.raises(ModelError, match=rf"^output scale: multiplier {real!r} must be > 1$"):
            quant.quantize_multiplier_greater_than_one(real, "output scale")


def test_per_channel_multipliers() -> None:
    # 0.75 = 0.75 x 2**0, 0.25 = 0.5 x 2**-1, 0 stays 0 with shift 0.
    multipliers, shifts = quant.quantize_multipliers(np.array([0.75, 0.25, 0.0]))
    assert multipliers.dtype == np.int32 and shifts.dtype == np.int32
    assert multipliers.tolist() == [3 << 29, 1 << 30, 0]
    assert shifts.tolist() == [0, -1, 0]


def test_quantize_value_divides_and_rounds_in_float32() -> None:
    # 0.15 / 0.1 is 1.4999999999999998 in float64 but exactly 1.5 in float32 (rounded away: 2); 0.65 / 0.1
    # is 6.5 in float64 but 6.4999995 in float32 (6).
    assert quant.quantize_value(0.1, 3, 0.15) == 3 + 2
    assert quant.quantize_value(0.1, 3, 0.65) == 3 + 6
    # 0.375 / 0.25 is exactly 1.5 in both: a half, rounded away from zero on both sides.
    assert quant.quantize_value(0.25, -4, 0.375) == -4 + 2
    assert quant.quantize_value(0.25, -4, -0.375) == -4 - 2
    # 1e30 / 1e-10 overflows float32 (max 3.4e38): refused, not an undefined conversion, and without
    # numpy's overflow warning on the way.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ModelError, match=r"^1e\+30 quantized with scale 1e-10 is out of range$"):
            quant.quantize_value(1e-10, 0, 1e30)


def test_quantize_value_accepts_the_float32_bounds_of_int32() -> None:
    # TFLM's Quantize: TF_LITE_ENSURE(tmp >= (float)INT32_MIN && tmp <= (float)INT32_MAX), and
    # (float)INT32_MAX rounds up to 2**31: both -2**31 and 2**31 pass, q = zero point + tmp.
    assert quant.quantize_value(1.0, 0, -(2.0**31)) == -(2**31)
    assert quant.quantize_value(1.0, 5, 2.0**31) == 5 + 2**31
    # the next float32 values out, 2**31 + 256 and -(2**31 + 256) (2.14748e+09 in %g): refused
    for value, text in ((2.0**31 + 256, "2.14748e+09"), (-(2.0**31 + 256), "-2.14748e+09")):
        message = rf"^{re.escape(text)} quantized with scale 1 overflows int32 \(TFLM refuses it\)$"
        with pytest.raises(ModelError, match=message):
            quant.quantize_value(1.0, 0, value)


@pytest.mark.parametrize(
    ("activation", "scale", "zero_point", "dtype", "expected"),
    [
        # scale 0.05, zero point -10: 0 -> -10, 6 -> 120 - 10, -1 -> -20 - 10, 1 -> 20 - 10
        ("NONE", 0.05, -10, np.int8, (-128, 127)),
        ("RELU", 0.05, -10, np.int8, (-10, 127)),
        ("RELU6", 0.05, -10, np.int8, (-10, 110)),
        ("RELU_N1_TO_1", 0.05, -10, np.int8, (-30, 10)),
        # scale 0.001: 6 -> 6000 and +-1 -> +-1000, clamped to int8 but not to int16
        ("RELU6", 0.001, 0, np.int8, (0, 127)),
        ("RELU_N1_TO_1", 0.001, 0, np.int8, (-128, 127)),
        ("RELU_N1_TO_1", 0.001, 0, np.int16, (-1000, 1000)),
        ("NONE", 0.001, 0, np.int16, (-32768, 32767)),
        # zero points outside the range: each bound is clamped on its own side only, as TFLM does
        ("RELU", 1.0, -200, np.int8, (-128, 127)),
        ("RELU6", 1.0, -200, np.int8, (-128, -194)),
        ("RELU6", 1.0, 200, np.int8, (200, 127)),
    ],
)
def test_activation_ranges_by_hand(
    activation: str, scale: float, zero_point: int, dtype: type, expected: tuple[int, int]
) -> None:
    assert quant.activation_range(activation, scale, zero_point, np.dtype(dtype)) == expected


def test_an_activation_without_a_quantized_range_is_named() -> None:
    with pytest.raises(ModelError, match=r"^fused activation TANH is not supported on quantized tensors$"):
        quant.activation_range("TANH", 0.1, 0, np.dtype(np.int8))
    # RELU6's 6 at scale 1e-9 is 6e9 in float32, beyond 2**31: the activation and the output are named
    message = r"^fused activation RELU6 on the output: 6 quantized with scale 1e-09 overflows int32 \(TFLM"
    with pytest.raises(ModelError, match=message):
        quant.activation_range("RELU6", 1e-9, 0, np.dtype(np.int8))


def test_float_activation_ranges() -> None:
    largest = np.float32(3.4028235e38)  # FLT_MAX
    assert quant.float_activation_range("NONE") == (-largest, largest)
    assert quant.float_activation_range("RELU") == (0.0, largest)
    assert quant.float_activation_range("RELU6") == (0.0, 6.0)
    assert quant.float_activation_range("RELU_N1_TO_1") == (-1.0, 1.0)
    assert quant.float_activation_range("TANH") == (-largest, largest)  # not a clamp: none
    assert all(type(bound) is np.float32 for bound in quant.float_activation_range("RELU6"))
