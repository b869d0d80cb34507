"""The dated CMSIS-NN arena layouts of `tinyinterp.suite.replay`, piece by piece, against values worked out
by hand from CMSIS-NN's get_buffer_size functions of 2020-2021 and its im2col and pooling loops (the module
docstring): the published performance logs (test_validate_log.py) reach only the reference models' shapes,
which are square and whose CONV_2D and DEPTHWISE_CONV_2D buffers never overlap the input."""

from __future__ import annotations

import numpy as np
import pytest

from tinyinterp.model import ModelBuilder
from tinyinterp.model.ir import Operator, Subgraph
from tinyinterp.suite.replay import CmsisNn, _cmsis_layout, _cmsis_scratch, _patch, _window_start

Q = {"scale": 0.05, "zero_point": 0}
BUILD_2020 = CmsisNn(pool_sum_bytes=2, depthwise_3x3=False)


def one_op(
    opcode: str,
    x_shape: tuple[int, ...],
    y_shape: tuple[int, ...],
    w_shape: tuple[int, ...] | None,
    **options,
) -> tuple[Subgraph, Operator]:
    b = ModelBuilder()
    x = b.input("x", x_shape, "int8", **Q)
    inputs = [x]
    if w_shape is not None:
        axis = 3 if opcode == "DEPTHWISE_CONV_2D" else 0
        scales = [0.01] * w_shape[axis]
        inputs += [
            b.constant("w", np.ones(w_shape), "int8", scale=scales, zero_point=0, quantized_dimension=axis)
        ]
        inputs += [-1]
    y = b.tensor("y", y_shape, "int8", **Q)
    b.op(opcode, inputs, [y], **options)
    b.output(y)
    subgraph = b.build().main
    return subgraph, subgraph.operators[0]


def conv(in_c: int, k: int, stride: int) -> tuple[Subgraph, Operator]:
    out = 6 // stride
    return one_op(
        "CONV_2D",
        (1, 6, 6, in_c),
        (1, out, out, 4),
        (4, k, k, in_c),
        padding="SAME",
        stride_h=stride,
        stride_w=stride,
    )


@pytest.mark.parametrize(
    ("in_c", "k", "stride", "expected"),
    [
        # arm_convolve_1x1_s8_fast (no buffer) needs a 1x1 filter, channels a multiple of 4 and stride 1;
        # arm_convolve_s8 otherwise: two int16 im2col columns of k x k x channels.
        (8, 1, 1, []),
        (8, 1, 2, [2 * 8 * 1 * 1 * 2]),
        (6, 1, 1, [2 * 6 * 1 * 1 * 2]),
        (4, 3, 1, [2 * 4 * 3 * 3 * 2]),
        (3, 3, 1, [2 * 3 * 3 * 3 * 2]),
    ],
)
def test_conv_scratch_of_the_2020_and_2021_kernels(in_c: int, k: int, stride: int, expected: list) -> None:
    assert _cmsis_scratch(BUILD_2020, *conv(in_c, k, stride)) == expected


def test_depthwise_and_pool_scratch_of_the_2020_and_2021_kernels() -> None:
    # arm_depthwise_conv_s8_opt (one channel per input channel): one output pixel's int16 im2col.
    depthwise = one_op("DEPTHWISE_CONV_2D", (1, 6, 6, 4), (1, 6, 6, 4), (1, 3, 3, 4), padding="SAME")
    assert _cmsis_scratch(BUILD_2020, *depthwise) == [4 * 3 * 3 * 2]
    multiplier_2 = one_op(
        "DEPTHWISE_CONV_2D", (1, 6, 6, 2), (1, 6, 6, 4), (1, 3, 3, 4), padding="SAME", depth_multiplier=2
    )
    assert _cmsis_scratch(BUILD_2020, *multiplier_2) == []
    # AVERAGE_POOL_2D: one sum per channel, int16 in 2020, int32 in 2021.
    pool = one_op(
        "AVERAGE_POOL_2D",
        (1, 6, 6, 5),
        (1, 3, 3, 5),
        None,
        padding="VALID",
        stride_h=2,
        stride_w=2,
        filter_height=2,
        filter_width=2,
    )
    assert _cmsis_scratch(BUILD_2020, *pool) == [2 * 5]
    assert _cmsis_scratch(CmsisNn(pool_sum_bytes=4, depthwise_3x3=True), *pool) == [4 * 5]
    relu = one_op("RELU", (1, 6, 6, 5), (1, 6, 6, 5), None)
    assert _cmsis_scratch(BUILD_2020, *relu) == []


def test_a_window_starts_where_tflms_padding_puts_it_on_a_tall_input() -> None:
    """5 x 3 input, 3 x 3 SAME window, stride 1: 1 row and 1 column of padding before ((5 - 1) + 3 - 5 = 2
    rows in all, (3 - 1) + 3 - 3 = 2 columns), so pixel 0 reads from (-1, -1) and the last, pixel 14 at
    row 4, column 2, from (3, 1)."""
    subgraph, op = one_op(
        "AVERAGE_POOL_2D",
        (1, 5, 3, 2),
        (1, 5, 3, 2),
        None,
        padding="SAME",
        stride_h=1,
        stride_w=1,
        filter_height=3,
        filter_width=3,
    )
    x, y = subgraph.tensors[op.inputs[0]], subgraph.tensors[op.outputs[0]]
    assert _window_start(op, x, y, 3, 3, 0) == (-1, -1)
    assert _window_start(op, x, y, 3, 3, 14) == (3, 1)


def test_an_im2col_column_is_the_window_plus_the_offset_with_zeros_outside() -> None:
    """A 3 x 2 input [[1, 2], [3, 4], [5, 6]] with an input offset of 10."""
    x = np.array([[1, 2], [3, 4], [5, 6]], np.int8).reshape(1, 3, 2, 1)
    # 3 x 3 window from (-1, -1): the padding row and column are zeros.
    corner = np.array([0, 0, 0, 0, 11, 12, 0, 13, 14], "<i2").tobytes()
    assert _patch(x, -1, -1, 3, 3, 10) == corner
    # 2 x 2 window from (1, 0): rows 1 and 2 (the last row of a tall input), both columns.
    assert _patch(x, 1, 0, 2, 2, 10) == np.array([13, 14, 15, 16], "<i2").tobytes()


def test_a_dated_layout_asks_and_leaves_what_its_build_does() -> None:
    """The 2021 layout: an average pool's int32 sums of its last window. 5 x 3 x 2 input
    x[h, w, c] = 10 h + w + 50 c, 3 x 3 SAME window: the last (pixel 14, from (3, 1)) covers rows 3-4 and
    columns 1-2: 31 + 32 + 41 + 42 = 146 for channel 0, 146 + 4 x 50 = 346 for channel 1."""
    layout = _cmsis_layout(
        "a build", CmsisNn(pool_sum_bytes=4, depthwise_3x3=True), newest_scratch_first=True
    )
    assert (layout.description, layout.newest_scratch_first) == ("a build", True)
    subgraph, op = one_op(
        "AVERAGE_POOL_2D",
        (1, 5, 3, 2),
        (1, 5, 3, 2),
        None,
        padding="SAME",
        stride_h=1,
        stride_w=1,
        filter_height=3,
        filter_width=3,
    )
    assert layout.scratch(subgraph, op) == [4 * 2]
    h, w, c = np.meshgrid(np.arange(5), np.arange(3), np.arange(2), indexing="ij")
    values = (10 * h + w + 50 * c).astype(np.int8).reshape(1, 5, 3, 2)
    assert layout.contents(subgraph, op, values) == np.array([146, 346], "<i4").tobytes()
