"""The board's memory system in the cost model: flash read over a slower bus, a data cache that
firmware can leave off, weights copied to RAM, `--set` what-ifs; and Helium kernels kept apart from
the factors fitted on DSP kernels. Expected figures are worked out by hand from the board facts."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from tinyinterp.cost import estimate, loops, profiles
from tinyinterp.cost.loops import KernelShape
from tinyinterp.cost.profiles import with_settings
from tinyinterp.errors import CostModelError
from tinyinterp.model import ModelBuilder
from tinyinterp.model.ir import Model

Q = {"scale": 0.05, "zero_point": 0}


def dense(units: int = 64, features: int = 1024) -> Model:
    """One FULLY_CONNECTED layer: every weight byte read once per inference, from flash."""
    b = ModelBuilder()
    x = b.input("x", (1, features), "int8", **Q)
    w = b.constant("w", np.ones((units, features), np.int8), "int8", scale=0.01, zero_point=0)
    y = b.tensor("y", (1, units), "int8", **Q)
    b.op("FULLY_CONNECTED", [x, w, -1], [y])
    b.output(y)
    return b.build()


def add(elements: int = 4096) -> Model:
    b = ModelBuilder()
    x1, x2 = b.input("x1", (1, elements), "int8", **Q), b.input("x2", (1, elements), "int8", **Q)
    y = b.tensor("y", (1, elements), "int8", **Q)
    b.op("ADD", [x1, x2], [y])
    b.output(y)
    return b.build()


def flash_cycles(model: Model, board: profiles.BoardProfile) -> float:
    return estimate(model, board=board).layers[0].terms["flash"]


def test_a_flash_line_over_a_half_speed_bus_costs_nine_core_cycles_beyond_a_load() -> None:
    """EK-RA8D1 as submitted: 4 wait states on the 240 MHz bus = 5 bus cycles = 10 core cycles."""
    board = profiles.board("ek-ra8d1")
    assert board.wait_states(480) == 4
    assert board.flash_line_stall(480) == 9
    # 64 x 1024 weight bytes in 16-byte lines, each read once with the D-cache off.
    assert flash_cycles(dense(), board) == pytest.approx(64 * 1024 / 16 * 9)


def test_without_a_bus_divider_the_stall_is_the_wait_states() -> None:
    board = profiles.board("nucleo-l4r5zi")
    assert board.flash_bus_mhz == 0 and board.flash_line_stall(120) == board.wait_states(120) == 5


def test_what_ifs_change_the_memory_system() -> None:
    board = profiles.board("ek-ra8d1")
    base = flash_cycles(dense(), board)
    assert flash_cycles(dense(), with_settings(board, ["weights_in=sram"])) == 0.0
    # Twice the bus clock: wait states at 480 MHz from the 20 ns access time = ceil(9.6) - 1 = 9.
    faster_bus = with_settings(board, ["flash_bus_mhz=480"])
    assert faster_bus.flash_line_stall(480) == 9
    # A 4x larger line: a quarter of the accesses.
    assert flash_cycles(dense(), with_settings(board, ["flash_line_bytes=64"])) == pytest.approx(base / 4)


def test_the_data_cache_serves_repeated_weight_reads_only_when_enabled() -> None:
    """A 1x1 convolution re-reads its 2 filter rows per pixel pair: cached unless the D-cache is off."""
    b = ModelBuilder()
    x = b.input("x", (1, 16, 16, 32), "int8", **Q)
    w = b.constant("w", np.ones((32, 1, 1, 32), np.int8), "int8", scale=[0.01] * 32, zero_point=0)
    y = b.tensor("y", (1, 16, 16, 32), "int8", **Q)
    b.op("CONV_2D", [x, w, -1], [y], padding="VALID", stride_h=1, stride_w=1)
    b.output(y)
    model = b.build()
    board = profiles.board("nucleo-h7a3zi-q")
    on, off = flash_cycles(model, board), flash_cycles(model, with_settings(board, ["dcache=false"]))
    line_stall = board.flash_line_stall(board.clock_mhz)
    assert on == pytest.approx(32 * 32 / 16 * line_stall)  # one pass from flash
    # One pass per pixel pair, and one more that sums each filter row (the input offset's term), as the
    # emulated kernel loads them (the loops' weight_read_bytes).
    assert off == pytest.approx(on * (16 * 16 / 2 + 1))


def test_bad_settings_name_the_key_and_value() -> None:
    board = profiles.board("ek-ra8d1")
    for setting, message in [
        ("colour=red", r"--set 'colour=red': expected KEY=VALUE with KEY one of clock_mhz"),
        ("dcache", r"--set 'dcache': expected KEY=VALUE"),
        ("dcache=maybe", r"--set dcache=maybe: expected true or false"),
        ("flash_kb=lots", r"--set flash_kb=lots: expected a number"),
        ("flash_line_bytes=0", r"'flash_line_bytes' must be positive, got 0"),
        ("weights_in=rom", r"'weights_in' must be one of flash, sram, tcm, got 'rom'"),
    ]:
        with pytest.raises(CostModelError, match=message):
            with_settings(board, [setting])


def test_a_board_file_states_its_memory_system(tmp_path) -> None:
    text = (profiles.DATA_DIR / "boards" / "ek-ra8d1.toml").read_text()
    path = tmp_path / "mine.toml"
    path.write_text(text.replace('weights_in = "flash"', 'weights_in = "tcm"'))
    assert profiles.read_board(path).weights_in == "tcm"
    path.write_text(text.replace("dcache = false", "dcache = 0"))
    with pytest.raises(CostModelError, match="'dcache' must be true or false"):
        profiles.read_board(path)


def test_helium_add_costs_its_vector_loop() -> None:
    """arm_elementwise_add_s8 with MVE executed 56,386 instructions for 4,096 elements (14 per element,
    bench/data/executed_counts_m55.json), against 320,088 on the DSP path (_m4.json): the model counts the
    vector loop, and the scalar path costs several times more."""
    counts = loops.executed("arm_elementwise_add_s8", "mve", KernelShape(in_c=4096))
    assert sum(counts.values()) == pytest.approx(56_386, rel=0.05)
    helium = estimate(add(), core="cortex-m85", clock_mhz=480).layers[0]
    assert helium.terms["mac"] == pytest.approx(loops.price(counts, profiles.core("cortex-m85")))
    scalar = estimate(add(), core="cortex-m33", clock_mhz=480).layers[0]
    assert scalar.terms["mac"] > 4 * helium.terms["mac"]


def test_factors_fitted_on_dsp_kernels_do_not_scale_helium_kernels() -> None:
    stack = profiles.stack("tflm-cmsisnn")
    doubled = replace(stack, efficiency={c: 2 * v for c, v in stack.efficiency.items()})
    for model in (dense(), add()):
        mve = [
            estimate(model, core="cortex-m85", clock_mhz=480, stack=s).totals.cycles for s in (stack, doubled)
        ]
        assert mve[0] == mve[1]
        dsp = [
            estimate(model, core="cortex-m33", clock_mhz=96, stack=s).totals.cycles for s in (stack, doubled)
        ]
        assert dsp[1] > 1.5 * dsp[0]


def test_a_cache_line_fill_reads_more_flash_per_stall_than_an_uncached_read() -> None:
    board = profiles.board("ek-ra8d1")
    uncached = flash_cycles(dense(), board)
    cached = flash_cycles(dense(), with_settings(board, ["dcache=true"]))
    assert cached == pytest.approx(uncached * 16 / 32)  # 32-byte line fills against 16-byte reads


def test_estimate_command_takes_what_ifs(capsys: pytest.CaptureFixture[str]) -> None:
    from tinyinterp.cli import main

    base = ["estimate", "zoo:ad", "--board", "ek-ra8d1", "--json"]
    assert main(base) == 0
    submitted = json.loads(capsys.readouterr().out)
    assert main([*base, "--set", "dcache=true", "--set", "weights_in=flash"]) == 0
    cached = json.loads(capsys.readouterr().out)
    assert cached["board"] == "ek-ra8d1+dcache=true+weights_in=flash"
    assert cached["totals"]["latency_ms"] < submitted["totals"]["latency_ms"]
    assert main([*base, "--set", "dcache=perhaps"]) == 2
    assert "--set dcache=perhaps: expected true or false" in capsys.readouterr().err


def test_settings_by_hand() -> None:
    """Each settable field through with_settings: dashes or underscores, the zero that four of them
    allow, every spelling of a flag, the name that lists the changes, and a clock above the maximum."""
    board = profiles.board("ek-ra8d1")  # 480 MHz at most
    zeros = ["flash-access-ns=0", "cache_kb=0", "flash_bus_mhz = 0", "cache-line-bytes=0"]
    changed = with_settings(board, [*zeros, "weights_in=sram", "dcache=off", "sram_kb=64", "clock_mhz=600"])
    assert (changed.flash_access_ns, changed.cache_kb, changed.flash_bus_mhz, changed.cache_line_bytes) == (
        0,
        0,
        0,
        0,
    )
    assert (changed.weights_in, changed.dcache, changed.sram_kb) == ("sram", False, 64)
    assert (changed.clock_mhz, changed.max_clock_mhz) == (600.0, 600.0)  # the maximum follows the clock
    assert changed.name == (
        "ek-ra8d1+flash-access-ns=0+cache_kb=0+flash_bus_mhz = 0+cache-line-bytes=0"
        "+weights_in=sram+dcache=off+sram_kb=64+clock_mhz=600"
    )
    for spelling, value in [
        ("true", True),
        ("On", True),
        ("yes", True),
        ("1", True),
        ("no", False),
        ("0", False),
    ]:
        assert with_settings(board, [f"dcache={spelling}"]).dcache is value
    assert with_settings(board, []) is board
    # A generic core's board knows no memory sizes (0): other settings leave them so, and are accepted.
    generic = with_settings(profiles.generic_board("cortex-m4", 80.0), ["cache_kb=16"])
    assert (generic.cache_kb, generic.flash_kb, generic.sram_kb) == (16, 0, 0)


def test_a_bad_setting_lists_every_key() -> None:
    keys = (
        "clock_mhz, max_clock_mhz, flash_kb, sram_kb, flash_access_ns, flash_line_bytes, cache_kb, dcache, "
    )
    keys += "weights_in, flash_bus_mhz, cache_line_bytes"
    with pytest.raises(
        CostModelError, match=f"^--set 'colour=red': expected KEY=VALUE with KEY one of {keys}$"
    ):
        with_settings(profiles.board("ek-ra8d1"), ["colour=red"])
    with pytest.raises(
        CostModelError, match=r"^--set on board ek-ra8d1: 'clock_mhz' must be positive, got 0"
    ):
        with_settings(profiles.board("ek-ra8d1"), ["clock_mhz=0"])
