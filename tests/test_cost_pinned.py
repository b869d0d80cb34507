"""The cost model's memory, power and energy figures for the reference models, pinned to values derived by
hand, so that changing a constant or a rule is a conscious update of this file.

How each value was derived (not by running the code under test):
- persistent bytes: TFLM's tail as `tinyinterp/cost/arena.py` models it, 810 fixed + 24 per tensor
  (TfLiteEvalTensor) + 82 per operator (NodeAndRegistration) + each kernel's OpData (CONV_2D and
  DEPTHWISE_CONV_2D 64, FULLY_CONNECTED 80, SOFTMAX 240, AVERAGE_POOL_2D 48, others 32) + 8 bytes (an int32
  multiplier and shift) per output channel of every convolution, counted from `tinyinterp info` of each model;
- scratch bytes: CMSIS-NN's arm_*_get_buffer_size (GCC): arm_convolve_s8 on a DSP or plain core,
  2 * 2 * (kernel_h * kernel_w * in_c rounded up to 4) (two s16 im2col columns), on MVE
  4 * (kernel_h * kernel_w * in_c rounded up to 16); arm_depthwise_conv_s8_opt on a DSP core 2 * ch * kernel_h
  * kernel_w (none for 3x3, which arm_depthwise_conv_3x3_s8 runs), on MVE 4 * 124 * kernel_h * kernel_w;
  arm_avgpool_s8 on DSP 4 * channels; arm_fully_connected_s8 on MVE 4 * units (kernel sums);
- arena head: TFLM's greedy planner by hand (see each case);
- power: the board file's [power] at a clock f, static_mw + (active_mw - static_mw) * f / clock_mhz;
  energy per inference = that power x the estimated latency;
- cycles: one layer by hand from the loop costs, the core profile and the stack (the last test).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tinyinterp.cost import arena, energy, profiles
from tinyinterp.cost.estimate import estimate
from tinyinterp.errors import CostModelError
from tinyinterp.model import ModelBuilder, load_model
from tinyinterp.model.ir import Operator, Subgraph

PERSISTENT_BYTES = {
    # 810 + 24 * tensors + 82 * operators + OpData + 8 * convolution output channels
    # kws: 35 tensors, 13 ops (5 CONV_2D, 4 DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, RESHAPE, FULLY_CONNECTED,
    # SOFTMAX),
    # OpData 5*64 + 4*64 + 48 + 32 + 80 + 240 = 976, channels 9 * 64 = 576.
    "kws_ref_model.tflite": 810 + 24 * 35 + 82 * 13 + 976 + 8 * 576,  # 8300
    # ad01: 31 tensors, 10 per-tensor FULLY_CONNECTED (no per-channel data).
    "ad01_int8.tflite": 810 + 24 * 31 + 82 * 10 + 10 * 80,  # 3174
    # vww: 89 tensors, 31 ops (14 CONV_2D, 13 DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, RESHAPE, FULLY_CONNECTED,
    # SOFTMAX), OpData 27*64 + 48 + 32 + 80 + 240 = 2128, channels 2736 (MobileNet 0.25: 8, 16, 32, ... 256).
    "vww_96_int8.tflite": 810 + 24 * 89 + 82 * 31 + 2128 + 8 * 2736,  # 29504
    # ic: 38 tensors, 16 ops (9 CONV_2D, 3 ADD, AVERAGE_POOL_2D, RESHAPE, FULLY_CONNECTED, SOFTMAX),
    # OpData 9*64 + 3*60 + 48 + 32 + 80 + 240 = 1156, channels 16*3 + 32*3 + 64*3 = 336.
    "pretrainedResnet_quant.tflite": 810 + 24 * 38 + 82 * 16 + 1156 + 8 * 336,  # 6878
    # sww: 31 tensors, 11 ops (4 DEPTHWISE_CONV_2D, 4 CONV_2D, RESHAPE, FULLY_CONNECTED, SOFTMAX),
    # OpData 8*64 + 32 + 80 + 240 = 864, channels 40 + 3 * 128 + 40 + 3 * 128 = 840.
    "str_ww_ref_model.tflite": 810 + 24 * 31 + 82 * 11 + 864 + 8 * 840,  # 10040
}


@pytest.mark.parametrize("name", sorted(PERSISTENT_BYTES))
def test_persistent_bytes(name: str, data_dir: Path) -> None:
    assert arena.persistent_bytes(load_model(data_dir / "models" / name)) == PERSISTENT_BYTES[name]


def _scratch(data_dir: Path, name: str, core: str) -> list[tuple[str, list[int]]]:
    """Each operator's CMSIS-NN scratch requests, in execution order, for the operators that ask."""
    subgraph = load_model(data_dir / "models" / name).main
    rule = arena.cmsis_nn(profiles.core(core))
    return [(op.opcode, rule(subgraph, op)) for op in subgraph.operators if rule(subgraph, op)]


