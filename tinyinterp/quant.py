"""Prepare-time fixed-point helpers, exactly as TFLM computes them: plain Python that runs once per
model (quantize a real multiplier, activation ranges, lookup tables), following
tensorflow/lite/kernels/internal/quantization_util.cc and kernel_util.cc. The run-time primitives the
kernels call are jitted in `tinyinterp/kernels/fixedpoint.py`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import SupportsFloat

import numpy as np

from tinyinterp.errors import ModelError

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
MAX_MULTIPLIER = 2.0**62

# ----------------------------------------------------------------------------------------
# Quantized multipliers and activation ranges


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
    rounded = int(round_half_away(float(quotient)))
    if not INT32_MIN <= rounded <= -INT32_MIN:  # TF_LITE_ENSURE: the float32 bounds of int32
        raise ModelError(f"{value:g} quantized with scale {scale:g} overflows int32 (TFLM refuses it)")
    return int(zero_point) + rounded


ACTIVATIONS = ("NONE", "RELU", "RELU_N1_TO_1", "RELU6")


def activation_range(activation: str, scale: float, zero_point: int, dtype: np.dtype) -> tuple[int, int]:
    """CalculateActivationRangeQuantized: the fused activation as an output clamp."""
    info = np.iinfo(dtype)
    qmin, qmax = int(info.min), int(info.max)
    if activation == "NONE":
        return qmin, qmax
    bounds = {"RELU": (0.0, None), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}
    if activation not in bounds:
        raise ModelError(f"fused activation {activation} is not supported on quantized tensors")
    low, high = bounds[activation]

    def quantized(value: float) -> int:
        try:
            return quantize_value(scale, zero_point, value)
        except ModelError as error:
            raise ModelError(f"fused activation {activation} on the output: {error}") from None

    return max(qmin, quantized(low)), qmax if high is None else min(qmax, quantized(high))


# ----------------------------------------------------------------------------------------
# Float kernels


def float_activation_range(activation: str) -> tuple[np.float32, np.float32]:
    """CalculateActivationRange<float>: the fused activation as a float32 clamp (others: none)."""
    limit = float(np.finfo(np.float32).max)
    ranges = {"RELU": (0.0, limit), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}
    low, high = ranges.get(activation, (-limit, limit))
    return np.float32(low), np.float32(high)


# ----------------------------------------------------------------------------------------
# LOGISTIC / TANH / HARD_SWISH (quantization_util.cc, common.h)


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
# Int16 lookup tables with interpolation (common.h LUTPopulate<int16_t> / LUTLookup)

INT16_LUT_SIZE = 513  # 512 segments and the end point their slope needs


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
