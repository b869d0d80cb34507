"""Loop trip counts of CMSIS-NN kernel calls, counted by hand from the kernels' loops (described in
tinyinterp/cost/loops.py), for shapes where every loop has a remainder, so that each count is its own product.

Geometry shared by the windowed kernels (GEOMETRY): 2 images of 5x5, a 3x3 window at stride 2 with one row
and column of padding before, 3x3 outputs (18 pixels). Per axis the window positions 2o - 1 + k (o, k in
0..2) are -1 0 1 | 1 2 3 | 3 4 5: 7 of 9 inside the input. Taps inside: 2 x 7 x 7 = 98 of 2 x 9 x 9 = 162
(64 read padding). Kernel rows inside, summed over output rows: 2 x 7 = 14.

How the executed instructions and cycles follow from the trip counts is checked against the loop costs in
tinyinterp/cost/data/loops/*.json and the core files (read by the test, not copied).
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tinyinterp.cost import loops, profiles
from tinyinterp.cost.loops import KernelShape

GEOMETRY = KernelShape(
    n=2,
    in_h=5,
    in_w=5,
    in_c=6,
    out_h=3,
    out_w=3,
    out_c=6,
    k_h=3,
    k_w=3,
    stride_h=2,
    stride_w=2,
    pad_h=1,
    pad_w=1,
)


def test_shape_properties() -> None:
    shape = KernelShape(n=2, out_h=3, out_w=5, k_h=2, k_w=3, in_c=7)
    assert shape.pixels == 2 * 3 * 5
    assert shape.rhs_cols == 2 * 3 * 7
    assert (GEOMETRY.inside_rows(), GEOMETRY.inside_cols()) == (7, 7)
    assert (GEOMETRY.inside_taps(), GEOMETRY.padded_taps()) == (98, 64)
    # Dilation 2 over 5 columns, kernel 2, stride 1, no padding, 3 outputs: positions o + 2k, all inside.
    dilated = KernelShape(in_w=5, out_w=3, k_w=2, dilation_w=2)
    assert dilated.inside_cols() == 6
    # The same with one column of padding before: positions o - 1 + 2k = -1 1 | 0 2 | 1 3: 5 inside.
    assert replace(dilated, pad_w=1).inside_cols() == 5


def test_pointwise_fast_dsp() -> None:
    """arm_convolve_1x1_s8_fast: one arm_nn_mat_mult_nt_t_s8 of 7 pixels x 5 filters x 39 channels.
    Filter row pairs: 2 (blocks), an odd filter row; pixel pairs: 3, an odd pixel; 39 columns = 2 x 16 + 1 x 4
    + 3 x 1."""
    shape = KernelShape(out_w=7, in_c=39, out_c=5)
    assert loops.trips("arm_convolve_1x1_s8_fast", "dsp", shape) == {
        "call": 1,
        "mm_call": 1,
        "mm_row_pair_sum": 2 * 39,
        "mm_block": 2 * 3,
        "mm_block_16": 2 * 3 * 2,
        "mm_block_4": 2 * 3 * 1,
        "mm_block_1": 2 * 3 * 3,
        "mm_odd_lhs": 2,
        "mm_odd_lhs_16": 2 * 2,
        "mm_odd_lhs_4": 2 * (1 + 3),
        "mm_odd_rhs": 7,
        "mm_odd_rhs_col": 7 * 39,
    }


def test_pointwise_strided_runs_one_product_per_output_row() -> None:
    """arm_convolve_1x1_s8 (stride 2): 2 images x 3 output rows = 6 products of 7 pixels x 5 filters x 39."""
    shape = KernelShape(n=2, out_h=3, out_w=7, in_c=39, out_c=5, stride_h=2, stride_w=2)
    assert loops.trips("arm_convolve_1x1_s8", "c", shape) == {
        "call": 1,
        "row": 6,
        "mm_call": 6,
        "mm_row_pair_sum": 6 * 2 * 39,
        "mm_block": 6 * 2 * 3,
        "mm_block_16": 6 * 2 * 3 * 2,
        "mm_block_4": 6 * 2 * 3,
        "mm_block_1": 6 * 2 * 3 * 3,
        "mm_odd_lhs": 6 * 2,
        "mm_odd_lhs_16": 6 * 2 * 2,
        "mm_odd_lhs_4": 6 * 2 * 4,
        "mm_odd_rhs": 6 * 7,
        "mm_odd_rhs_col": 6 * 7 * 39,
    }
    # MVE: per product, 1 block of 4 pixels and 3 left over against each of the 5 filters; 39 columns take
    # 3 tail-predicated steps of 16.
    assert loops.trips("arm_convolve_1x1_s8", "mve", shape) == {
        "call": 1,
        "row": 6,
        "mm_call": 6,
        "mm_quad_row": 6 * 5,
        "mm_quad_step": 6 * 5 * 3,
        "mm_rest_row": 6 * 3 * 5,
        "mm_rest_step": 6 * 3 * 5 * 3,
    }


def test_one_row_convolution() -> None:
    """arm_convolve_1_x_n_s8: 2 images of one row of 9 x 13 channels, kernel 1x3 at stride 2, one column of
    padding before, 5 outputs: positions -1 0 1 | 1 2 3 | 3 4 5 | 5 6 7 | 7 8 9, 2 padded taps per image;
    one product per image of 5 pixels x 5 filters x 39 columns (2 x 16 + 1 x 4 + 3 x 1)."""
    shape = KernelShape(n=2, in_w=9, in_c=13, out_w=5, out_c=5, k_w=3, stride_w=2, pad_w=1)
    assert loops.trips("arm_convolve_1_x_n_s8", "dsp", shape) == {
        "call": 1,
        "edge_bytes": 2 * 2 * 13,
        "mm_call": 2,
        "mm_row_pair_sum": 2 * 2 * 39,
        "mm_block": 2 * 2 * 2,
        "mm_block_16": 2 * 2 * 2 * 2,
        "mm_block_4": 2 * 2 * 2,
        "mm_block_1": 2 * 2 * 2 * 3,
        "mm_odd_lhs": 2 * 2,
        "mm_odd_lhs_16": 2 * 2 * 2,
        "mm_odd_lhs_4": 2 * 2 * 4,
        "mm_odd_rhs": 2 * 5,
        "mm_odd_rhs_col": 2 * 5 * 39,
    }


def test_convolution_dsp() -> None:
    """arm_convolve_s8 on GEOMETRY with 3 input channels (27 columns: 6 x 4 + 3) and 5 filters: 18 pixels
    make 9 calls of the 2-column kernel (filter pairs: 2, an odd filter), no odd pixel."""
    shape = replace(GEOMETRY, in_c=3, out_c=5)
    assert loops.trips("arm_convolve_s8", "dsp", shape, wrapped=True) == {
        "wrapper": 1,
        "call": 1,
        "pixel": 18,
        "copy": 98,
        "fill": 64,
        "copy_byte": 98 * 3,
        "fill_byte": 64 * 3,
        "widen_4": 18 * 6,
        "widen_1": 18 * 3,
        "mk_call": 9,
        "mk_pair": 9 * 2,
        "mk_pair_4": 9 * 2 * 6,
        "mk_pair_1": 9 * 2 * 3,
        "mk_single": 9,
        "mk_single_4": 9 * 6,
        "mk_single_1": 9 * 3,
        "odd_filter": 0,
        "odd_filter_4": 0,
        "odd_filter_1": 0,
    }


def test_convolution_with_an_odd_pixel() -> None:
    """One image of GEOMETRY (9 pixels): 4 calls of the 2-column kernel, then the odd pixel against each of
    the 5 filters, 27 columns each."""
    shape = replace(GEOMETRY, n=1, in_c=3, out_c=5)
    found = loops.trips("arm_convolve_s8", "c", shape)
    assert {k: found[k] for k in ("mk_call", "mk_pair", "mk_single", "odd_filter", "odd_filter_4")} == {
        "mk_call": 4,
        "mk_pair": 4 * 2,
        "mk_single": 4,
        "odd_filter": 5,
        "odd_filter_4": 5 * 6,
    }
    assert found["odd_filter_1"] == 5 * 3


def test_convolution_mve() -> None:
    """arm_convolve_s8 with MVE on GEOMETRY with 17 channels (153 columns: 10 steps of 16) and 5 filters:
    18 pixels are 4 products of 4 rows and one of 2 rows; im2col copies 17 channels in 2 steps per tap."""
    shape = replace(GEOMETRY, in_c=17, out_c=5)
    assert loops.trips("arm_convolve_s8", "mve", shape) == {
        "call": 1,
        "pixel": 18,
        "copy": 98,
        "fill": 64,
        "copy_step": 98 * 2,
        "fill_step": 64 * 2,
        "mm_call": 4 + 1,
        "mm_quad_row": 4 * 5,
        "mm_quad_step": 4 * 5 * 10,
        "mm_rest_row": 2 * 5,
        "mm_rest_step": 2 * 5 * 10,
    }
    # 16 pixels: 4 products of 4 rows, nothing left over.
    whole = loops.trips("arm_convolve_s8", "mve", replace(shape, out_w=8, out_h=1))
    assert (whole["mm_call"], whole["mm_rest_row"], whole["mm_rest_step"]) == (4, 0, 0)


def test_depthwise_3x3() -> None:
    """arm_depthwise_conv_3x3_s8 on GEOMETRY with 6 channels: one block of 4 channels and 2 single ones per
    pixel, over the 14 kernel rows inside x 3 output columns."""
    assert loops.trips("arm_depthwise_conv_3x3_s8", "dsp", GEOMETRY) == {
        "call": 1,
        "out_row": 6,
        "pixel": 18,
        "quad": 18,
        "quad_row": 14 * 3,
        "single": 18 * 2,
        "single_row": 14 * 3 * 2,
    }


def test_depthwise_generic() -> None:
    """arm_depthwise_conv_s8 on GEOMETRY, 3 input channels x multiplier 2: every tap inside, per output."""
    shape = replace(GEOMETRY, in_c=3, out_c=6)
    expected = {
        "call": 1,
        "out_row": 6,
        "pixel": 18,
        "channel": 18 * 3,
        "output": 18 * 6,
        "tap_row": 14 * 3 * 6,
        "tap": 98 * 3 * 2,
    }
    assert loops.trips("arm_depthwise_conv_s8", "dsp", shape) == expected
    # One input channel x multiplier 3: every tap inside, 3 times.
    single = loops.trips("arm_depthwise_conv_s8", "dsp", replace(GEOMETRY, in_c=1, out_c=3))
    assert (single["channel"], single["output"], single["tap"]) == (18, 18 * 3, 98 * 3)
    # The plain-C build of the _opt kernel runs the generic loops.
    assert loops.trips("arm_depthwise_conv_s8_opt", "c", shape) == expected


def test_depthwise_opt_dsp() -> None:
    """arm_depthwise_conv_s8_opt on a DSP core, GEOMETRY with 6 channels: 9 taps are 4 pairs and an odd one
    for the block of 4 channels; the 2 channels left take the 9 taps one at a time."""
    assert loops.trips("arm_depthwise_conv_s8_opt", "dsp", GEOMETRY) == {
        "call": 1,
        "pixel": 18,
        "kernel_row": 14 * 3,
        "copy_byte": 98 * 6,
        "fill_byte": 64 * 6,
        "quad": 18,
        "quad_pair": 18 * 4,
        "quad_odd": 18,
        "single": 18 * 2,
        "single_tap": 18 * 2 * 9,
    }


def test_depthwise_opt_mve() -> None:
    """The MVE kernel over 141 channels: blocks of 124 and 17 channels, copied in 8 + 2 steps of 16 and
    computed in 31 + 5 lanes of 4; 18 pixels are 4 groups of 4 and 2 left over."""
    shape = replace(GEOMETRY, in_c=141, out_c=141)
    assert loops.trips("arm_depthwise_conv_s8_opt", "mve", shape) == {
        "call": 1,
        "block": 2,
        "pixel": 18 * 2,
        "copy": 98 * 2,
        "fill": 64 * 2,
        "copy_step": 98 * 10,
        "fill_step": 64 * 10,
        "group": 4 * 2,
        "group_lane": 4 * 36,
        "group_lane_tap": 4 * 36 * 9,
        "rest_lane": 2 * 36,
        "rest_lane_tap": 2 * 36 * 9,
    }
    # Up to 124 channels fit one block: 124 channels are 8 steps and 31 lanes.
    one = loops.trips("arm_depthwise_conv_s8_opt", "mve", replace(shape, in_c=124, out_c=124))
    assert (one["block"], one["copy_step"], one["group_lane"]) == (1, 98 * 8, 4 * 31)


FC = KernelShape(n=3, in_c=34, out_c=11)  # 3 batch rows, 34 values, 11 units


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # 11 units: 2 blocks of 4 and 3 single rows; 34 values: 3 steps of 16.
        ("mve", {"quad": 3 * 2, "quad_step": 3 * 2 * 3, "single": 3 * 3, "single_step": 3 * 3 * 3}),
        # 5 pairs of units and an odd one; 34 values: 8 x 4 + 2.
        (
            "dsp",
            {
                "pair": 3 * 5, "pair_4": 3 * 5 * 8, "pair_1": 3 * 5 * 2,
                "odd": 3, "odd_4": 3 * 8, "odd_1": 3 * 2,
            },
        ),
        # 3 triples of units and 2 left, 34 values each.
        ("c", {"triple": 3 * 3, "triple_value": 3 * 3 * 34, "single": 3 * 2, "single_value": 3 * 2 * 34}),
    ],
)  # fmt: skip
def test_fully_connected(path: str, expected: dict[str, int]) -> None:
    assert loops.trips("arm_fully_connected_s8", path, FC) == {"call": 1, "batch": 3, **expected}


def test_add() -> None:
    # 2 x 23 = 46 elements: 2 blocks of 16 and 14 left (MVE), 11 blocks of 4 and 2 left (DSP, C).
    shape = KernelShape(n=2, in_c=23)
    assert loops.trips("arm_elementwise_add_s8", "mve", shape) == {"call": 1, "block": 2, "element": 14}
    assert loops.trips("arm_elementwise_add_s8", "dsp", shape) == {"call": 1, "block": 11, "element": 2}
    assert loops.trips("arm_elementwise_add_s8", "c", shape) == {"call": 1, "block": 11, "element": 2}


# Average pool: 2 images of 5x4 x 17 channels, a 3x2 window at stride 2, one row of padding before, 3x2
# outputs (12 pixels). Rows: 7 of 9 positions inside (as GEOMETRY); columns 2o + k = 0 1 | 2 3, all 4 inside:
# 2 x 7 x 4 = 56 taps inside.
POOL = KernelShape(
    n=2, in_h=5, in_w=4, in_c=17, out_h=3, out_w=2, out_c=17, k_h=3, k_w=2, stride_h=2, stride_w=2, pad_h=1
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "c",
            {"output": 12 * 17, "output_row": 12 * 17 * 3, "output_tap": 12 * 17 * 6, "inside_tap": 56 * 17},
        ),
        ("dsp", {"tap": 56, "tap_channel": 56 * 17, "output": 12 * 17, "division": 12 * 17}),
        # 17 channels: 2 steps of 16.
        ("mve", {"tap": 56, "tap_channel": 56 * 2, "output": 12 * 2, "division": 12 * 17}),
    ],
)
def test_average_pool(path: str, expected: dict[str, int]) -> None:
    assert loops.trips("arm_avgpool_s8", path, POOL) == {"call": 1, "pixel": 12, **expected}


def test_softmax() -> None:
    # 3 rows of 10: per row a pass over the values (MVE: 3 steps of 4 lanes), per element an output.
    shape = KernelShape(n=3, in_c=10, out_c=10)
    assert loops.trips("arm_softmax_s8", "mve", shape) == {"call": 1, "row": 3, "value": 9, "element": 30}
    assert loops.trips("arm_softmax_s8", "dsp", shape) == {"call": 1, "row": 3, "value": 30, "element": 30}


def test_the_plain_c_path_on_armv6m_has_its_own_measurements() -> None:
    assert loops.dataset("c", "armv6-m") == "c-armv6m"
    assert loops.dataset("c", "armv7-m") == "c"
    assert loops.dataset("dsp", "armv6-m") == "dsp"
    assert loops.dataset("mve", "armv8.1-m") == "mve"


def _bodies(data: str, kernel: str) -> dict[str, dict[str, float]]:
    return json.loads((loops.LOOP_DATA / f"{data}.json").read_text())["kernels"][kernel]


def test_executed_instructions_are_trips_times_body_costs() -> None:
    """arm_convolve_s8 (DSP, wrapped) on the shape of test_convolution_dsp: the trip counts by hand times the
    instructions per body in dsp.json, the im2col bodies (copy, fill, widening) as the data term."""
    shape = replace(GEOMETRY, in_c=3, out_c=5)
    bodies = _bodies("dsp", "arm_convolve_s8")
    hand = {
        "wrapper": 1, "call": 1, "pixel": 18, "copy": 98, "fill": 64, "copy_byte": 294, "fill_byte": 192,
        "widen_4": 108, "widen_1": 54, "mk_call": 9, "mk_pair": 18, "mk_pair_4": 108, "mk_pair_1": 54,
        "mk_single": 9, "mk_single_4": 54, "mk_single_1": 27,
    }  # fmt: skip
    moving = {"copy", "fill", "copy_byte", "fill_byte", "widen_4", "widen_1"}
    expected: dict[str, dict[str, float]] = {"mac": {}, "data": {}}
    for cls in loops.CLASSES:
        for term in expected:
            chosen = [b for b in hand if (b in moving) == (term == "data")]
            expected[term][cls] = sum(hand[b] * bodies.get(b, {}).get(cls, 0.0) for b in chosen)
    assert set(bodies) & moving and set(bodies) - moving  # both terms have measured bodies
    found = loops.executed_by_term("arm_convolve_s8", "dsp", shape, wrapped=True)
    for term in expected:
        assert found[term] == pytest.approx(expected[term], rel=1e-12)
    total = loops.executed("arm_convolve_s8", "dsp", shape, wrapped=True)
    # Called directly (not through the wrapper, the default): without the wrapper's body.
    direct = loops.executed("arm_convolve_s8", "dsp", shape)
    wrapper = bodies["wrapper"]
    assert direct == pytest.approx({c: total[c] - wrapper.get(c, 0.0) for c in loops.CLASSES}, rel=1e-12)
    assert sum(wrapper.values()) > 0
    unwrapped = loops.executed_by_term("arm_convolve_s8", "dsp", shape)
    assert unwrapped["data"] == pytest.approx(expected["data"], rel=1e-12)
    mac = {c: expected["mac"][c] - wrapper.get(c, 0.0) for c in loops.CLASSES}
    assert unwrapped["mac"] == pytest.approx(mac, rel=1e-12)
    assert total == pytest.approx(
        {c: expected["mac"][c] + expected["data"][c] for c in loops.CLASSES}, rel=1e-12
    )


def test_executed_reads_the_named_measurements() -> None:
    # The plain-C path priced with the Armv6-M measurements: 3 rows of 10 (test_softmax).
    shape = KernelShape(n=3, in_c=10, out_c=10)
    bodies = _bodies("c-armv6m", "arm_softmax_s8")
    hand = {"call": 1, "row": 3, "value": 30, "element": 30}
    expected = {c: sum(t * bodies.get(b, {}).get(c, 0.0) for b, t in hand.items()) for c in loops.CLASSES}
    assert loops.executed("arm_softmax_s8", "c", shape, data="c-armv6m") == pytest.approx(expected, rel=1e-12)


def test_price_uses_the_core_cost_of_each_class() -> None:
    """Scalar classes at their costs over the issue rate (`simd_mac` at the dual MAC's, `other` at an ALU
    operation's), vector instructions at the vector cost: on a core with a distinct cost per class."""
    m55 = profiles.read_core(profiles.DATA_DIR / "cores" / "cortex-m55.toml")
    core = replace(
        m55, alu=2.0, mul=3.0, dual_mac=5.0, load=7.0, store=11.0, branch=13.0, vector=17.0, issue_rate=1.6
    )
    counts = dict(zip(loops.CLASSES, (1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7), strict=True))
    scalar = 1.0 * 2 + 10.0 * 3 + 100.0 * 5 + 1e3 * 7 + 1e4 * 11 + 1e5 * 13 + 1e6 * 2
    assert loops.price(counts, core) == pytest.approx(scalar / 1.6 + 1e7 * 17, rel=1e-12)
