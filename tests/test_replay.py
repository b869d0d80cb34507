"""The dated CMSIS-NN arena layouts of `tinyinterp.suite.replay`, piece by piece, against values worked out
by hand from CMSIS-NN's get_buffer_size functions of 2020-2021 and its im2col and pooling loops (the module
docstring): the published performance logs (test_validate_log.py) reach only the reference models' shapes,
which are square and whose CONV_2D and DEPTHWISE_CONV_2D buffers never overlap the input."""

from __future__ import annotations

import numpy as np
import pytest

from tinyinterp.errors import ModelError
from tinyinterp.interpreter import Interpreter
from tinyinterp.model import ModelBuilder
from tinyinterp.model.ir import Model, Operator, Subgraph
from tinyinterp.numerics import SINGLE_ROUNDING, TFLM_ROUNDING
from tinyinterp.suite.replay import (
    ARENAS,
    ArenaReplay,
    CmsisNn,
    _cmsis_layout,
    _cmsis_scratch,
    _patch,
    _window_start,
    planned_buffers,
)
from tinyinterp.zoo import stand_in

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


def tall_pool() -> tuple[Subgraph, Operator]:
    """A 3 x 3 SAME average pool, stride 1, over a 5 x 3 x 2 input."""
    return one_op(
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


def test_a_window_starts_where_tflms_padding_puts_it_on_a_tall_input() -> None:
    """5 x 3 input, 3 x 3 SAME window, stride 1: 1 row and 1 column of padding before ((5 - 1) + 3 - 5 = 2
    rows in all, (3 - 1) + 3 - 3 = 2 columns), so pixel 0 reads from (-1, -1) and the last, pixel 14 at
    row 4, column 2, from (3, 1)."""
    subgraph, op = tall_pool()
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
    subgraph, op = tall_pool()
    assert layout.scratch(subgraph, op) == [4 * 2]
    h, w, c = np.meshgrid(np.arange(5), np.arange(3), np.arange(2), indexing="ij")
    values = (10 * h + w + 50 * c).astype(np.int8).reshape(1, 5, 3, 2)
    assert layout.contents(subgraph, op, values) == np.array([146, 346], "<i4").tobytes()


def window_op(opcode: str, channels: int, k: int, **options: object) -> tuple[Subgraph, Operator]:
    """A k x k SAME window over a 2 x 2 input whose zero point is -3 (input offset +3)."""
    b = ModelBuilder()
    x = b.input("x", (1, 2, 2, 1), "int8", scale=0.05, zero_point=-3)
    w_shape = (channels, k, k, 1) if opcode == "CONV_2D" else (1, k, k, channels)
    axis = 0 if opcode == "CONV_2D" else 3
    scales = [0.01] * channels
    w = b.constant("w", np.ones(w_shape), "int8", scale=scales, zero_point=0, quantized_dimension=axis)
    y = b.tensor("y", (1, 2, 2, channels), "int8", **Q)
    b.op(opcode, [x, w, -1], [y], padding="SAME", stride_h=1, stride_w=1, **options)
    b.output(y)
    subgraph = b.build().main
    return subgraph, subgraph.operators[0]


X = np.array([[1, 2], [3, 4]], np.int8).reshape(1, 2, 2, 1)  # + 3: [[4, 5], [6, 7]]
BUILD_2021 = CmsisNn(pool_sum_bytes=4, depthwise_3x3=True)


def columns(*values: list[int]) -> bytes:
    return b"".join(np.array(v, "<i2").tobytes() for v in values)


def test_conv_leaves_the_last_two_pixels_im2col_columns() -> None:
    """arm_convolve_s8 fills column p % 2 for output pixel p: after 4 pixels, column 0 holds pixel 2 (row 1,
    column 0: window from (0, -1), 1 before of SAME padding) and column 1 pixel 3 (window from (0, 0))."""
    subgraph, op = window_op("CONV_2D", 4, 3)
    pixel_2 = [0, 4, 5, 0, 6, 7, 0, 0, 0]
    pixel_3 = [4, 5, 0, 6, 7, 0, 0, 0, 0]
    assert _cmsis_layout("", BUILD_2020, False).contents(subgraph, op, X) == columns(pixel_2, pixel_3)


def test_depthwise_leaves_the_last_pixels_column_unless_the_3x3_kernel_runs() -> None:
    subgraph, op = window_op("DEPTHWISE_CONV_2D", 1, 3)
    pixel_3 = [4, 5, 0, 6, 7, 0, 0, 0, 0]
    assert _cmsis_layout("", BUILD_2020, False).contents(subgraph, op, X) == columns(pixel_3)
    # 2021: arm_depthwise_conv_3x3_s8 (3 x 3, padded by at most 1) leaves the buffer alone ...
    assert _cmsis_layout("", BUILD_2021, False).contents(subgraph, op, X) is None
    # ... but 5 x 5 (padded by 2 before) runs _opt: the last pixel's window from (-1, -1).
    subgraph, op = window_op("DEPTHWISE_CONV_2D", 1, 5)
    pixel_3 = [0] * 25
    pixel_3[6:8], pixel_3[11:13] = [4, 5], [6, 7]
    assert _cmsis_layout("", BUILD_2021, False).contents(subgraph, op, X) == columns(pixel_3)


@pytest.mark.parametrize(("value", "int16_sum"), [(127, 32767), (-128, -32768)])
def test_a_2020_pool_sum_saturates_in_int16(value: int, int16_sum: int) -> None:
    """A 17 x 17 window of 127 sums to 36,703 (-128: -36,992): __QADD16 saturates in 2020, not in 2021."""
    subgraph, op = one_op(
        "AVERAGE_POOL_2D",
        (1, 17, 17, 1),
        (1, 1, 1, 1),
        None,
        padding="VALID",
        stride_h=1,
        stride_w=1,
        filter_height=17,
        filter_width=17,
    )
    values = np.full((1, 17, 17, 1), value, np.int8)
    assert (
        _cmsis_layout("", BUILD_2020, False).contents(subgraph, op, values) == np.int16(int16_sum).tobytes()
    )
    assert (
        _cmsis_layout("", BUILD_2021, False).contents(subgraph, op, values) == np.int32(289 * value).tobytes()
    )


def test_a_float_conv_leaves_its_window_without_an_offset() -> None:
    """No quantization on the input: no input offset (the int16 column holds the values as they are)."""
    b = ModelBuilder()
    x = b.input("x", (1, 2, 2, 1), "float32")
    w = b.constant("w", np.ones((1, 3, 3, 1), np.float32))
    y = b.tensor("y", (1, 2, 2, 1), "float32")
    b.op("DEPTHWISE_CONV_2D", [x, w, -1], [y], padding="SAME", stride_h=1, stride_w=1)
    b.output(y)
    subgraph = b.build().main
    values = np.array([[1, 2], [3, 4]], np.float32).reshape(1, 2, 2, 1)
    contents = _cmsis_layout("", BUILD_2020, False).contents(subgraph, subgraph.operators[0], values)
    assert contents == columns([1, 2, 0, 3, 4, 0, 0, 0, 0])


def reduce_after_add() -> ArenaReplay:
    """x -> ADD -> t -> SUM -> y: x is dead when the reduction runs, and the greedy plan gives its
    bytes to the reduction's scratch (TFLM's reference kernel: 4 x 2 bytes of index, 4 of axis)."""
    b = ModelBuilder()
    x = b.input("x", (1, 16), "float32")
    one = b.constant("one", np.ones((1, 16), np.float32))
    axis = b.constant("axis", np.array([1], np.int32))
    t, y = b.tensor("t", (1, 16), "float32"), b.tensor("y", (1, 1), "float32")
    b.op("ADD", [x, one], [t])
    b.op("SUM", [t, axis], [y], keep_dims=True)
    b.output(y)
    return ArenaReplay(b.build(), "tflm", TFLM_ROUNDING)


def test_a_scratch_buffer_on_the_input_with_unknown_contents_is_refused() -> None:
    replay = reduce_after_add()
    replay.load(np.zeros((1, 16), np.float32))
    with pytest.raises(ModelError) as refused:
        replay.invoke()
    assert str(refused.value) == (
        "operator 1 (SUM) has a scratch buffer that shares the input's bytes, and what its kernel "
        "leaves there is not known"
    )


def test_a_buffer_shares_the_input_only_where_their_bytes_overlap() -> None:
    replay = reduce_after_add()
    start, stop = replay.input_bytes.start, replay.input_bytes.stop
    assert replay._shares_input(stop - 4, 4) and replay._shares_input(start - 4, 5)
    assert not replay._shares_input(stop, 4) and not replay._shares_input(start - 4, 4)


def two_convs() -> Model:
    """x (0) -> 3 x 3 CONV_2D -> t -> 3 x 3 CONV_2D -> y: each conv asks for scratch in the dated layouts."""
    b = ModelBuilder()
    x = b.input("x", (1, 4, 4, 2), "int8", **Q)
    t, y = (b.tensor(name, (1, 4, 4, 2), "int8", **Q) for name in ("t", "y"))
    for k, (a, c) in enumerate(((x, t), (t, y))):
        w = b.constant(f"w{k}", np.ones((2, 3, 3, 2)), "int8", scale=[0.01] * 2, zero_point=0)
        b.op("CONV_2D", [a, w, -1], [c], padding="SAME", stride_h=1, stride_w=1)
    b.output(y)
    return b.build()


def test_tf_2_3_hands_the_planner_its_scratch_buffers_newest_first() -> None:
    model = two_convs()
    tensors = [t.name for t in model.main.tensors]
    x, t, y = (tensors.index(name) for name in ("x", "t", "y"))

    def order(layout: str) -> list[tuple[int, int]]:
        return [(b.tensor, b.op) for b in planned_buffers(model, ARENAS[layout])]

    # arena.buffers: the tensors, then each operator's scratch in operator order; TF 2.3 reverses the latter.
    assert sorted(order("tflm-2021")[:3]) == [(x, -1), (t, -1), (y, -1)]
    assert order("tflm-2021")[3:] == [(-1, 0), (-1, 1)]
    assert order("tflm-2020") == [*order("tflm-2021")[:3], (-1, 1), (-1, 0)]


def test_a_model_with_state_is_refused() -> None:
    b = ModelBuilder()
    x = b.input("x", (1, 4), "float32")
    state = b.tensor("state", (1, 4), "float32", is_variable=True)
    y = b.tensor("y", (1, 4), "float32")
    b.op("ADD", [x, state], [y])
    b.output(y)
    with pytest.raises(ModelError) as refused:
        ArenaReplay(b.build(), "tflm", TFLM_ROUNDING)
    assert str(refused.value) == "replaying invocations on one arena does not keep state: variable state"


def test_the_input_bytes_are_where_the_plan_puts_the_input() -> None:
    """x (64 bytes) -> CONCATENATION [x, x] -> t (128 bytes): the greedy plan puts the larger t first at 0
    and x, alive with it, after it: the input's bytes are 128..191."""
    b = ModelBuilder()
    x = b.input("x", (1, 16), "float32")
    t = b.tensor("t", (1, 32), "float32")
    b.op("CONCATENATION", [x, x], [t], axis=1)
    b.output(t)
    replay = ArenaReplay(b.build(), "tflm", TFLM_ROUNDING)
    assert replay.input_bytes == range(128, 192)


def test_a_replay_stores_a_load_as_the_input_type() -> None:
    """A float 3 x 3 depthwise without bias over [[1, 2], [3, 4]], SAME: every window covers all four
    values, so every output is 10, also when the load comes as float64 (stored as the input's float32)."""
    b = ModelBuilder()
    x = b.input("x", (1, 2, 2, 1), "float32")
    w = b.constant("w", np.ones((1, 3, 3, 1), np.float32))
    y = b.tensor("y", (1, 2, 2, 1), "float32")
    b.op("DEPTHWISE_CONV_2D", [x, w, -1], [y], padding="SAME", stride_h=1, stride_w=1, depth_multiplier=1)
    b.output(y)
    replay = ArenaReplay(b.build(), "tflm", TFLM_ROUNDING)
    replay.load(np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1))
    np.testing.assert_array_equal(replay.invoke(), np.full((1, 2, 2, 1), 10, np.float32))


