"""ADD, SUB and MUL as TFLM's reference kernels compute them, on flat operands already broadcast.

Quantized kernels take int8 or int16 arrays (one dtype per call) and clamp to the fused
activation's range; float32 kernels compute in float32 and clamp with `clamp_float`.
"""

from __future__ import annotations

from tinyinterp.jit import jit
from tinyinterp.kernels.fixedpoint import (
    clamp_float,
    multiply_by_quantized_multiplier,
    requantize_with,
    wrap_int32,
)


@jit
def mul_quantized(a, b, a_offset, b_offset, multiplier, shift, out_offset, act_min, act_max, out):
    """reference_integer_ops::MulElementwise: the product of the offset inputs, requantized."""
    for i in range(out.size):
        product = (a[i] + a_offset) * (b[i] + b_offset)  # at most 2**16 (int8) or 2**30 (int16)
        raw = wrap_int32(out_offset + multiply_by_quantized_multiplier(product, multiplier, shift))
        out[i] = min(max(raw, act_min), act_max)


@jit
def rescaled_input(x, offset, headroom, multiplier, shift, rounding):
    """An ADD / SUB input offset, shifted up by `headroom` and rescaled to twice the larger input scale."""
    return requantize_with(wrap_int32((x + offset) * headroom), multiplier, shift, rounding)


@jit
def add_sub_output(raw, multiplier, shift, out_offset, act_min, act_max, rounding):
    """The int32 sum or difference of two rescaled inputs, rescaled to the output and clamped."""
    scaled = requantize_with(wrap_int32(raw), multiplier, shift, rounding)
    return min(max(wrap_int32(scaled + out_offset), act_min), act_max)


@jit
def add_sub_quantized(
    a,
    b,
    subtract,
    a_offset,
    b_offset,
    left_shift,
    a_multiplier,
    a_shift,
    b_multiplier,
    b_shift,
    out_multiplier,
    out_shift,
    out_offset,
    act_min,
    act_max,
    out,
    rounding,
):
    """reference_integer_ops::AddElementwise, or SubElementwise when `subtract`: both inputs shifted up
    by `left_shift` bits of headroom and rescaled to twice the larger input scale, added or subtracted,
    then rescaled to the output. `rounding`: see fixedpoint.requantize_with (CMSIS-NN's
    arm_elementwise_add_s8 rounds each of the three requantizations as its arm_nn_requantize is built).
    The choice is made once, outside the loops (a choice per element costs ADD a tenth of its time).
    """
    headroom = 1 << left_shift
    output = (out_multiplier, out_shift, out_offset, act_min, act_max, rounding)
    if subtract:
        for i in range(out.size):
            scaled_a = rescaled_input(a[i], a_offset, headroom, a_multiplier, a_shift, rounding)
            scaled_b = rescaled_input(b[i], b_offset, headroom, b_multiplier, b_shift, rounding)
            out[i] = add_sub_output(scaled_a - scaled_b, *output)
    else:
        for i in range(out.size):
            scaled_a = rescaled_input(a[i], a_offset, headroom, a_multiplier, a_shift, rounding)
            scaled_b = rescaled_input(b[i], b_offset, headroom, b_multiplier, b_shift, rounding)
            out[i] = add_sub_output(scaled_a + scaled_b, *output)


@jit
def add_sub_float(a, b, subtract, act_min, act_max, out):
    """clamp(a + b), or clamp(a - b) when `subtract` (not a + (-b): a NaN's sign would differ)."""
    for i in range(out.size):
        out[i] = clamp_float(a[i] - b[i] if subtract else a[i] + b[i], act_min, act_max)


@jit
def mul_float(a, b, act_min, act_max, out):
    for i in range(out.size):
        out[i] = clamp_float(a[i] * b[i], act_min, act_max)
