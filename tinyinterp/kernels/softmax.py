"""SOFTMAX as TFLM's reference_ops: int8 in (int8 or int16 out) in gemmlowp fixed point, int16 with
interpolated lookup tables, float32."""

from __future__ import annotations

import numpy as np

from tinyinterp.jit import jit
from tinyinterp.kernels.fixedpoint import (
    count_leading_zeros_u32,
    exp_f32,
    exp_on_negative_values,
    get_reciprocal,
    lut_lookup_int16,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_greater_than_one,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    wrap_int32,
)

SCALED_DIFF_INTEGER_BITS = 5
ACCUMULATION_INTEGER_BITS = 12
FLOAT32_LOWEST = np.float32(np.finfo(np.float32).min)


@jit
def softmax(x, input_multiplier, input_left_shift, diff_min, out_min, out_max, out_bits, out):
    """x and out are 2-D [rows, depth]; softmax runs along the last axis."""
    rows, depth = x.shape
    for r in range(rows):
        max_in_row = -128
        for c in range(depth):
            max_in_row = max(max_in_row, x[r, c])
        sum_of_exps = 0
        for c in range(depth):
            diff = x[r, c] - max_in_row
            if diff >= diff_min:
                rescaled = multiply_by_quantized_multiplier_greater_than_one(
                    diff, input_multiplier, input_left_shift
                )
                exp_value = exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS)
                sum_of_exps = wrap_int32(
                    sum_of_exps + rounding_divide_by_pot(exp_value, ACCUMULATION_INTEGER_BITS)
                )
        shifted_scale, num_bits_over_unit = get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS)
        exponent = num_bits_over_unit + 31 - out_bits
        for c in range(depth):
            diff = x[r, c] - max_in_row
            value = out_min
            if diff >= diff_min:
                rescaled = multiply_by_quantized_multiplier_greater_than_one(
                    diff, input_multiplier, input_left_shift
                )
                exp_value = exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS)
                unsat = rounding_divide_by_pot(
                    saturating_rounding_doubling_high_mul(shifted_scale, exp_value), exponent
                )
                value = min(max(unsat + out_min, out_min), out_max)
            out[r, c] = value


@jit
def softmax_int16(x, input_multiplier, input_shift, exp_lut, reciprocal_lut, out):
    """reference_ops::SoftmaxInt16: exp and 1 / (1 + x) by interpolated LUTs, output in Q0.15."""
    rows, depth = x.shape
    exps = np.empty(depth, np.int64)
    for r in range(rows):
        max_in_row = -32768
        for c in range(depth):
            max_in_row = max(max_in_row, x[r, c])
        sum_of_exps = 0
        for c in range(depth):
            # [-65535, 0] rescaled to [-10, 0], recentred on the LUT's [-32768, 32767]
            scaled = multiply_by_quantized_multiplier(x[r, c] - max_in_row, input_multiplier, input_shift)
            exps[c] = lut_lookup_int16(min(max(scaled + 32767, -32768), 32767), exp_lut)
            sum_of_exps = wrap_int32(sum_of_exps + exps[c])
        headroom_plus_one = count_leading_zeros_u32(sum_of_exps & 0xFFFFFFFF)
        shifted_sum = wrap_int32(((sum_of_exps << (headroom_plus_one - 1)) + (1 << 13)) >> 14)
        # 1 / (1 + x) of x = sum - 1, recentred from [0, 65535] on [-32768, 32767]
        centred = min(max(shifted_sum - (1 << 15) - (1 << 16), -32768), 32767)
        reciprocal = lut_lookup_int16(centred, reciprocal_lut)
        right_shift = 31 - headroom_plus_one
        for c in range(depth):
            result = (exps[c] * reciprocal + (1 << (right_shift - 1))) >> right_shift
            out[r, c] = min(max(wrap_int32(result), 0), 32767)


@jit
def softmax_float(x, beta, out):
    """reference_ops::Softmax in float32; exp is the C library's expf (see fixedpoint.exp_f32)."""
    rows, depth = x.shape
    for r in range(rows):
        max_in_row = FLOAT32_LOWEST
        for c in range(depth):
            max_in_row = x[r, c] if max_in_row < x[r, c] else max_in_row  # std::max keeps NaN out
        total = np.float32(0)
        for c in range(depth):
            value = exp_f32((x[r, c] - max_in_row) * beta)
            out[r, c] = value
            total += value
        for c in range(depth):
            out[r, c] = out[r, c] / total
