"""ADD (int8, int16, float32), with numpy broadcasting of the two inputs up to rank 6 as TFLM allows.

TFLM's int16 ADD is the general-scale kernel of int8 with 15 bits of headroom instead of 20: it
ignores the `pot_scale_int16` option (its power-of-two kernel is never called), and so do we.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tinyinterp.kernels.elementwise import add, add_float
from tinyinterp.model.ir import TensorType
from tinyinterp.model.options import AddOptions
from tinyinterp.ops.base import Array, Op, OpContext, register, required
from tinyinterp.quant import activation_range, float_activation_range, quantize_multiplier_smaller_than_one

MAX_BROADCAST_RANK = 6
LEFT_SHIFT = {TensorType.INT8: 20, TensorType.INT16: 15}


@register("ADD", dtypes=("int8", "int16", "float32"))
class Add(Op):
    # The fused activation's clamp: float32 bounds on float32, quantized bounds otherwise.
    act_min: np.float32 | int
    act_max: np.float32 | int

    def __init__(self, ctx: OpContext[AddOptions]) -> None:
        ctx.expect_count(2)
        a, b, output = ctx.input(0), ctx.input(1), ctx.output()
        ctx.expect_dtype(output, TensorType.INT8, TensorType.INT16, TensorType.FLOAT32)
        for tensor in (a, b, output):
            ctx.expect_dtype(tensor, output.dtype)
            if len(tensor.shape) > MAX_BROADCAST_RANK:
                ctx.fail(f"{ctx.describe(tensor)} has rank {len(tensor.shape)}, at most 6 is supported")
        try:
            broadcast = np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            ctx.fail(f"shapes {list(a.shape)} and {list(b.shape)} do not broadcast")
        ctx.expect_shape(output, broadcast)
        # A lower-rank input would broadcast a batch of items along the wrong axis: run item by item.
        self.batch_safe = len(a.shape) == len(b.shape)
        self.dtype = output.dtype.numpy
        activation = ctx.options.fused_activation_function
        if output.dtype == TensorType.FLOAT32:
            self.act_min, self.act_max = float_activation_range(activation)
            return
        self.left_shift = LEFT_SHIFT[output.dtype]
        self.rounding = ctx.rounding
        (a_scale, a_zero), (b_scale, b_zero) = ctx.quantization(a), ctx.quantization(b)
        out_scale, self.out_offset = ctx.quantization(output)
        # CalculateOpDataAdd: both inputs rescaled to twice the larger scale, with headroom bits.
        twice_max = 2 * float(max(np.float32(a_scale), np.float32(b_scale)))
        self.a_offset, self.b_offset = -a_zero, -b_zero
        self.a_mult = quantize_multiplier_smaller_than_one(a_scale / twice_max, f"ADD {ctx.op.index} input 0")
        self.b_mult = quantize_multiplier_smaller_than_one(b_scale / twice_max, f"ADD {ctx.op.index} input 1")
        self.out_mult = quantize_multiplier_smaller_than_one(
            twice_max / ((1 << self.left_shift) * out_scale), f"ADD {ctx.op.index} output"
        )
        self.act_min, self.act_max = activation_range(activation, out_scale, self.out_offset, self.dtype)

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        a, b = required(inputs[0]), required(inputs[1])
        shape = np.broadcast_shapes(a.shape, b.shape)
        out = np.empty(shape, self.dtype)
        a_flat, b_flat = _flat(a, shape), _flat(b, shape)
        if self.dtype == np.float32:
            add_float(a_flat, b_flat, self.act_min, self.act_max, out.reshape(-1))
            return [out]
        add(
            a_flat,
            b_flat,
            self.a_offset,
            self.b_offset,
            self.left_shift,
            *self.a_mult,
            *self.b_mult,
            *self.out_mult,
            self.out_offset,
            self.act_min,
            self.act_max,
            out.reshape(-1),
            self.rounding,
        )
        return [out]


def _flat(x: Array, shape: tuple[int, ...]) -> Array:
    """`x` broadcast to `shape`, as a flat contiguous array (a copy only when values repeat: numba
    must not see numpy's read-only broadcast views)."""
    if x.size == math.prod(shape):
        return np.ascontiguousarray(x).reshape(-1)
    return np.broadcast_to(x, shape).reshape(-1)
