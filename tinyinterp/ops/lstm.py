"""UNIDIRECTIONAL_SEQUENCE_LSTM: int8 and 16x8 (int8 weights; int16 cell state) and float32.

TFLM's kernel: no CIFG, peepholes, projection or layer normalization (those inputs must be absent),
a tanh cell gate, and per-tensor weights. Its quantized gates use fixed formats, Q3.12 sums and
Q0.15 activations, not the scales of the operator's intermediates (which it ignores, and so do we).
The hidden state (input 18) and cell state (input 19) are variable tensors this op updates in place.

Float32 results equal TFLM's to the bit where both call the same C library expf / tanhf (numba calls
the platform's, as TFLM's build does). One deliberate deviation from C++: a NaN cell state survives
cell clipping, as it does in TFLM's build (std::min / std::max would clip it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tinyinterp.kernels.lstm import lstm_float, lstm_integer
from tinyinterp.model.ir import Tensor, TensorType
from tinyinterp.model.options import UnidirectionalSequenceLSTMOptions
from tinyinterp.ops.base import Array, Op, OpContext, register, required
from tinyinterp.quant import checked_log2, quantize_multiplier

INT8, INT16, INT32, INT64, FLOAT32 = (
    TensorType.INT8,
    TensorType.INT16,
    TensorType.INT32,
    TensorType.INT64,
    TensorType.FLOAT32,
)
# Input indices per gate, in the kernel's order (forget, input, cell, output).
INPUT_WEIGHTS, RECURRENT_WEIGHTS, BIASES = (2, 1, 3, 4), (6, 5, 7, 8), (13, 12, 14, 15)
HIDDEN_STATE, CELL_STATE = 18, 19
UNSUPPORTED = {9: "peephole", 10: "peephole", 11: "peephole", 16: "projection", 17: "projection"}
UNSUPPORTED |= {k: "layer normalization" for k in range(20, 24)}
BIAS_DTYPES = {INT8: INT32, INT16: INT64, FLOAT32: FLOAT32}
GATE_SUM_SCALE = 2.0**-12  # Q3.12, the input of the gate activations
GATE_SCALE = 2.0**-15  # Q0.15, their output
MAX_TANH_LEFT_SHIFT = 31  # the largest shift of the cell state into tanh's Q3.12 input an int32 holds


@register("UNIDIRECTIONAL_SEQUENCE_LSTM", dtypes=("int8", "int16", "float32"))
class UnidirectionalSequenceLstm(Op):
    # Time-major inputs put time in dimension 0, and the states are the model's batch.
    batch_safe = False

    def __init__(self, ctx: OpContext[UnidirectionalSequenceLSTMOptions]) -> None:
        ctx.expect_count(24)
        input_, output = ctx.input(0), ctx.output()
        hidden, cell = ctx.input(HIDDEN_STATE), ctx.input(CELL_STATE)
        for index, part in UNSUPPORTED.items():
            if ctx.optional_input(index) is not None:
                ctx.fail(f"input {index} ({part}) is not supported by TFLM's LSTM")
        ctx.expect_dtype(input_, INT8, INT16, FLOAT32)
        for tensor in (output, hidden):
            ctx.expect_dtype(tensor, input_.dtype)
        ctx.expect_dtype(cell, FLOAT32 if input_.dtype == FLOAT32 else INT16)
        for state in (hidden, cell):
            if not state.is_variable:
                ctx.fail(f"{ctx.describe(state)} (a state) must be a variable tensor")
        if ctx.options.fused_activation_function != "TANH":
            ctx.fail(f"the cell gate activation must be TANH, got {ctx.options.fused_activation_function}")
        ctx.expect_rank(input_, 3)
        ctx.expect_rank(hidden, 2)
        self.time_major = ctx.options.time_major
        batch = input_.shape[1] if self.time_major else input_.shape[0]
        cells = hidden.shape[1]
        ctx.expect_shape(hidden, (batch, cells))
        ctx.expect_shape(cell, (batch, cells))
        ctx.expect_shape(output, (*input_.shape[:2], cells))
        self.dtype = input_.dtype
        self.input_weights = self._stack(ctx, INPUT_WEIGHTS, (cells, input_.shape[2]))
        self.recurrent_weights = self._stack(ctx, RECURRENT_WEIGHTS, (cells, cells))
        self.biases = self._stack(ctx, BIASES, (cells,))
        self.cell_clip = ctx.options.cell_clip
        if self.dtype != FLOAT32:
            self._quantize(ctx, input_, hidden, cell)

    def _stack(self, ctx: OpContext, indices: tuple[int, ...], shape: tuple[int, ...]) -> Array:
        """The four gates' constant weights (or biases) as one array, after checking each."""
        dtype = BIAS_DTYPES[self.dtype] if len(shape) == 1 else (FLOAT32 if self.dtype == FLOAT32 else INT8)
        arrays = []
        for index in indices:
            tensor = ctx.input(index)
            ctx.expect_dtype(tensor, dtype)
            ctx.expect_shape(tensor, shape)
            arrays.append(ctx.expect_constant(tensor))
        return np.stack(arrays).astype(np.float32 if self.dtype == FLOAT32 else np.int64)

    def _weight_scale(self, ctx: OpContext, index: int) -> float:
        tensor = ctx.input(index)
        if ctx.channel_scales(tensor).size != 1:
            ctx.fail(f"{ctx.describe(tensor)} must be quantized per tensor (TFLM's LSTM has no per-channel)")
        return ctx.quantization(tensor)[0]

    def _quantize(self, ctx: OpContext, input_: Tensor, hidden: Tensor, cell: Tensor) -> None:
        """PrepareGateParametersInteger: multipliers in double, from the fixed gate formats."""
        input_scale, input_zero_point = ctx.quantization(input_)
        hidden_scale, self.hidden_zero_point = ctx.quantization(hidden)
        cell_scale = ctx.quantization(cell)[0]
        self.input_offset, self.hidden_offset = -input_zero_point, -self.hidden_zero_point
        self.input_scales = np.array(
            [
                quantize_multiplier(input_scale * self._weight_scale(ctx, k) / GATE_SUM_SCALE)
                for k in INPUT_WEIGHTS
            ]
        )
        self.recurrent_scales = np.array(
            [
                quantize_multiplier(hidden_scale * self._weight_scale(ctx, k) / GATE_SUM_SCALE)
                for k in RECURRENT_WEIGHTS
            ]
        )
        self.mul_scales = np.array(
            [
                quantize_multiplier(GATE_SCALE * cell_scale / cell_scale),
                quantize_multiplier(GATE_SCALE * GATE_SCALE / cell_scale),
                quantize_multiplier(GATE_SCALE * GATE_SCALE / hidden_scale),
            ]
        )
        info = np.iinfo(hidden.dtype.numpy)
        self.hidden_range = (int(info.min), int(info.max))
        # The cell's tanh takes Q3.12 (multiplier 3 << shift): shift by the cell scale's power of two.
        left_shift = 15 + checked_log2(cell_scale)[1] - 3
        if left_shift > MAX_TANH_LEFT_SHIFT:  # C would shift an int32 out of range: undefined
            ctx.fail(f"cell state scale {cell_scale:g} is too large for the int16 tanh of the cell")
        self.cell_tanh = (3 << left_shift, 0) if left_shift >= 0 else (3, -left_shift)
        self.quantized_clip = math.trunc(min(max(self.cell_clip / cell_scale, -32768.0), 32767.0))

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x, hidden, cell = (required(inputs[k]) for k in (0, HIDDEN_STATE, CELL_STATE))
        out = np.empty((*x.shape[:2], hidden.shape[1]), x.dtype)
        # The kernel steps batch-major; a time-major layout is a view with the two axes swapped.
        x_view, out_view = (x.swapaxes(0, 1), out.swapaxes(0, 1)) if self.time_major else (x, out)
        if self.dtype == FLOAT32:
            weights = (self.input_weights, self.recurrent_weights, self.biases)
            lstm_float(x_view, *weights, np.float32(self.cell_clip), hidden, cell, out_view)
            return [out]
        lstm_integer(
            x_view,
            self.input_offset,
            self.input_weights,
            self.recurrent_weights,
            self.biases,
            self.input_scales,
            self.recurrent_scales,
            self.hidden_offset,
            self.dtype == INT16,
            self.mul_scales,
            self.hidden_zero_point,
            *self.hidden_range,
            self.cell_clip > 0,
            self.quantized_clip,
            self.cell_tanh,
            hidden,
            cell,
            out_view,
        )
        return [out]