def test_kws_scratch(data_dir: Path) -> None:
    kws = "kws_ref_model.tflite"
    # First conv 10x4 over 1 channel: 40 columns. Depthwise convs are 3x3 (no buffer on DSP, no _opt path on
    # the M0+), the pointwise convs 1x1 (none); the pool averages 64 channels; the classifier has 12 units.
    assert _scratch(data_dir, kws, "cortex-m4") == [("CONV_2D", [2 * 2 * 40]), ("AVERAGE_POOL_2D", [4 * 64])]
    assert _scratch(data_dir, kws, "cortex-m0plus") == [("CONV_2D", [2 * 2 * 40])]
    depthwise = [("DEPTHWISE_CONV_2D", [4 * 124 * 3 * 3])] * 4
    mve = [("CONV_2D", [4 * 48]), *depthwise, ("FULLY_CONNECTED", [4 * 12])]
    assert _scratch(data_dir, kws, "cortex-m55") == mve


def test_sww_depthwise_scratch(data_dir: Path) -> None:
    # Depthwise kernels 3x1 over 40 channels, then 5x1, 10x1 and 15x1 over 128: the _opt path's s16 im2col.
    m4 = [("DEPTHWISE_CONV_2D", [2 * c * k]) for c, k in ((40, 3), (128, 5), (128, 10), (128, 15))]
    assert _scratch(data_dir, "str_ww_ref_model.tflite", "cortex-m4") == m4
    mve = [("DEPTHWISE_CONV_2D", [4 * 124 * k]) for k in (3, 5, 10, 15)] + [("FULLY_CONNECTED", [4 * 3])]
    assert _scratch(data_dir, "str_ww_ref_model.tflite", "cortex-m55") == mve


def test_ic_conv_scratch(data_dir: Path) -> None:
    # 3x3 convs over 3, 16, 16, 16, 32, 32, 64 input channels; the 1x1 shortcut convs ask for nothing.
    convs = [("CONV_2D", [2 * 2 * (9 * c + -(9 * c) % 4)]) for c in (3, 16, 16, 16, 32, 32, 64)]
    pool = ("AVERAGE_POOL_2D", [4 * 64])
    assert _scratch(data_dir, "pretrainedResnet_quant.tflite", "cortex-m4") == [*convs, pool]


ARENA_HEAD = {
    # kws: the 25x5x64 activations (8,000 bytes) of consecutive layers live two at a time, at offsets 0 and
    # 8,000; the input (496 aligned), the scratch buffers and the small tail outputs fit in the free slot.
    ("kws_ref_model.tflite", "nucleo-l4r5zi"): 2 * 25 * 5 * 64,
    ("kws_ref_model.tflite", "nucleo-g0b1re"): 2 * 25 * 5 * 64,
    # On the M85 a depthwise step holds its input, its output and 4,464 bytes of scratch: 8,000 * 2 + 4,464.
    ("kws_ref_model.tflite", "ek-ra8d1"): 2 * 25 * 5 * 64 + 4 * 124 * 9,
    # ad01: a 640-byte input and 128-unit layers: the input with the first layer's output (640 + 128).
    ("ad01_int8.tflite", "nucleo-l4r5zi"): 640 + 128,
    # On the M85 each layer also asks 4 * units of kernel sums; the last (640 units) holds 128 + 640 + 2,560.
    ("ad01_int8.tflite", "ek-ra8d1"): 128 + 640 + 4 * 640,
}


@pytest.mark.parametrize(("name", "board"), sorted(ARENA_HEAD))
def test_arena_head(name: str, board: str, data_dir: Path) -> None:
    assert estimate(data_dir / "models" / name, board=board).totals.arena_bytes == ARENA_HEAD[name, board]


POWER_MW = {
    # (board, MHz): static + (active - static) * MHz / default MHz, from the board's [power] table
    ("nucleo-l4r5zi", None): 40.0,  # active 40 mW at 120 MHz
    ("nucleo-l4r5zi", 80): 4 + (40 - 4) * 80 / 120,  # 28 mW
    ("nucleo-h7a3zi-q", 140): 25 + (150 - 25) * 140 / 280,  # 87.5 mW
    ("nucleo-g0b1re", 16): 2 + (20 - 2) * 16 / 64,  # 6.5 mW
    ("ek-ra8d1", 240): 30 + (200 - 30) * 240 / 480,  # 115 mW
}


