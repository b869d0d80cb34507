"""SVDF as TFLM's svdf_common.cc computes it, the state (a variable tensor) updated in place.

Each invoke shifts the whole state buffer one step to the left, writes the new feature activations
into the last memory slot of each filter, then filters the memory with the time weights and sums
`rank` filters per unit. The state is [batch, filters * memory].
"""

from __future__ import annotations

import math

import numpy as np

from tinyinterp.jit import jit
from tinyinterp.kernels.fixedpoint import multiply_by_quantized_multiplier, wrap_int32

# Fused activations of the float kernel, by their schema index (ActivationValFloat).
NONE, RELU, RELU_N1_TO_1, RELU6, TANH, SIGN_BIT = range(6)


@jit
def _shift_state(state):
    flat = state.reshape(-1)
    for i in range(flat.size - 1):
        flat[i] = flat[i + 1]


@jit
def _fmax(a, b):
    """std::fmax for the values SVDF can meet: a NaN operand yields the other."""
    if a != a:
        return b
    if b != b:
        return a
    return a if a > b else b


@jit
def _activation(activation, a):
    """ActivationValFloat: TfLiteMax / TfLiteMin are fmax / fmin, so NaN clamps to the bounds."""
    if activation == RELU:
        return _fmax(np.float32(0), a)
    if activation == RELU_N1_TO_1:
        return _fmax(np.float32(-1), -_fmax(-a, np.float32(-1)))
    if activation == RELU6:
        return _fmax(np.float32(0), -_fmax(-a, np.float32(-6)))
    if activation == TANH:
        return math.tanh(a)
    if activation == SIGN_BIT:
        return np.float32(1) if math.copysign(1.0, a) < 0 else np.float32(0)
    return a


@jit
def svdf_float(x, weights_feature, weights_time, bias, rank, activation, state, out):
    batches, input_size = x.shape
    filters, memory = weights_time.shape
    units = filters // rank
    _shift_state(state)
    for b in range(batches):
        for f in range(filters):
            dot = np.float32(0)
            for k in range(input_size):
                dot += weights_feature[f, k] * x[b, k]
            state[b, f * memory + memory - 1] = dot
    for b in range(batches):
        for u in range(units):
            total = bias[u]
            for r in range(rank):
                f = u * rank + r
                filtered = np.float32(0)
                for j in range(memory):
                    filtered += weights_time[f, j] * state[b, f * memory + j]
                total += filtered
            out[b, u] = _activation(activation, total)


@jit
def svdf_integer(
    x,
    weights_feature,
    weights_time,
    bias,
    rank,
    input_zero_point,
    state_zero_point,
    feature_multiplier,
    feature_shift,
    output_multiplier,
    output_shift,
    output_zero_point,
    state_min,
    state_max,
    state,
    out,
):
    """EvalIntegerSvdfReference: int8 input and output, int8 or int16 time weights and state (whose
    range is [state_min, state_max]).

    The int32 sums wrap as TFLM's do; the state stores zero point + clamped value in its own
    type, wrapping (a C cast) when the zero point pushes it out of range.
    """
    batches, input_size = x.shape
    filters, memory = weights_time.shape
    units = filters // rank
    state_span = state_max - state_min + 1
    _shift_state(state)
    for b in range(batches):
        for f in range(filters):
            dot = 0
            for k in range(input_size):
                dot += np.int64(weights_feature[f, k]) * (x[b, k] - input_zero_point)
            dot = multiply_by_quantized_multiplier(wrap_int32(dot), feature_multiplier, feature_shift)
            value = state_zero_point + min(max(dot, state_min), state_max)
            state[b, f * memory + memory - 1] = (value - state_min) % state_span + state_min
    for b in range(batches):
        for u in range(units):
            total = bias[u]
            for r in range(rank):
                f = u * rank + r
                for j in range(memory):
                    total += np.int64(weights_time[f, j]) * (state[b, f * memory + j] - state_zero_point)
            scaled = multiply_by_quantized_multiplier(wrap_int32(total), output_multiplier, output_shift)
            out[b, u] = min(max(scaled + output_zero_point, -128), 127)
