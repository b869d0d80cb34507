"""ADD (int8), with numpy broadcasting of the two inputs up to rank 6 as TFLM allows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyinterp.kernels.elementwise import add
from tinyinterp.model.ir import TensorType
from tinyinterp.ops.base import Array, Op, OpContext, register
from tinyinterp.quant import activation_range, quantize_multiplier_smaller_than_one

MAX_BROADCAST_RANK = 6
INT8_LEFT_SHIFT = 20


@register("ADD", dtypes=("int8",))
class Add(Op):
    def __init__(self, ctx: OpContext) -> None:
        ctx.expect_count(2)
        a, b, output = ctx.input(0), ctx.input(1), ctx.output()
        for tensor in (a, b, output):
            ctx.expect_dtype(tensor, TensorType.INT8)
            if len(tensor.shape) > MAX_BROADCAST_RANK:
                ctx.fail(f"{ctx.describe(tensor)} has rank {len(tensor.shape)}, at most 6 is supported")
        try:
            broadcast = np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            ctx.fail(f"shapes {list(a.shape)} and {list(b.shape)} do not broadcast")
        ctx.expect_shape(output, broadcast)
        (a_scale, a_zero), (b_scale, b_zero) = ctx.quantization(a), ctx.quantization(b)
        out_scale, self.out_offset = ctx.quantization(output)
        # CalculateOpDataAdd: both inputs rescaled to twice the larger scale, with 20 bits of headroom.
        twice_max = 2 * float(max(np.float32(a_scale), np.float32(b_scale)))
        self.a_offset, self.b_offset = -a_zero, -b_zero
        self.a_mult = quantize_multiplier_smaller_than_one(a_scale / twice_max, f"ADD {ctx.op.index} input 0")
        self.b_mult = quantize_multiplier_smaller_than_one(b_scale / twice_max, f"ADD {ctx.op.index} input 1")
        self.out_mult = quantize_multiplier_smaller_than_one(
            twice_max / ((1 << INT8_LEFT_SHIFT) * out_scale), f"ADD {ctx.op.index} output"
        )
        self.act_min, self.act_max = activation_range(
            ctx.option("fused_activation_function", "NONE"), out_scale, self.out_offset, np.int8
        )

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        a, b = np.broadcast_arrays(inputs[0], inputs[1])
        out = np.empty(a.shape, np.int8)
        add(
            np.ascontiguousarray(a).reshape(-1),
            np.ascontiguousarray(b).reshape(-1),
            self.a_offset,
            self.b_offset,
            INT8_LEFT_SHIFT,
            *self.a_mult,
            *self.b_mult,
            *self.out_mult,
            self.out_offset,
            self.act_min,
            self.act_max,
            out.reshape(-1),
        )
        return [out]
