"""LOGISTIC, TANH, LEAKY_RELU, HARD_SWISH, PRELU and float RELU / RELU6, as TFLM's reference kernels.

int8 LOGISTIC / TANH run gemmlowp's fixed-point functions on Q4.27 inputs; int16 ones interpolate
TFLM's 256-entry sigmoid table. Float kernels compute in float32, calling the C library's expf /
tanhf through numba as TFLM calls std::exp / std::tanh (numpy's own exp and tanh differ by an ULP).
"""

from __future__ import annotations

import math

import numpy as np

from tinyinterp.jit import jit
from tinyinterp.kernels.fixedpoint import (
    clamp_float,
    exp_f32,
    logistic_q0_31,
    multiply_by_quantized_multiplier,
    rounding_divide_by_pot,
    rounding_divide_by_pot_int16,
    saturating_rounding_doubling_high_mul_int16,
    tanh_q0_31,
    wrap_int16,
    wrap_int32,
)

# sigmoid(i / 24) in Q0.16 for i = 0..255, TFLM's sigmoid_table_uint16 (kernels/internal/common.h),
# shared by int16 LOGISTIC and TANH (tanh(x) = 2 sigmoid(2x) - 1). Not a rounding of sigmoid: copied.
SIGMOID_TABLE = np.array([
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794,
    41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443,
    48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169, 53581, 53983, 54374,
    54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544,
    58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279,
    61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990,
    63090, 63186, 63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030,
    64090, 64148, 64204, 64257, 64308, 64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652,
    64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019,
    65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234,
    65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360,
    65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476,
    65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498, 65500, 65501,
    65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516,
    65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529,
    65529, 65530, 65530, 65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532,
    65532, 65532, 65532, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65534, 65534,
    65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535
], dtype=np.int64)  # fmt: skip

F32_0, F32_1, F32_3, F32_6 = np.float32(0.0), np.float32(1.0), np.float32(3.0), np.float32(6.0)
# reference_ops::Logistic (float): above this the result is 1, below -9 it is exp(x).
LOGISTIC_CUTOFF_UPPER, LOGISTIC_CUTOFF_LOWER = np.float32(16.619047164916992188), np.float32(-9.0)


@jit
def sigmoid_family_int8(x, zero_point, radius, multiplier, left_shift, is_tanh, out):
    """reference_integer_ops::Logistic / Tanh on int8: inputs beyond the radius saturate, others go
    to Q4.27 and through gemmlowp's logistic (output zero point -128, scale 1/256) or tanh (0, 1/128)."""
    out_shift, out_offset = (24, 0) if is_tanh else (23, -128)
    for i in range(x.size):
        centered = x[i] - zero_point
        if centered <= -radius:
            out[i] = -128
        elif centered >= radius:
            out[i] = 127
        else:
            q4 = multiply_by_quantized_multiplier(centered, multiplier, left_shift)
            q0 = tanh_q0_31(q4, 4) if is_tanh else logistic_q0_31(q4, 4)
            out[i] = min(max(rounding_divide_by_pot(q0, out_shift) + out_offset, -128), 127)


@jit
def _sigmoid_table_read(magnitude, fraction_bits, saturated):
    """The table at magnitude / 2**fraction_bits, interpolated linearly (unsigned, as TFLM), in
    Q0.(16 + fraction_bits); `saturated` from the last entry on."""
    index = magnitude >> fraction_bits
    if index >= 255:
        return saturated
    low, high = SIGMOID_TABLE[index], SIGMOID_TABLE[index + 1]
    return (low << fraction_bits) + (magnitude & ((1 << fraction_bits) - 1)) * (high - low)


@jit
def logistic_int16(x, multiplier, left_shift, out):
    """reference_integer_ops::Logistic on int16: x rescaled so that 2**17 is 32/3, the table read
    at |x| / 2**9 (steps of 1/24), mirrored for x < 0; output in Q0.15."""
    rounding = (1 << (left_shift - 1)) if left_shift > 0 else 0
    for i in range(x.size):
        value = (x[i] * multiplier + rounding) >> left_shift
        result = _sigmoid_table_read(abs(value), 9, 0x7FFF << 10)
        result = result + (1 << 9) if value >= 0 else (1 << 25) - result + (1 << 9) - 1
        out[i] = result >> 10


@jit
def tanh_int16(x, multiplier, left_shift, out):
    """reference_integer_ops::Tanh on int16: 2 * sigmoid(2x) - 1 from the same table, read at
    |x| / 2**8; output in Q0.15."""
    rounding = (1 << (left_shift - 1)) if left_shift > 0 else 0
    for i in range(x.size):
        value = (x[i] * multiplier + rounding) >> left_shift
        result = _sigmoid_table_read(abs(value), 8, 0xFFFF << 8)
        result = result - (1 << 23) + (1 << 7) if value >= 0 else -result + (1 << 23) + (1 << 7) - 1
        out[i] = result >> 8