def test_a_replay_requantizes_with_the_rounding_it_is_given() -> None:
    """One invocation of the kws01 stand-in replayed with single rounding equals the interpreter's
    single-rounding profile (and differs from TFLM's two roundings on these inputs, so the rounding
    reaches the kernels)."""
    model = stand_in("kws01")
    inputs = np.random.default_rng(7).integers(-128, 128, (8, 49, 10, 1), dtype=np.int8)
    single = Interpreter(model=model, numerics="single-rounding").run(inputs)[0]
    tflm = Interpreter(model=model).run(inputs)[0]
    assert not np.array_equal(single, tflm)
    replay = ArenaReplay(model, "tflm", SINGLE_ROUNDING)
    replayed = []
    for item in inputs:
        replay.load(item[None])
        replayed.append(replay.invoke()[0])
    np.testing.assert_array_equal(np.array(replayed), single)


def test_a_two_pixel_conv_leaves_both_columns() -> None:
    """A 1 x 2 input [[1, 2]] (+ 3: [[4, 5]]), 3 x 3 SAME: pixel 0 reads from (-1, -1), pixel 1 from
    (-1, 0)."""
    b = ModelBuilder()
    x = b.input("x", (1, 1, 2, 1), "int8", scale=0.05, zero_point=-3)
    w = b.constant("w", np.ones((2, 3, 3, 1)), "int8", scale=[0.01] * 2, zero_point=0, quantized_dimension=0)
    y = b.tensor("y", (1, 1, 2, 2), "int8", **Q)
    b.op("CONV_2D", [x, w, -1], [y], padding="SAME", stride_h=1, stride_w=1)
    b.output(y)
    subgraph = b.build().main
    values = np.array([1, 2], np.int8).reshape(1, 1, 2, 1)
    contents = _cmsis_layout("", BUILD_2020, False).contents(subgraph, subgraph.operators[0], values)
    assert contents == columns([0, 0, 0, 0, 4, 5, 0, 0, 0], [0, 0, 0, 4, 5, 0, 0, 0, 0])


def test_an_operator_with_no_element_to_compute_is_skipped_and_its_output_read_as_empty() -> None:
    """e (no element) -> ADD -> e2 (no element); [x, e2] -> CONCATENATION -> y: the ADD computes nothing and
    the replay goes on to the concatenation, which reads e2 (in no arena: zero elements of float32) and
    returns the loaded x itself."""
    b = ModelBuilder()
    x = b.input("x", (4,), "float32")
    e, e2 = (b.tensor(name, (0,), "float32") for name in ("e", "e2"))
    y = b.tensor("y", (4,), "float32")
    b.op("ADD", [e, e], [e2])
    b.op("CONCATENATION", [x, e2], [y], axis=0)
    b.output(y)
    replay = ArenaReplay(b.build(), "tflm", TFLM_ROUNDING)
    replay.load(np.array([1.5, -2.0, 3.0, 4.0], np.float32))
    np.testing.assert_array_equal(replay.invoke(), np.array([1.5, -2.0, 3.0, 4.0], np.float32))
