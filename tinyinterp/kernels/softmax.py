"""SOFTMAX, int8 in and int8 out, as TFLM's reference_ops::Softmax (gemmlowp fixed point)."""

from __future__ import annotations

from tinyinterp.quant import (
    exp_on_negative_values,
    get_reciprocal,
    jit,
    multiply_by_quantized_multiplier_greater_than_one,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    wrap_int32,
)

SCALED_DIFF_INTEGER_BITS = 5
ACCUMULATION_INTEGER_BITS = 12


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
