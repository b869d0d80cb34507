"""Calibration on measurements, and the accuracy protocol on the published MLPerf Tiny results."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tinyinterp.cost import estimate, fit, profiles
from tinyinterp.cost.cli import EXIT_BAD_INPUT, EXIT_OK, main
from tinyinterp.cost.fit import Measurement, fit_stacks, read_measurements
from tinyinterp.cost.published import baseline, held_out, mape, observations, read_results
from tinyinterp.errors import CostModelError

BOARD = "nucleo-l4r5zi"


def test_fit_recovers_a_board_that_is_uniformly_slower(data_dir: Path) -> None:
    models = [data_dir / "models" / n for n in ("kws_ref_model.tflite", "pretrainedResnet_quant.tflite")]
    measured = [estimate(m, BOARD) for m in models]
    measurements = [
        Measurement(str(m), 1.3 * e.totals.latency_ms, 1.3 * e.totals.energy_uj * 1.5)
        for m, e in zip(models, measured)
    ]
    calibration = fit(measurements, BOARD)
    assert calibration.scale == pytest.approx(1.3, rel=0.02)
    assert calibration.power_scale == pytest.approx(1.5, rel=0.02)
    held = data_dir / "models" / "vww_96_int8.tflite"
    plain, calibrated = estimate(held, BOARD), estimate(held, BOARD, calibration=calibration)
    assert calibrated.totals.latency_ms == pytest.approx(1.3 * plain.totals.latency_ms, rel=0.03)
    assert calibrated.calibrated and not plain.calibrated


def test_a_bad_model_given_as_bytes_is_named_by_its_position() -> None:
    measurements = [Measurement("zoo:kws", 100.0), Measurement(b"not a model", 100.0)]
    with pytest.raises(CostModelError, match=r"^calibration model #2: ") as raised:
        fit(measurements, BOARD)
    assert "not a model" not in str(raised.value)  # not the bytes' repr


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "measured.csv"
    path.write_text(text)
    return path


def test_measured_csv_paths_are_relative_to_the_file(tmp_path: Path, data_dir: Path) -> None:
    model = data_dir / "models" / "ad01_int8.tflite"
    (tmp_path / "ad.tflite").write_bytes(model.read_bytes())
    rows = read_measurements(_write(tmp_path, "model,latency_ms,energy_uj\nad.tflite,9.5,\n"))
    assert rows == [Measurement(str(tmp_path / "ad.tflite"), 9.5, None)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model,ms\nx.tflite,3\n", "needs columns model,latency_ms"),
        ("model,latency_ms\n", "no measurements"),
        ("model,latency_ms\nmissing.tflite,3\n", "model file .*missing.tflite not found"),
        ("model,latency_ms\nad.tflite,fast\n", "latency_ms 'fast' is not a number"),
        ("model,latency_ms\nad.tflite,-2\n", "latency_ms must be positive"),
        ("model,latency_ms,energy_uj\nad.tflite,2,0\n", "energy_uj must be positive"),
    ],
)
def test_bad_calibration_files(tmp_path: Path, data_dir: Path, text: str, message: str) -> None:
    (tmp_path / "ad.tflite").write_bytes((data_dir / "models" / "ad01_int8.tflite").read_bytes())
    with pytest.raises(CostModelError, match=message):
        read_measurements(_write(tmp_path, text))


def test_calibrate_option(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = data_dir / "models"
    path = _write(
        tmp_path,
        f"model,latency_ms,energy_uj\n{models / 'kws_ref_model.tflite'},99.8,5230\n"
        f"{models / 'pretrainedResnet_quant.tflite'},389.6,20236\n",
    )
    assert (
        main(["estimate", str(models / "ad01_int8.tflite"), "--board", BOARD, "--calibrate", str(path)])
        == EXIT_OK
    )
    assert "(calibrated)" in capsys.readouterr().out
    broken = _write(tmp_path, "model,latency_ms\nnothing.tflite,1\n")
    assert main(
        ["estimate", str(models / "ad01_int8.tflite"), "--board", BOARD, "--calibrate", str(broken)]
    ) == (EXIT_BAD_INPUT)
    assert "nothing.tflite not found" in capsys.readouterr().err


# --- the published results ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def results(data_dir: Path) -> list:
    found, skipped = read_results(data_dir / "results" / "published_v0.5_to_v1.1.csv", data_dir / "models")
    assert not skipped
    return found


def test_shipped_stacks_are_the_fit_on_the_published_results(results: list) -> None:
    shipped = {s.name: s for s in profiles.stacks()}
    for name, stack in fit_stacks(observations(results), shipped).items():
        assert stack.efficiency == pytest.approx(shipped[name].efficiency, rel=1e-3), name


def test_leave_one_benchmark_out_accuracy(results: list) -> None:
    """LOBO MAPE at most 10% (latency) and 11% (energy), below the MACs baseline per core. The loop-count
    model measures 9.9% and 10.6%; the per-class factors it replaced measured 8.0% and 9.5% here, but held
    less well where the benchmark itself is held out (14.1% against 15.6%, bench/costmodel.py)."""
    lobo = held_out(results, {s.name: s for s in profiles.stacks()}).lobo
    base = baseline(results)
    assert mape(p.latency_error for p in lobo) <= 10.0
    assert mape(p.energy_error for p in lobo) <= 11.0
    for core in {r.board.core for r in results}:
        ours = mape(p.latency_error for p in lobo if p.result.board.core == core)
        theirs = mape(p.latency_error for p in base if p.result.board.core == core)
        assert ours < theirs, core


def test_the_held_out_measurement_is_not_used(results: list) -> None:
    """Changing a held-out result (and its re-publications) does not change its own prediction."""
    stacks = {s.name: s for s in profiles.stacks()}
    subset = [r for r in results if r.stack in ("xcubeai-7", "hale")]
    target = next(r for r in subset if r.benchmark == "ic" and r.board.name == "nucleo-l4r5zi")
    twin = [
        r for r in subset if r.benchmark == "ic" and r.board == target.board and r.family == target.family
    ]
    tampered = [replace(r, latency_ms=10 * r.latency_ms) if r in twin else r for r in subset]
    before = held_out(subset, stacks, targets=[target]).lobo[0].latency_ms
    after = held_out(tampered, stacks, targets=[tampered[subset.index(target)]]).lobo[0].latency_ms
    assert after == pytest.approx(before, rel=1e-9)