@jit
def logistic_float(x, out):
    """reference_ops::Logistic: 1 / (1 + exp(-x)) in float32, with TFLM's cut-offs."""
    for i in range(x.size):
        value = x[i]
        if value > LOGISTIC_CUTOFF_UPPER:
            out[i] = F32_1
        elif value < LOGISTIC_CUTOFF_LOWER:
            out[i] = exp_f32(value)
        else:
            out[i] = F32_1 / (F32_1 + exp_f32(-value))


@jit
def tanh_float(x, out):
    for i in range(x.size):
        out[i] = math.tanh(x[i])  # float32 in, so numba calls tanhf


@jit
def clamp_floats(x, low, high, out):
    """Float RELU (low 0, high inf) and RELU6 (0, 6): NaN and -0.0 pass through as in TFLM."""
    for i in range(x.size):
        out[i] = clamp_float(x[i], low, high)


@jit
def leaky_relu_quantized(
    x, input_zero_point, identity_multiplier, identity_shift, alpha_multiplier, alpha_shift,
    alpha_negative, output_zero_point, low, high, out,
):  # fmt: skip
    """reference_ops::QuantizeLeakyRelu: inputs >= the zero point rescaled by the identity
    multiplier, the others by |alpha|'s, negated for a negative alpha."""
    for i in range(x.size):
        value = x[i] - input_zero_point
        if value >= 0:
            rescaled = multiply_by_quantized_multiplier(value, identity_multiplier, identity_shift)
        else:
            rescaled = multiply_by_quantized_multiplier(value, alpha_multiplier, alpha_shift)
            rescaled = -rescaled if alpha_negative else rescaled
        out[i] = min(max(wrap_int32(output_zero_point + rescaled), low), high)


@jit
def leaky_relu_float(x, alpha, out):
    for i in range(x.size):
        value = x[i]
        out[i] = value if value > F32_0 else value * alpha


@jit
def _saturating_left_shift_int16(value, amount):
    return min(max(value * (1 << amount), -32768), 32767)


@jit
def _saturating_doubling_high_mul_int16(a, b):
    """SQDMULH on int16: a * b / 2**15 truncated toward zero (no rounding), -1 * -1 saturated."""
    if a == b and a == -32768:
        return 32767
    product = a * b
    return product // 32768 if product >= 0 else -((-product) // 32768)


@jit
def hard_swish_int8(
    x, input_zero_point, output_zero_point, output_multiplier, output_exponent, reluish_multiplier,
    reluish_exponent, out,
):  # fmt: skip
    """reference_ops::HardSwish on int8, in int16 fixed point: x * relu6(x + 3) / 6 as the input on a
    high-resolution scale (x 2**7), times a "reluish" factor in [0, 1] (x on the scale where 3 is
    2**15, shifted to [0, 1]), then the output shift. Multipliers are Q0.15."""
    for i in range(x.size):
        hires_input = (x[i] - input_zero_point) * 128  # |x - zero point| <= 255 fits int16 shifted by 7
        preshift_output = saturating_rounding_doubling_high_mul_int16(hires_input, output_multiplier)
        reluish = hires_input
        if reluish_exponent > 0:  # all but the last bit of a left shift, whose saturation counts
            reluish = _saturating_left_shift_int16(reluish, reluish_exponent - 1)
        reluish = saturating_rounding_doubling_high_mul_int16(reluish, reluish_multiplier)
        if reluish_exponent > 0:
            reluish = _saturating_left_shift_int16(reluish, 1)
        if reluish_exponent < 0:
            reluish = rounding_divide_by_pot_int16(reluish, -reluish_exponent)
        reluish = (reluish + (1 << 15)) >> 1
        preshift = _saturating_doubling_high_mul_int16(reluish, preshift_output)
        # Adding the zero point happens in int16 and may wrap, before the clamp to int8.
        output = wrap_int16(rounding_divide_by_pot_int16(preshift, -output_exponent) + output_zero_point)
        out[i] = min(max(output, -128), 127)


@jit
def hard_swish_float(x, out):
    """x * min(6, max(0, x + 3)) / 6 in float32, with std::max / std::min's NaN behaviour."""
    for i in range(x.size):
        value = x[i]
        shifted = value + F32_3
        relu = shifted if shifted > F32_0 else F32_0
        relu6 = relu if relu < F32_6 else F32_6
        out[i] = value * relu6 / F32_6


@jit
def prelu_quantized(
    x, alpha, input_offset, alpha_offset, identity_multiplier, identity_shift, alpha_multiplier,
    alpha_shift, output_offset, low, high, out,
):  # fmt: skip
    """reference_ops::BroadcastPrelu4DSlow's element: x or x * alpha (offsets added), requantized."""
    for i in range(x.size):
        value = input_offset + x[i]
        if value >= 0:
            rescaled = multiply_by_quantized_multiplier(value, identity_multiplier, identity_shift)
        else:
            product = value * (alpha_offset + alpha[i])
            rescaled = multiply_by_quantized_multiplier(product, alpha_multiplier, alpha_shift)
        out[i] = min(max(wrap_int32(rescaled + output_offset), low), high)


@jit
def prelu_float(x, alpha, out):
    for i in range(x.size):
        value = x[i]
        out[i] = value if value >= F32_0 else value * alpha[i]
