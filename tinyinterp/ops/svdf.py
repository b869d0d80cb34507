"""SVDF: int8 (int8 or int16 time weights and state) and float32.

Inputs: 0 input [batch, input_size], 1 feature weights [filters, input_size], 2 time weights
[filters, memory], 3 bias [units] (required: TFLM crashes without one), 4 the state, a variable
tensor [batch, filters * memory] that this op updates in place on every call. The int8 kernel
ignores the fused activation, as TFLM's does; the float32 one's TANH is the C library's tanhf, which
numba calls as TFLM does (bit-exact on the same platform).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyinterp.kernels.svdf import svdf_float, svdf_integer
from tinyinterp.model.ir import Tensor, TensorType
from tinyinterp.model.options import SVDFOptions
from tinyinterp.model.schema import ENUMS
from tinyinterp.ops.base import Array, Op, OpContext, register, required
from tinyinterp.quant import quantize_multiplier

INT8, INT16, INT32, FLOAT32 = TensorType.INT8, TensorType.INT16, TensorType.INT32, TensorType.FLOAT32
# TFLM's bound on |bias scale - state scale x time weights scale|.
MAX_BIAS_SCALE_MISMATCH = 1e-5


@register("SVDF", dtypes=("int8", "float32"))
class Svdf(Op):
    # The state rows are the model's batch: items of a run cannot share one call.
    batch_safe = False

    def __init__(self, ctx: OpContext[SVDFOptions]) -> None:
        ctx.expect_count(5)
        input_, feature, time, state, output = (
            ctx.input(0),
            ctx.input(1),
            ctx.input(2),
            ctx.input(4),
            ctx.output(),
        )
        bias = ctx.input(3)
        for tensor in (input_, feature, time, state, output):
            ctx.expect_rank(tensor, 2)
        batch, input_size = input_.shape
        filters, memory = time.shape
        self.rank = ctx.options.rank
        if self.rank <= 0 or filters % self.rank:
            ctx.fail(f"rank {self.rank} does not divide the {filters} filters")
        units = filters // self.rank
        ctx.expect_shape(feature, (filters, input_size))
        ctx.expect_shape(output, (batch, units))
        ctx.expect_shape(state, (batch, filters * memory))
        if not state.is_variable:
            ctx.fail(f"{ctx.describe(state)} (the state) must be a variable tensor")
        self.feature_weights = ctx.expect_constant(feature)
        self.time_weights = ctx.expect_constant(time)
        ctx.expect_dtype(input_, INT8, FLOAT32)
        if input_.dtype == FLOAT32:
            for tensor in (feature, time, state, output):
                ctx.expect_dtype(tensor, FLOAT32)
            self.bias = self._bias(ctx, bias, units, FLOAT32)
            self.activation = ENUMS["ActivationFunctionType"].index(ctx.options.fused_activation_function)
            return
        ctx.expect_dtype(feature, INT8)
        ctx.expect_dtype(time, INT8, INT16)
        ctx.expect_dtype(state, time.dtype)  # TFLM reads the state as the time weights' type
        ctx.expect_dtype(output, INT8)
        self.bias = self._bias(ctx, bias, units, INT32)
        self._quantize(ctx, input_, feature, time, bias, state, output)

    @staticmethod
    def _bias(ctx: OpContext, bias: Tensor, units: int, dtype: TensorType) -> Array:
        ctx.expect_dtype(bias, dtype)
        ctx.expect_shape(bias, (units,))
        return ctx.expect_constant(bias).astype(np.float32 if dtype == FLOAT32 else np.int64)

    def _quantize(
        self,
        ctx: OpContext,
        input_: Tensor,
        feature: Tensor,
        time: Tensor,
        bias: Tensor,
        state: Tensor,
        output: Tensor,
    ) -> None:
        """PrepareSvdf: both effective scales in double (checked against TFLM: float32 differs)."""
        (input_scale, self.input_zero_point), (feature_scale, _) = (
            ctx.quantization(input_),
            ctx.quantization(feature),
        )
        (state_scale, self.state_zero_point), (time_scale, _) = (
            ctx.quantization(state),
            ctx.quantization(time),
        )
        (output_scale, self.output_zero_point), (bias_scale, _) = (
            ctx.quantization(output),
            ctx.quantization(bias),
        )
        if abs(bias_scale - state_scale * time_scale) >= MAX_BIAS_SCALE_MISMATCH:
            ctx.fail(f"{ctx.describe(bias)} scale {bias_scale} is not state scale x time weights scale")
        self.feature_scale = quantize_multiplier(input_scale * feature_scale / state_scale)
        self.output_scale = quantize_multiplier(state_scale * time_scale / output_scale)
        info = np.iinfo(state.dtype.numpy)
        self.state_range = (int(info.min), int(info.max))

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x, state = required(inputs[0]), required(inputs[4])
        out = np.empty((x.shape[0], self.bias.size), np.float32 if x.dtype == np.float32 else np.int8)
        if x.dtype == np.float32:
            svdf_float(
                x, self.feature_weights, self.time_weights, self.bias, self.rank, self.activation, state, out
            )
            return [out]
        svdf_integer(
            x,
            self.feature_weights,
            self.time_weights,
            self.bias,
            self.rank,
            self.input_zero_point,
            self.state_zero_point,
            *self.feature_scale,
            *self.output_scale,
            self.output_zero_point,
            *self.state_range,
            state,
            out,
        )
        return [out]