@pytest.mark.parametrize(("board", "mhz"), sorted(POWER_MW, key=str))
def test_power_and_energy(board: str, mhz: int | None, data_dir: Path) -> None:
    found = estimate(data_dir / "models" / "kws_ref_model.tflite", board=board, clock_mhz=mhz).totals
    assert found.power_mw == pytest.approx(POWER_MW[board, mhz], rel=1e-12)
    assert found.energy_uj == pytest.approx(POWER_MW[board, mhz] * found.latency_ms, rel=1e-12)


def test_duty_cycle_by_hand() -> None:
    # 100 inferences/s of 10 ms fill the second exactly; 2 mJ each is 200 mW, and no time is left to sleep.
    full = energy.duty_cycle(2000.0, 10.0, 100.0, sleep_mw=0.0)
    assert (full.busy_fraction, full.average_mw, full.battery_hours) == (1.0, 200.0, None)
    # 1/s of 10 ms and 2 mJ: 2 mW + 0.99 x 1 mW asleep; a 0.5 mAh battery at 0.5 V holds 0.25 mWh.
    small = energy.duty_cycle(2000.0, 10.0, 1.0, sleep_mw=1.0, battery_mah=0.5, battery_v=0.5)
    assert small.average_mw == pytest.approx(2.99, rel=1e-12)
    assert small.battery_hours == pytest.approx(0.25 / 2.99, rel=1e-12)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"inferences_per_s": 0.0}, "inferences per second must be positive and finite, got 0"),
        (
            {"inferences_per_s": 101.0},
            r"101 inferences/s of 10 ms each do not fit in a second \(at most 100/s\)",
        ),
        (
            {"latency_ms": 3.0, "inferences_per_s": 400.0},
            r"400 inferences/s of 3 ms each do not fit in a second \(at most 333/s\)",
        ),
        ({"sleep_mw": -0.5}, "sleep power must be non-negative and finite, got -0.5 mW"),
        ({"battery_mah": 0.0}, "battery capacity must be positive and finite, got 0 mAh"),
        ({"battery_mah": math.inf}, "battery capacity must be positive and finite, got inf mAh"),
        ({"battery_v": 0.0}, "battery voltage must be positive and finite, got 0 V"),
        ({"battery_v": math.inf}, "battery voltage must be positive and finite, got inf V"),
    ],
)
def test_duty_cycle_refusals(arguments: dict[str, float], message: str) -> None:
    given = {"energy_uj": 2000.0, "latency_ms": 10.0, "inferences_per_s": 1.0, "sleep_mw": 0.0} | arguments
    with pytest.raises(CostModelError, match=f"^{message}$"):
        energy.duty_cycle(**given)


def test_generic_board_by_hand(tmp_path: Path) -> None:
    """`--core cortex-m33 --mhz 96`: only a core and a clock; its power is the table's 180 uW/MHz x 96 MHz,
    all of it scaling with the clock."""
    assert profiles.generic_board("cortex-m33", 96) == profiles.BoardProfile(
        name="generic-cortex-m33",
        core="cortex-m33",
        clock_mhz=96,
        max_clock_mhz=96,
        flash_kb=0,
        sram_kb=0,
        flash_access_ns=0.0,
        flash_line_bytes=16,
        cache_kb=0.0,
        power=profiles.PowerProfile(active_mw=180 * 96 / 1000, static_mw=0.0, sleep_mw=0.01),
        description="generic board with a cortex-m33 at 96 MHz (no memory or power data)",
        source="generic",
    )
    # A user's core file, unknown to the table: 150 uW/MHz.
    path = tmp_path / "my-core.toml"
    path.write_text(
        (profiles.DATA_DIR / "cores" / "cortex-m4.toml").read_text().replace("cortex-m4", "my-core")
    )
    assert profiles.generic_board(str(path), 50).power.active_mw == 150 * 50 / 1000


def _reduction(opcode: str, dtype: str) -> tuple[Subgraph, Operator]:
    b = ModelBuilder()
    quantized = {} if dtype == "float32" else {"scale": 0.1, "zero_point": 0}
    x = b.input("x", (1, 4, 4, 8), dtype, **quantized)
    axis = b.constant("axis", np.array([1, 2], np.int32))
    y = b.tensor("y", (1, 1, 1, 8), dtype, **quantized)
    b.op(opcode, [x, axis], [y], keep_dims=True)
    b.output(y)
    subgraph = b.build().main
    return subgraph, subgraph.operators[0]


