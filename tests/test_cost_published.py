"""The published results as calibration data (cost/published.py): rows to profiles, and the predictions'
arithmetic on results written by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tinyinterp.cost import energy, profiles, published
from tinyinterp.cost.estimate import Components, model_components
from tinyinterp.cost.published import Prediction, Result, baseline, mape, read_results, stack_of, uncalibrated
from tinyinterp.errors import CostModelError
from tinyinterp.model import load_model


@pytest.mark.parametrize(
    ("software", "family", "accelerator", "expected"),
    [
        ("Tensorflow Lite Micro 2.3.1", "tflm_cmsisnn", "", "tflm-cmsisnn"),
        ("Tensorflow Lite Micro 2.3.1", "tflm_reference", "", "tflm-reference"),
        ("X-CUBE-AI v8.1.0", "xcubeai", "", "xcubeai-8.1"),
        ("X-CUBE-AI v10.0", "xcubeai", "", "xcubeai-8.1"),  # 10.0 is later than 8.1, not earlier as text
        ("X-CUBE-AI v9.0", "xcubeai", "", "xcubeai-8.1"),
        ("X-CUBE-AI v8.0.1", "xcubeai", "", "xcubeai-7"),
        ("X-CUBE-AI v7.3.0", "xcubeai", "", "xcubeai-7"),
        ("X-CUBE-AI", "xcubeai", "", "xcubeai-7"),
        ("Plumerai Inference Engine 2023", "plumerai", "", "plumerai-2023"),
        ("Plumerai Inference Engine 2024", "plumerai", "", "plumerai-2023"),
        ("Plumerai Inference Engine 2022", "plumerai", "", "plumerai-2022"),
        ("Plumerai Inference Engine", "plumerai", "", "plumerai-2022"),
        ("Plumerai 12023", "plumerai", "", "plumerai-2022"),  # not a year on its own
        ("microTVM with CMSIS-NN", "microtvm", "", "microtvm-cmsisnn"),
        ("microTVM + cmsis-nn", "microtvm", "", "microtvm-cmsisnn"),
        ("microTVM", "microtvm", "", "microtvm-native"),
        ("ONNC runtime", "other", "", "onnc"),
        ("HALE 1.0", "other", "", "hale"),
        ("Simplicity SDK", "other", "MVP", "silabs-mvp"),
        ("Simplicity SDK with MVP", "other", "", "silabs-mvp"),
        ("some engine", "other", "", None),
    ],
)
def test_stack_of_a_row(software: str, family: str, accelerator: str, expected: str | None) -> None:
    row = {"software_stack": software, "stack_family": family, "accelerator": accelerator}
    assert stack_of(row) == expected


def test_a_row_without_an_accelerator_column() -> None:
    assert stack_of({"software_stack": "some engine", "stack_family": "other"}) is None


COLUMNS = "version,org,system,benchmark,core,clock_mhz,board_name,accelerator,software_stack,stack_family,"
COLUMNS += "latency_ms,energy_uj\n"


def _csv(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "results.csv"
    path.write_text(COLUMNS + "".join(f"{row}\n" for row in rows))
    return path


def test_read_results_maps_rows_and_names_those_left_out(tmp_path: Path, data_dir: Path) -> None:
    path = _csv(
        tmp_path,
        "1.0,o,riscv-board,ad,riscv,100,PCL Scepu02,,TFLM,tflm_reference,13.6,",  # not a Cortex-M: no note
        "1.0,o,s1,ad,cortex-m4,80,Nucleo-L4R5ZI,,TFLM,tflm_cmsisnn,9.5,380.0",
        "1.0,o,s5,ad,cortex-m4,80,Some Board,,TFLM,tflm_cmsisnn,9.5,",
        # a quoted name over two lines: the csv module keeps its CRLF (files opened with newline="")
        '1.1,o,"s2\r\nrev B",kws,cortex-m4,120,Nucleo-L4R5ZI,,TFLM,tflm_reference,140,',
        "1.0,o,s3,ad,cortex-m4,80,Nucleo-L4R5ZI,,an engine,other,9.5,",
        "1.0,o,s4,xyz,cortex-m4,80,Nucleo-L4R5ZI,,TFLM,tflm_cmsisnn,9.5,",
    )
    results, skipped = read_results(path, data_dir / "models")
    assert skipped == [
        "1.0/o/s5: no board profile for Some Board",
        "1.0/o/s3 ad: no stack profile or model for it",
        "1.0/o/s4 xyz: no stack profile or model for it",
    ]
    first, second = results
    board = profiles.board("nucleo-l4r5zi")
    # the row's model, board, clock and stack, costed by the estimator
    ad01 = load_model(data_dir / "models" / "ad01_int8.tflite")
    expected_parts = model_components(ad01, board, 80.0, profiles.stack("tflm-cmsisnn"))
    assert first == Result(
        "1.0/o/s1", "ad", board, "tflm-cmsisnn", "tflm_cmsisnn", 80.0, 9.5, 380.0, expected_parts
    )
    assert (second.system, second.benchmark, second.stack, second.family) == (
        "1.1/o/s2\r\nrev B",
        "kws",
        "tflm-reference",
        "tflm_reference",
    )
    assert (second.clock_mhz, second.latency_ms, second.energy_uj) == (120.0, 140.0, None)
    # the kws model's MACs, costed at the row's clock with the row's stack
    kws = profiles.stack("tflm-reference")
    assert second.macs == second.parts.macs > 0
    assert second.parts.cycles(kws) > 0


def test_an_unreadable_results_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.csv"
    with pytest.raises(CostModelError, match=rf"^cannot read results {missing}: No such file or directory$"):
        read_results(missing, tmp_path)


BOARD = profiles.read_board(profiles.DATA_DIR / "boards" / "nucleo-l4r5zi.toml")


def _result(system: str, benchmark: str, macs: int, latency_ms: float, energy_uj: float | None) -> Result:
    parts = Components(
        {"conv": 1000.0, "pointwise": 0.0, "depthwise": 0.0, "fc": 500.0, "elementwise": 0.0}, 200.0, 3, macs
    )
    return Result(
        system, benchmark, BOARD, "tflm-cmsisnn", "tflm_cmsisnn", 80.0, latency_ms, energy_uj, parts
    )


def test_a_results_cycles_and_power() -> None:
    result = _result("s", "ad", 1000, 2.5, 30.0)
    assert result.macs == 1000
    assert result.cycles == 2.5 * 80.0 * 1e3  # ms x MHz x 1000
    assert result.power_mw == 30.0 / 2.5


def test_prediction_errors_are_relative_to_the_measurement() -> None:
    measured = _result("s", "ad", 1000, 2.0, 40.0)
    assert Prediction(measured, 3.0, 30.0).latency_error == pytest.approx(0.5)
    assert Prediction(measured, 3.0, 30.0).energy_error == pytest.approx(-0.25)
    assert Prediction(measured, 3.0, None).energy_error is None
    assert Prediction(_result("s", "ad", 1000, 2.0, None), 3.0, 30.0).energy_error is None


def test_uncalibrated_predictions_by_hand() -> None:
    stack = profiles.read_stack(profiles.DATA_DIR / "stacks" / "tflm-cmsisnn.toml")
    result = _result("s", "ad", 1000, 2.0, 40.0)
    (prediction,) = uncalibrated([result], {"tflm-cmsisnn": stack})
    assert prediction.result is result
    cycles = (
        1000.0 * stack.efficiency["conv"] + 500.0 * stack.efficiency["fc"] + 200.0 + 3 * stack.overhead_cycles
    )
    assert prediction.latency_ms == pytest.approx(cycles / 80e3)
    assert prediction.energy_uj == pytest.approx(energy.power_mw(BOARD, 80.0) * cycles / 80e3)


def test_the_macs_baseline_by_hand() -> None:
    # System a: 1 ms per 1000 MACs on ad, 4 ms per 1000 on kws: each from the geometric mean of the others.
    a_ad, a_kws, a_ic = (
        _result("a", b, m, t, e)
        for b, m, t, e in [("ad", 1000, 1.0, 10.0), ("kws", 1000, 4.0, 90.0), ("ic", 2000, 3.0, None)]
    )
    alone = _result("b", "ad", 1000, 7.0, 5.0)
    predictions = baseline([a_ad, a_kws, a_ic, alone])
    # ad from kws (4 / 1000) and ic (1.5 / 1000): sqrt(6) / 1000 per MAC; energies from kws alone (90 / 1000)
    assert predictions[0].latency_ms == pytest.approx(1000 * math.sqrt(4 / 1000 * 3 / 2000))
    assert predictions[0].energy_uj == pytest.approx(90.0)
    # ic from ad and kws: sqrt(1 x 4) / 1000 per MAC, 2000 MACs; energy from sqrt(10 x 90) / 1000 per MAC
    assert predictions[2].latency_ms == pytest.approx(2000 * math.sqrt(1 / 1000 * 4 / 1000))
    assert predictions[2].energy_uj == pytest.approx(2000 * math.sqrt(10 / 1000 * 90 / 1000))
    # a system with one result has nothing to predict it from
    assert math.isnan(predictions[3].latency_ms) and predictions[3].energy_uj is None
    assert predictions[3].result is alone


def test_mape_leaves_out_what_was_not_measured() -> None:
    assert mape([0.1, -0.2, None, math.nan]) == pytest.approx(15.0)
    assert math.isnan(mape([None, math.nan]))
    assert math.isnan(mape([]))


def test_what_a_held_out_result_leaves_out() -> None:
    held = _result("1.0/o/s", "ad", 1000, 1.0, None)
    republished = _result("1.1/p/t", "ad", 1000, 1.0, None)  # same benchmark, board and stack family
    other_board = Result(
        "1.1/p/u",
        "ad",
        profiles.board("nucleo-h7a3zi-q"),
        "tflm-cmsisnn",
        "tflm_cmsisnn",
        80.0,
        1.0,
        None,
        held.parts,
    )
    other_family = Result("1.1/p/v", "ad", BOARD, "xcubeai-7", "xcubeai", 80.0, 1.0, None, held.parts)
    own_other_benchmark = _result("1.0/o/s", "kws", 1000, 1.0, None)
    others = [held, republished, other_board, other_family, own_other_benchmark]
    board = published._excluder("board")
    assert [board(held, r) for r in others] == [True, True, False, False, False]
    benchmark = published._excluder("benchmark")
    assert [benchmark(held, r) for r in others] == [True, True, True, True, False]
    with pytest.raises(CostModelError, match=r"^unknown exclusion 'system': use 'board' or 'benchmark'$"):
        published._excluder("system")


def test_held_out_predictions_by_hand() -> None:
    """held_out on three results written by hand, conv-only or fc-only components (no flash, no operator):
    every fit is then linear in log space, so its MAP has a closed form. Stacks "s" and "t" share no class."""
    classes = profiles.OP_CLASSES
    stacks = {
        "s": profiles.StackProfile("s", "cmsis-nn", dict.fromkeys(classes, 0.5), 50.0),
        "t": profiles.StackProfile("t", "cmsis-nn", dict.fromkeys(classes, 0.8), 50.0),
    }

    def parts(op_class: str, cycles: float) -> Components:
        return Components(dict.fromkeys(classes, 0.0) | {op_class: cycles}, 0.0, 0, 1)

    watts = energy.power_mw(BOARD, 80.0)  # the board's modelled power: measured powers are set against it
    # At 80 MHz: 12.5 ms is 1e6 cycles (efficiency 1 on its 1e6 conv cycles), 75 ms is 6e6 (twice its
    # 3e6 conv cycles), 25 ms is 2e6 (efficiency 1 on its fc cycles); a/kws draws twice the modelled power.
    a_ad = Result("a", "ad", BOARD, "s", "fs", 80.0, 12.5, None, parts("conv", 1e6))
    a_kws = Result("a", "kws", BOARD, "s", "fs", 80.0, 75.0, 2 * watts * 75.0, parts("conv", 3e6))
    b_ic = Result("b", "ic", BOARD, "t", "ft", 80.0, 25.0, None, parts("fc", 2e6))
    predicted = published.held_out([a_ad, a_kws, b_ic], stacks)
    plain, lobo = predicted.uncalibrated, predicted.lobo

    # a/ad: the refit sees a/kws and b/ic; fit.fit_stacks' priors are centred on efficiency 1 (log 0), and
    # a/kws's residual (system + level + shared conv + conv deviation - ln 2) / 0.08 involves none of b/ic's
    # parameters. Its MAP sum is ln 2 x V / (V + 0.08^2), V = 0.3^2 + 3^2 + 0.3^2 + 0.2^2 the prior
    # variances, split in proportion to them; the efficiency leaves out the system's share.
    noise, variances = 0.08**2, 0.3**2 + 3.0**2 + 0.3**2 + 0.2**2
    log_efficiency = math.log(2) * (variances - 0.3**2) / (variances + noise)
    # a/kws calibrates a/ad: one residual (scale + conv factor - (ln 2 - log efficiency)) / 0.08, priors
    # 1 and 0.15 (fit_components); its power, twice the modelled, shrunk by 1 / (1 + (0.08 / 0.5)^2).
    calibrated = (math.log(2) - log_efficiency) * (1 + 0.15**2) / (1 + 0.15**2 + noise)
    power = math.exp(math.log(2) / (1 + (0.08 / 0.5) ** 2))
    uncalibrated_ms = math.exp(log_efficiency) * 1e6 / 80e3
    assert plain[0].result is lobo[0].result is a_ad
    assert plain[0].latency_ms == pytest.approx(uncalibrated_ms, rel=1e-6)
    assert plain[0].energy_uj == pytest.approx(watts * uncalibrated_ms, rel=1e-6)
    assert lobo[0].latency_ms == pytest.approx(math.exp(calibrated) * uncalibrated_ms, rel=1e-6)
    assert lobo[0].energy_uj == pytest.approx(power * watts * lobo[0].latency_ms, rel=1e-6)
    # a/kws: the refit sees a/ad and b/ic, both exactly at efficiency 1 (every residual and prior term 0),
    # and a/ad calibrates it to the identity; no own energy: the modelled power. 3e6 cycles at 80 MHz.
    for prediction in (plain[1], lobo[1]):
        assert prediction.result is a_kws
        assert prediction.latency_ms == pytest.approx(37.5, rel=1e-12)
        assert prediction.energy_uj == pytest.approx(watts * 37.5, rel=1e-12)
    # b/ic: no result of stack t in its refit (t keeps its 0.8) and no other result of its own system.
    for prediction in (plain[2], lobo[2]):
        assert prediction.result is b_ic
        assert prediction.latency_ms == pytest.approx(0.8 * 2e6 / 80e3, rel=1e-12)
        assert prediction.energy_uj == pytest.approx(watts * 20.0, rel=1e-12)
    assert len(plain) == len(lobo) == 3
