"""How `estimate()` assembles layers and totals (tinyinterp/cost/estimate.py), on small models built here:
each layer's terms are its formula's (registry.layer_work) times the stack's factor for its op class (from
the stack file) and the calibration's, plus flash and the stack's per-operator overhead; totals are sums,
the board's power at the clock, the arena plan and the file's bytes. Expectations are composed by hand from
those parts, not read from estimate()'s own output."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tinyinterp import zoo
from tinyinterp.cost import arena, energy, profiles
from tinyinterp.cost.estimate import (
    Calibration,
    Components,
    estimate,
    layers_work,
    len_model_bytes,
    model_components,
    open_model,
)
from tinyinterp.cost.registry import layer_work
from tinyinterp.errors import CostModelError
from tinyinterp.model import ModelBuilder, save_model
from tinyinterp.model.ir import Model

Q = {"scale": 0.05, "zero_point": 0}
KERNEL_TERMS = ("mac", "data", "requant")


def conv_then_fc() -> Model:
    """A 3x3 conv (8 filters, 2 of them all zero) over 6x6x4, then a FULLY_CONNECTED of 10 units over it."""
    b = ModelBuilder()
    x = b.input("x", (1, 6, 6, 4), "int8", **Q)
    w = np.ones((8, 3, 3, 4), np.int8)
    w[[1, 5]] = 0
    cw = b.constant("cw", w, "int8", scale=[0.01] * 8, zero_point=0)
    c = b.tensor("c", (1, 6, 6, 8), "int8", **Q)
    b.op("CONV_2D", [x, cw, -1], [c], padding="SAME", stride_w=1, stride_h=1)
    flat = b.tensor("flat", (1, 288), "int8", **Q)
    b.op("RESHAPE", [c], [flat])
    fw = b.constant("fw", np.ones((10, 288), np.int8), "int8", scale=0.01, zero_point=0)
    y = b.tensor("y", (1, 10), "int8", **Q)
    b.op("FULLY_CONNECTED", [flat, fw, -1], [y])
    b.output(y)
    return b.build()


BOARD = "nucleo-l4r5zi"  # Cortex-M4 at 120 MHz, 5 wait states: a flash term
MODEL = conv_then_fc()


def formula_terms(model: Model, mhz: float, kernels: str = "cmsis-nn") -> list[dict[str, float]]:
    board = profiles.board(BOARD)
    core = profiles.core(board.core)
    return [layer_work(model.main, op, core, board, mhz, kernels).terms for op in model.main.operators]


def test_layers_are_their_formulas_times_the_stack_and_calibration_factors() -> None:
    stack = profiles.read_stack(profiles.DATA_DIR / "stacks" / "tflm-cmsisnn.toml")
    calibration = Calibration(scale=1.5, efficiency={"conv": 2.0})
    found = estimate(MODEL, board=BOARD, clock_mhz=80, calibration=calibration)
    classes = ("conv", "elementwise", "fc")
    expected = []
    for terms, op_class in zip(formula_terms(MODEL, 80), classes, strict=True):
        factor = stack.efficiency[op_class] * (2.0 if op_class == "conv" else 1.0) * 1.5
        layer = {t: terms.get(t, 0.0) * factor for t in KERNEL_TERMS}
        layer |= {"flash": terms.get("flash", 0.0) * 1.5, "overhead": stack.overhead_cycles * 1.5}
        expected.append(layer)
    assert [layer.terms for layer in found.layers] == [pytest.approx(e, rel=1e-12) for e in expected]
    assert expected[0]["flash"] > 0 and expected[2]["flash"] > 0  # weights read from flash at 80 MHz
    total = sum(sum(e.values()) for e in expected)
    for layer, terms in zip(found.layers, expected, strict=True):
        assert layer.cycles == pytest.approx(sum(terms.values()), rel=1e-12)
        assert layer.latency_ms == pytest.approx(sum(terms.values()) / 80e3, rel=1e-12)
        assert layer.percent == pytest.approx(100 * sum(terms.values()) / total, rel=1e-12)
    assert [(layer.index, layer.opcode, layer.op_class) for layer in found.layers] == [
        (0, "CONV_2D", "conv"),
        (1, "RESHAPE", "elementwise"),
        (2, "FULLY_CONNECTED", "fc"),
    ]
    assert found.totals.cycles == pytest.approx(total, rel=1e-12)
    assert found.calibrated and not estimate(MODEL, board=BOARD).calibrated


def test_totals_by_hand() -> None:
    board = profiles.board(BOARD)
    found = estimate(MODEL, board=BOARD, clock_mhz=80, calibration=Calibration(power_scale=0.5))
    totals = found.totals
    assert totals.latency_ms == pytest.approx(totals.cycles / 80e3, rel=1e-12)
    # The board's power at 80 MHz: static + (active - static) x 80 / 120, halved by the calibration.
    power = 0.5 * (board.power.static_mw + (board.power.active_mw - board.power.static_mw) * 80 / 120)
    assert totals.power_mw == pytest.approx(power, rel=1e-12)
    assert totals.energy_uj == pytest.approx(power * totals.latency_ms, rel=1e-12)
    assert totals.macs == 36 * 8 * 36 + 10 * 288
    head = arena.plan(MODEL, arena.cmsis_nn(profiles.core("cortex-m4"))).head_bytes
    assert (totals.arena_bytes, totals.ram_bytes) == (head, head + arena.persistent_bytes(MODEL))
    assert totals.flash_bytes == len(save_model(MODEL)) + arena.code_bytes(MODEL)
    assert totals.fits and found.notes == ()
    assert (found.model, found.board, found.core, found.clock_mhz, found.stack) == (
        "model",
        "nucleo-l4r5zi",
        "cortex-m4",
        80.0,
        "tflm-cmsisnn",
    )


def test_folding_stacks_scale_requantization_by_live_outputs_and_the_rest_by_live_macs() -> None:
    """The conv's 2 all-zero filters of 8 make 2 of its 8 output channels constant: 3/4 of its outputs and
    MACs live; the FC after the RESHAPE reads 288 values, not 8 channels, and keeps all its work."""
    board = profiles.board(BOARD)
    core = profiles.core(board.core)
    plain = layers_work(MODEL, core, board, 120, "reference")
    folded = layers_work(MODEL, core, board, 120, "reference", fold_constants=True)
    assert folded[0].terms == pytest.approx({t: v * 0.75 for t, v in plain[0].terms.items()}, rel=1e-12)
    assert folded[1:] == plain[1:]
    # A conv after a conv with constant channels: its outputs all live, its MACs on 6 of 8 input channels.
    b = ModelBuilder()
    x = b.input("x", (1, 6, 6, 4), "int8", **Q)
    first_w = np.ones((8, 1, 1, 4), np.int8)
    first_w[[1, 5]] = 0
    first = b.tensor("first", (1, 6, 6, 8), "int8", **Q)
    b.op("CONV_2D", [x, b.constant("w1", first_w, "int8", scale=[0.01] * 8, zero_point=0), -1], [first])
    second = b.tensor("second", (1, 6, 6, 4), "int8", **Q)
    second_w = b.constant("w2", np.ones((4, 1, 1, 8), np.int8), "int8", scale=[0.01] * 4, zero_point=0)
    b.op("CONV_2D", [first, second_w, -1], [second])
    b.output(second)
    model = b.build()
    plain, folded = (layers_work(model, core, board, 120, "reference", fold) for fold in (False, True))
    expected = {t: v * (1.0 if t == "requant" else 0.75) for t, v in plain[1].terms.items()}
    assert folded[1].terms == pytest.approx(expected, rel=1e-12)


def test_model_components_split_kernel_cycles_by_class_and_kernel_kind() -> None:
    board = profiles.board(BOARD)
    stack = profiles.stack("tflm-cmsisnn")
    terms = formula_terms(MODEL, 120)
    components = model_components(MODEL, board, 120, stack)
    kernel = [sum(t.get(k, 0.0) for k in KERNEL_TERMS) for t in terms]
    assert components.kernel == pytest.approx(
        {c: 0.0 for c in profiles.OP_CLASSES} | {"conv": kernel[0], "elementwise": kernel[1], "fc": kernel[2]}
    )
    assert components.vector_kernel == {c: 0.0 for c in profiles.OP_CLASSES}
    assert components.flash == pytest.approx(sum(t.get("flash", 0.0) for t in terms))
    assert (components.operators, components.macs) == (3, 36 * 8 * 36 + 10 * 288)
    # A stack on TFLM's reference kernels: their formulas.
    reference = model_components(MODEL, board, 120, profiles.stack("tflm-reference"))
    kernel = [sum(t.get(k, 0.0) for k in KERNEL_TERMS) for t in formula_terms(MODEL, 120, "reference")]
    assert (reference.kernel["conv"], reference.kernel["fc"]) == pytest.approx((kernel[0], kernel[2]))
    # On a Helium core the kernels with MVE loops are counted apart.
    helium = profiles.generic_board("cortex-m55", 100)
    mve = model_components(MODEL, helium, 100, stack)
    assert mve.vector_kernel["conv"] > 0 and mve.kernel["conv"] == 0
    assert mve.kernel["elementwise"] > 0 and mve.vector_kernel["elementwise"] == 0  # RESHAPE: a memcpy


def test_components_cycles_by_hand() -> None:
    components = Components(
        kernel={"conv": 100.0, "fc": 10.0}, flash=7.0, operators=3, macs=0, vector_kernel={"conv": 1000.0}
    )
    stack = replace(
        profiles.stack("tflm-cmsisnn"),
        efficiency={"conv": 2.0, "fc": 3.0},
        mve_efficiency={"conv": 5.0},
        overhead_cycles=11.0,
    )
    calibration = Calibration(scale=0.5, efficiency={"conv": 4.0})
    kernel = 2.0 * 4.0 * 100 + 3.0 * 1.0 * 10 + 5.0 * 4.0 * 1000
    assert components.cycles(stack, calibration) == pytest.approx(0.5 * (kernel + 7.0 + 3 * 11.0))
    assert components.cycles(stack) == pytest.approx(2.0 * 100 + 3.0 * 10 + 5.0 * 1000 + 7.0 + 33.0)
    assert components.vector_cycles(stack) == pytest.approx(5.0 * 1000)


def test_sources_and_their_flash_bytes(tmp_path: Path) -> None:
    data = save_model(MODEL)
    path = tmp_path / "m.tflite"
    path.write_bytes(data + b"\0" * 16)  # the file's own size counts, padding and all
    assert open_model(MODEL) == (MODEL, "model")
    assert open_model(data)[1] == "model"
    assert open_model(path)[1] == "m.tflite"
    assert open_model(str(path))[1] == "m.tflite"
    assert len_model_bytes(data, MODEL) == len(data)
    assert len_model_bytes(path, MODEL) == len(data) + 16
    assert len_model_bytes(MODEL, MODEL) == len(data)
    kws = zoo.open_model("zoo:kws")
    assert open_model("zoo:kws")[1] == "zoo:kws"
    assert len_model_bytes("zoo:kws", kws) == len(save_model(kws))
    with pytest.raises(CostModelError, match=r"^nowhere\.tflite: no such model file$"):
        open_model("nowhere.tflite")


def test_boards_given_as_profiles_or_paths() -> None:
    board = profiles.board(BOARD)
    assert estimate(MODEL, board=board).board == "nucleo-l4r5zi"
    path = profiles.DATA_DIR / "boards" / "nucleo-l4r5zi.toml"
    assert estimate(MODEL, board=path).board == "nucleo-l4r5zi"
    assert estimate(MODEL, board=str(path)).clock_mhz == 120
    with pytest.raises(CostModelError, match=r"^give a board or a core, not both$"):
        estimate(MODEL, board=BOARD, core="cortex-m4")
    with pytest.raises(
        CostModelError, match=r"^give a board \(see `tinyinterp boards`\) or a core with a clock$"
    ):
        estimate(MODEL)
    with pytest.raises(
        CostModelError, match=r"^a generic cortex-m4 board needs a clock: give clock_mhz \(--mhz\)$"
    ):
        estimate(MODEL, core="cortex-m4")


def test_any_positive_clock_is_taken() -> None:
    assert estimate(MODEL, core="cortex-m4", clock_mhz=0.5).clock_mhz == 0.5
    assert estimate(MODEL, board=BOARD, clock_mhz=1).clock_mhz == 1.0


def test_notes() -> None:
    above = estimate(MODEL, board=BOARD, clock_mhz=150)
    assert above.notes == ("clock 150 MHz is above the board's maximum 120 MHz",)
    assert estimate(MODEL, board=BOARD, clock_mhz=120).notes == ()
    generic = estimate(MODEL, core="cortex-m4", clock_mhz=100)
    assert generic.notes == ("generic-cortex-m4: memory sizes unknown, fit not checked",)
    assert generic.totals.fits
    # Flash too small: 128 KB on nucleo-f103rb against a model of 600 KB of weights.
    b = ModelBuilder()
    x = b.input("x", (1, 1000), "int8", **Q)
    y = b.tensor("y", (1, 600), "int8", **Q)
    w = b.constant("w", np.ones((600, 1000), np.int8), "int8", scale=0.01, zero_point=0)
    b.op("FULLY_CONNECTED", [x, w, -1], [y])
    b.output(y)
    big = b.build()
    found = estimate(big, board="nucleo-f103rb")
    flash = len(save_model(big)) + arena.code_bytes(big)
    assert found.notes == (
        f"does not fit: model and code need {flash / 1024:.1f} KB of flash, nucleo-f103rb has 128 KB",
    )
    assert not found.totals.fits


def test_ops_without_a_formula_are_named_in_one_note() -> None:
    b = ModelBuilder()
    x = b.input("x", (1, 8), "int8", **Q)
    t = b.tensor("t", (1, 8), "int8", scale=1 / 128, zero_point=0)
    b.op("TANH", [x], [t])
    y = b.tensor("y", (1, 8), "int8", scale=1 / 256, zero_point=-128)
    b.op("LOGISTIC", [t], [y])
    b.output(y)
    notes = estimate(b.build(), board=BOARD).notes
    assert notes == ("no dedicated cycle formula for LOGISTIC, TANH: generic element-wise fallback",)


def test_a_model_with_several_subgraphs_is_costed_on_its_main_one() -> None:
    two = Model((MODEL.main, replace(MODEL.main, name="other")))
    found = estimate(two, board=BOARD)
    assert found.notes == ("only the main subgraph is costed",)
    assert found.totals.cycles == pytest.approx(estimate(MODEL, board=BOARD).totals.cycles)


def test_power_at_the_default_clock() -> None:
    board = profiles.board(BOARD)
    assert estimate(MODEL, board=BOARD).totals.power_mw == pytest.approx(energy.power_mw(board, 120))
    assert math.isclose(energy.power_mw(board, 120), board.power.active_mw)


def test_a_board_with_exactly_the_memory_needed_fits() -> None:
    # 2 x 72 KB of activations: enough RAM that the note's KB differ from 1025-byte ones at 0.1 KB.
    b = ModelBuilder()
    x = b.input("x", (1, 96, 96, 8), "int8", **Q)
    y = b.tensor("y", (1, 96, 96, 8), "int8", **Q)
    w = b.constant("w", np.ones((8, 1, 1, 8), np.int8), "int8", scale=[0.01] * 8, zero_point=0)
    b.op("CONV_2D", [x, w, -1], [y])
    b.output(y)
    model = b.build()
    board = profiles.board(BOARD)
    totals = estimate(model, board=board).totals
    ram, flash = totals.ram_bytes, totals.flash_bytes
    exact = replace(board, sram_kb=ram / 1024, flash_kb=flash / 1024)
    assert estimate(model, board=exact).totals.fits
    # A KB of 1024 bytes: 1024.5 bytes' worth of KB falls short.
    short = replace(board, sram_kb=ram / 1024.5, flash_kb=flash / 1024.5)
    found = estimate(model, board=short)
    assert not found.totals.fits
    assert found.notes[0].startswith(
        f"does not fit: the arena needs {ram / 1024:.1f} KB of RAM, nucleo-l4r5zi has "
    )
    assert found.notes[1].startswith(f"does not fit: model and code need {flash / 1024:.1f} KB of flash, ")


def test_the_stack_chooses_kernels_scratch_and_folding() -> None:
    """A 3x3 conv over 2x2x64 into 4 channels, 2 of its filters all zero. CMSIS-NN asks for 2 x 2 x 576
    bytes of im2col scratch, which outgrows the activations; TFLM's reference kernel asks for none."""
    b = ModelBuilder()
    x = b.input("x", (1, 2, 2, 64), "int8", **Q)
    w = np.ones((4, 3, 3, 64), np.int8)
    w[[0, 3]] = 0
    y = b.tensor("y", (1, 2, 2, 4), "int8", **Q)
    cw = b.constant("w", w, "int8", scale=[0.01] * 4, zero_point=0)
    b.op("CONV_2D", [x, cw, -1], [y], padding="SAME", stride_w=1, stride_h=1)
    b.output(y)
    model = b.build()
    cmsis, reference = (estimate(model, board=BOARD, stack=s) for s in ("tflm-cmsisnn", "tflm-reference"))
    assert (cmsis.layers[0].kernel, reference.layers[0].kernel) == (
        "arm_convolve_s8",
        "reference_integer_ops::ConvPerChannel",
    )
    assert (
        cmsis.totals.arena_bytes == arena.plan(model, arena.cmsis_nn(profiles.core("cortex-m4"))).head_bytes
    )
    assert reference.totals.arena_bytes == arena.plan(model, arena.REFERENCE).head_bytes
    assert cmsis.totals.arena_bytes >= reference.totals.arena_bytes + 2 * 2 * 576
    # A stack that folds constant channels: half the outputs and MACs live, the operator overhead stays.
    folding = replace(profiles.stack("tflm-cmsisnn"), folds_constant_channels=True)
    folded = estimate(model, board=BOARD, stack=folding).layers[0].terms
    plain = cmsis.layers[0].terms
    assert folded == pytest.approx({t: v * (1.0 if t == "overhead" else 0.5) for t, v in plain.items()})
