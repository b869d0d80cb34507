"""RESHAPE: the output tensor's shape, with the run's batch size in front."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyinterp.model.options import ReshapeOptions
from tinyinterp.ops.base import Array, Op, OpContext, batched_shape, register, required


@register("RESHAPE", dtypes=("int8", "int16", "float32"))
class Reshape(Op):
    def __init__(self, ctx: OpContext[ReshapeOptions]) -> None:
        ctx.expect_count((1, 2))
        input_, output = ctx.input(0), ctx.output()
        ctx.expect_dtype(output, input_.dtype)
        if int(np.prod(input_.shape)) != int(np.prod(output.shape)):
            ctx.fail(f"cannot reshape {list(input_.shape)} into {list(output.shape)}: element counts differ")
        self.in_shape, self.out_shape = input_.shape, output.shape

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = required(inputs[0])
        return [x.reshape(batched_shape(self.out_shape, x, self.in_shape))]