@pytest.mark.parametrize(
    ("opcode", "dtype", "expected"),
    [
        # reduce_common.cc: an int32 accumulator per output (MEAN / SUM of int8, int16), then the input's
        # dimensions (4 of them) and the axis entries (2), as int32 each.
        ("MEAN", "int8", [4 * 8, 4 * 4, 4 * 2]),
        ("SUM", "int16", [4 * 8, 4 * 4, 4 * 2]),
        ("MEAN", "float32", [4 * 4, 4 * 2]),
        ("REDUCE_MAX", "int8", [4 * 4, 4 * 2]),
        ("REDUCE_MIN", "int8", [4 * 4, 4 * 2]),
        ("REDUCE_PROD", "int8", [4 * 4, 4 * 2]),
    ],
)
def test_reduction_scratch(opcode: str, dtype: str, expected: list[int]) -> None:
    subgraph, op = _reduction(opcode, dtype)
    assert arena.REFERENCE(subgraph, op) == expected
    assert arena.cmsis_nn(profiles.core("cortex-m4"))(subgraph, op) == expected  # no CMSIS-NN kernel


def test_depthwise_scratch_of_a_square_kernel() -> None:
    # arm_depthwise_conv_s8_opt for a 5x5 kernel over 8 channels on a DSP core: 2 * 8 * 5 * 5 bytes.
    b = ModelBuilder()
    x = b.input("x", (1, 8, 8, 8), "int8", scale=0.1, zero_point=0)
    w = b.constant("w", np.ones((1, 5, 5, 8)), "int8", scale=[0.01] * 8, zero_point=0, quantized_dimension=3)
    y = b.tensor("y", (1, 4, 4, 8), "int8", scale=0.1, zero_point=0)
    b.op("DEPTHWISE_CONV_2D", [x, w, -1], [y], padding="VALID", stride_w=1, stride_h=1, depth_multiplier=1)
    b.output(y)
    subgraph = b.build().main
    assert arena.cmsis_nn(profiles.core("cortex-m4"))(subgraph, subgraph.operators[0]) == [2 * 8 * 5 * 5]
    assert arena.REFERENCE(subgraph, subgraph.operators[0]) == []


def test_ic_conv_scratch_on_helium(data_dir: Path) -> None:
    # arm_convolve_s8 with MVE: four s8 im2col rows of 9 * channels columns, padded to 16 lanes.
    convs = [("CONV_2D", [4 * (9 * c + -(9 * c) % 16)]) for c in (3, 16, 16, 16, 32, 32, 64)]
    expected = [*convs, ("FULLY_CONNECTED", [4 * 10])]
    assert _scratch(data_dir, "pretrainedResnet_quant.tflite", "cortex-m55") == expected


def test_the_stack_chooses_the_scratch_rules(data_dir: Path) -> None:
    m4 = profiles.core("cortex-m4")
    assert arena.scratch_for("reference", m4) is arena.REFERENCE
    kws = load_model(data_dir / "models" / "kws_ref_model.tflite").main
    pool = next(op for op in kws.operators if op.opcode == "AVERAGE_POOL_2D")
    assert arena.scratch_for("cmsis-nn", m4)(kws, pool) == [4 * 64]


def test_cycles_of_the_kws_softmax_by_hand(data_dir: Path) -> None:
    """kws's SOFTMAX (1 row of 12) on nucleo-l4r5zi (Cortex-M4, DSP path, TFLM + CMSIS-NN), from data files:
    arm_softmax_s8's loop bodies (tinyinterp/cost/data/loops/dsp.json) run once per call, once per row and
    12 times per element; each priced with cortex-m4.toml (ALU, multiply and `other` 1 cycle, load 1.5,
    store 1, branch 2):
    - call: 7.4169 loads, 14 stores -> 11.12535 + 14 = 25.12535
    - row: 78.8575 ALU, 20.6061 branches, 2.7095 loads, 6.0561 multiplies, 3 other, 13 stores
      -> 78.8575 + 41.2122 + 4.06425 + 6.0561 + 3 + 13 = 146.19005
    - element: 350.2224 ALU, 27.6483 branches, 64.953 loads, 32.9799 multiplies, 16 other, 29 stores
      -> 350.2224 + 55.2966 + 97.4295 + 32.9799 + 16 + 29 = 580.9284, x 12 = 6971.1408
    kernel 7142.45620 cycles x the stack's elementwise factor 1.7610 (tflm-cmsisnn.toml) = 12577.87, plus
    the stack's 1500 cycles per operator, no flash (no weights): 14077.87 cycles."""
    model = data_dir / "models" / "kws_ref_model.tflite"
    layer = estimate(model, board="nucleo-l4r5zi").layers[12]
    assert layer.kernel == "arm_softmax_s8"
    assert layer.terms["mac"] == pytest.approx(7142.4562 * 1.7610, rel=1e-4)
    assert layer.cycles == pytest.approx(7142.4562 * 1.7610 + 1500, rel=1e-4)
    assert layer.latency_ms == pytest.approx(layer.cycles / 120e3)
