"""ADD as TFLM computes it, on inputs already broadcast: int8 and int16 (reference_integer_ops::AddFunc
with 20 or 15 bits of headroom), float32."""

from __future__ import annotations

from tinyinterp.quant import clamp_float, jit, multiply_by_quantized_multiplier, wrap_int32


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
):
    """All arrays flat and of one length; `a`, `b` and `out` are int8, or all int16."""
    for i in range(out.size):
        shifted_a = wrap_int32((a[i] + a_offset) * (1 << left_shift))
        shifted_b = wrap_int32((b[i] + b_offset) * (1 << left_shift))
        scaled_a = multiply_by_quantized_multiplier(shifted_a, a_multiplier, a_shift)
        scaled_b = multiply_by_quantized_multiplier(shifted_b, b_multiplier, b_shift)
        raw_sum = wrap_int32(scaled_a + scaled_b)
        raw_out = multiply_by_quantized_multiplier(raw_sum, out_multiplier, out_shift) + out_offset
        out[i] = min(max(raw_out, act_min), act_max)


@jit
def add_float(a, b, act_min, act_max, out):
    """ADD in float32 on inputs already broadcast: clamp(a + b), flat arrays of one length."""
    for i in range(out.size):
        out[i] = clamp_float(a[i] + b[i], act_min, act_max)
