"""UNIDIRECTIONAL_SEQUENCE_LSTM as TFLM's lstm_eval.h steps it, states updated in place.

Gates are stacked in the order FORGET, INPUT, CELL, OUTPUT. Each step, per batch row:
gate = activation(FC(x) + FC(hidden)) (sigmoid; tanh for the cell gate),
cell = forget * cell + input * cell_gate (clipped if asked), hidden = tanh(cell) * output.

The integer kernel (int8 or int16 activations, int16 cell) keeps TFLM's fixed formats: gate sums
in Q3.12, gate activations in Q0.15, and every product through an int16 MulElementwise.
"""

from __future__ import annotations

import numpy as np

from tinyinterp.jit import jit
from tinyinterp.kernels.activations import logistic_float, logistic_int16, tanh_float, tanh_int16
from tinyinterp.kernels.fixedpoint import (
    clamp_float,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    wrap_int32,
)

FORGET, INPUT, CELL, OUTPUT = range(4)
FLOAT32_MAX = np.float32(np.finfo(np.float32).max)


@jit
def _fc_int(x, offset, weights, bias, multiplier, shift, wide, out):
    """reference_integer_ops::FullyConnected into int16 (Q3.12): 32-bit sums (wrapping) and multiplier
    for int8 activations, 64-bit ones for int16 (`wide`)."""
    for c in range(weights.shape[0]):
        acc = bias[c]
        for d in range(weights.shape[1]):
            acc += np.int64(weights[c, d]) * (x[d] + offset)
        if wide:
            scaled = multiply_by_quantized_multiplier_int64(acc, multiplier, shift)
        else:
            scaled = multiply_by_quantized_multiplier(wrap_int32(acc), multiplier, shift)
        out[c] = min(max(scaled, -32768), 32767)


@jit
def _mul_int16(a, b, multiplier, shift, offset, low, high, out):
    """reference_integer_ops::MulElementwise of two int16 vectors (zero points 0)."""
    for i in range(out.size):
        scaled = multiply_by_quantized_multiplier(np.int64(a[i]) * b[i], multiplier, shift)
        out[i] = min(max(scaled + offset, low), high)


@jit
def _add_int16(a, b, out):
    """AddElementWise: a saturating int16 sum."""
    for i in range(out.size):
        out[i] = min(max(np.int64(a[i]) + b[i], -32768), 32767)


@jit
def lstm_integer(
    x,
    input_offset,
    input_weights,
    recurrent_weights,
    biases,
    input_scales,
    recurrent_scales,
    hidden_offset,
    wide,
    mul_scales,
    hidden_zero_point,
    hidden_min,
    hidden_max,
    clipping,
    cell_clip,
    cell_tanh,
    hidden,
    cell,
    out,
):
    """x [batch, time, input] (batch major); input / recurrent weights [4, cells, input / cells];
    biases [4, cells]; *_scales [4, 2] (multiplier, shift); mul_scales [3, 2] for forget x cell,
    input x cell gate and tanh(cell) x output; cell_clip the quantized clip (used if `clipping`);
    cell_tanh the (multiplier, right shift) of the cell's tanh; hidden and cell [batch, cells],
    updated in place."""
    batches, steps, _ = x.shape
    cells = hidden.shape[1]
    gates = np.empty((4, cells), np.int16)
    recurrent = np.empty(cells, np.int16)
    product = np.empty(cells, np.int16)
    no_bias = np.zeros(cells, np.int64)
    for b in range(batches):
        for t in range(steps):
            for g in range(4):
                _fc_int(
                    x[b, t],
                    input_offset,
                    input_weights[g],
                    biases[g],
                    input_scales[g, 0],
                    input_scales[g, 1],
                    wide,
                    gates[g],
                )
                _fc_int(
                    hidden[b],
                    hidden_offset,
                    recurrent_weights[g],
                    no_bias,
                    recurrent_scales[g, 0],
                    recurrent_scales[g, 1],
                    wide,
                    recurrent,
                )
                _add_int16(gates[g], recurrent, gates[g])
                # Q3.12 in, so both take TFLM's power-of-two multiplier 3 << (15 - 12 - 3)
                if g == CELL:
                    tanh_int16(gates[g], 3, 0, gates[g])
                else:
                    logistic_int16(gates[g], 3, 0, gates[g])
            _mul_int16(gates[FORGET], cell[b], mul_scales[0, 0], mul_scales[0, 1], 0, -32768, 32767, cell[b])
            _mul_int16(
                gates[INPUT], gates[CELL], mul_scales[1, 0], mul_scales[1, 1], 0, -32768, 32767, product
            )
            _add_int16(cell[b], product, cell[b])
            if clipping:
                for i in range(cells):
                    cell[b, i] = max(min(cell[b, i], cell_clip), -cell_clip)
            tanh_int16(cell[b], cell_tanh[0], cell_tanh[1], product)
            _mul_int16(
                product,
                gates[OUTPUT],
                mul_scales[2, 0],
                mul_scales[2, 1],
                hidden_zero_point,
                hidden_min,
                hidden_max,
                hidden[b],
            )
            out[b, t] = hidden[b]


@jit
def _fc_float(x, weights, bias, out):
    """reference_ops::FullyConnected without activation: the sum in d order, clamped to the float
    range (an infinite sum becomes FLT_MAX, as in TFLM)."""
    for c in range(weights.shape[0]):
        total = np.float32(0)
        for d in range(weights.shape[1]):
            total += x[d] * weights[c, d]
        out[c] = clamp_float(total + bias[c], -FLOAT32_MAX, FLOAT32_MAX)


@jit
def _mul_float(a, b, out):
    for i in range(out.size):
        out[i] = clamp_float(a[i] * b[i], -FLOAT32_MAX, FLOAT32_MAX)


@jit
def lstm_float(x, input_weights, recurrent_weights, biases, cell_clip, hidden, cell, out):
    """The float32 LSTM, shapes as lstm_integer's; cell_clip 0 for none."""
    batches, steps, _ = x.shape
    cells = hidden.shape[1]
    gates = np.empty((4, cells), np.float32)
    recurrent = np.empty(cells, np.float32)
    product = np.empty(cells, np.float32)
    no_bias = np.zeros(cells, np.float32)
    for b in range(batches):
        for t in range(steps):
            for g in range(4):
                _fc_float(x[b, t], input_weights[g], biases[g], gates[g])
                _fc_float(hidden[b], recurrent_weights[g], no_bias, recurrent)
                for i in range(cells):
                    gates[g, i] += recurrent[i]
                if g == CELL:
                    tanh_float(gates[g], gates[g])
                else:
                    logistic_float(gates[g], gates[g])
            _mul_float(gates[FORGET], cell[b], cell[b])
            _mul_float(gates[INPUT], gates[CELL], product)
            for i in range(cells):
                cell[b, i] += product[i]
                # std::max(std::min(clip, c), -clip), though TFLM's build lets a NaN through
                # (found against TFLM: C++'s semantics would make it clip)
                if cell_clip > 0 and cell[b, i] == cell[b, i]:
                    cell[b, i] = max(min(cell[b, i], cell_clip), -cell_clip)
            tanh_float(cell[b], product)
            _mul_float(product, gates[OUTPUT], hidden[b])
            out[b, t] = hidden[b]
