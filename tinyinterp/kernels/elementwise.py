"""ADD as TFLM computes it, on inputs already broadcast: int8 and int16 (reference_integer_ops::AddFunc
with 20 or 15 bits of headroom), float32."""

from __future__ import annotations

from tinyinterp.jit import jit
from tinyinterp.kernels.fixedpoint import clamp_float, requantize_with, wrap_int32


@jit
def add(
    a,
    b,
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
    rounding=0,
):
    """All arrays flat and of one length; `a`, `b` and `out` are int8, or all int16. `rounding`: see
    fixedpoint.requantize_with (0, TFLM's, by default; CMSIS-NN's arm_elementwise_add_s8 rounds each of the
    three requantizations as its arm_nn_requantize is built)."""
    for i in range(out.size):
        shifted_a = wrap_int32((a[i] + a_offset) * (1 << left_shift))
        shifted_b = wrap_int32((b[i] + b_offset) * (1 << left_shift))
        scaled_a = requantize_with(shifted_a, a_multiplier, a_shift, rounding)
        scaled_b = requantize_with(shifted_b, b_multiplier, b_shift, rounding)
        raw_sum = wrap_int32(scaled_a + scaled_b)
        raw_out = requantize_with(raw_sum, out_multiplier, out_shift, rounding) + out_offset
        out[i] = min(max(raw_out, act_min), act_max)


@jit
def add_float(a, b, act_min, act_max, out):
    """ADD in float32 on inputs already broadcast: clamp(a + b), flat arrays of one length."""
    for i in range(out.size):
        out[i] = clamp_float(a[i] + b[i], act_min, act_max)
