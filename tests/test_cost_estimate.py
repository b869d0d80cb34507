"""`estimate()` and the `estimate` / `boards` commands: totals, JSON, errors and exit codes, speed."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REFERENCE_MODELS, import_required

from tinyinterp.cost import energy, estimate
from tinyinterp.cost.cli import EXIT_BAD_INPUT, EXIT_DOES_NOT_FIT, EXIT_OK, main
from tinyinterp.errors import CostModelError

BOARD = "nucleo-l4r5zi"


def test_totals_add_up(reference_model: Path) -> None:
    e = estimate(reference_model, board="nucleo-l4r5zi")
    t = e.totals
    assert t.cycles == pytest.approx(sum(layer.cycles for layer in e.layers))
    assert sum(layer.percent for layer in e.layers) == pytest.approx(100.0)
    assert t.latency_ms == pytest.approx(t.cycles / 120e3)
    assert t.energy_uj == pytest.approx(t.power_mw * t.latency_ms)
    assert t.macs == sum(layer.macs for layer in e.layers) > 0
    assert t.fits and 0 < t.arena_bytes < t.ram_bytes
    assert t.flash_bytes > reference_model.stat().st_size


def test_generic_board_from_a_core(data_dir: Path) -> None:
    e = estimate(data_dir / "models" / "kws_ref_model.tflite", core="cortex-m33", clock_mhz=96)
    assert (e.board, e.core, e.clock_mhz) == ("generic-cortex-m33", "cortex-m33", 96)
    assert any("memory sizes unknown" in note for note in e.notes)


@pytest.mark.parametrize("mhz", [0, -8, math.nan, math.inf])
def test_non_positive_clocks_are_rejected(data_dir: Path, mhz: float) -> None:
    with pytest.raises(CostModelError, match="clock must be a positive number"):
        estimate(data_dir / "models" / "ad01_int8.tflite", "nucleo-l4r5zi", mhz)


def test_argument_errors(data_dir: Path, tmp_path: Path) -> None:
    model = data_dir / "models" / "ad01_int8.tflite"
    with pytest.raises(CostModelError, match="not both"):
        estimate(model, "nucleo-l4r5zi", core="cortex-m4")
    with pytest.raises(CostModelError, match="needs a clock"):
        estimate(model, core="cortex-m4")
    with pytest.raises(CostModelError, match="no such model file"):
        estimate(tmp_path / "missing.tflite", "nucleo-l4r5zi")


def test_a_model_too_large_for_the_board(data_dir: Path) -> None:
    e = estimate(data_dir / "models" / "vww_96_int8.tflite", "nucleo-f103rb")
    assert not e.totals.fits
    assert any(
        "does not fit: the arena needs" in note and "nucleo-f103rb has 20 KB" in note for note in e.notes
    )


def test_duty_cycle() -> None:
    duty = energy.duty_cycle(
        energy_uj=500.0,
        latency_ms=10.0,
        inferences_per_s=2.0,
        sleep_mw=0.01,
        battery_mah=1000.0,
        battery_v=3.0,
    )
    assert duty.busy_fraction == pytest.approx(0.02)
    assert duty.average_mw == pytest.approx(2 * 500 / 1000 + 0.98 * 0.01)
    assert duty.battery_hours == pytest.approx(3000 / duty.average_mw)
    with pytest.raises(CostModelError, match="do not fit in a second"):
        energy.duty_cycle(500.0, 10.0, 200.0, 0.01)


# --- the commands -------------------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_estimate_command_prints_layers_and_totals(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    code, out, _ = run(
        capsys,
        "estimate",
        data_dir / "models" / "kws_ref_model.tflite",
        "--board",
        "nucleo-l4r5zi",
        "--rate",
        "2",
        "--battery-mah",
        "1000",
    )
    assert code == EXIT_OK
    assert "arm_convolve_1x1_s8_fast" in out and "total:" in out and "fits" in out
    assert "battery life" in out


def test_json_output_keys(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, out, _ = run(
        capsys,
        "estimate",
        data_dir / "models" / "ad01_int8.tflite",
        "--board",
        "ek-ra6m4",
        "--mhz",
        "100",
        "--json",
    )
    data = json.loads(out)
    assert code == EXIT_OK
    assert {"model", "board", "core", "clock_mhz", "stack", "totals", "layers"} <= set(data)
    assert {"cycles", "latency_ms", "energy_uj", "arena_bytes", "flash_bytes", "fits"} <= set(data["totals"])
    assert {
        "opcode",
        "kernel",
        "macs",
        "cycles",
        "latency_ms",
        "percent",
        "weight_bytes",
        "activation_bytes",
    } <= set(data["layers"][0])
    assert (data["board"], data["clock_mhz"], data["stack"]) == ("ek-ra6m4", 100, "tflm-cmsisnn")


def test_compare_boards(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, out, _ = run(
        capsys,
        "estimate",
        data_dir / "models" / "vww_96_int8.tflite",
        "--compare",
        "nucleo-l4r5zi,nucleo-h7a3zi-q,nucleo-f103rb",
    )
    assert code == EXIT_OK
    lines = out.splitlines()
    assert [line.split()[0] for line in lines[2:]] == ["nucleo-l4r5zi", "nucleo-h7a3zi-q", "nucleo-f103rb"]
    assert lines[-1].endswith("NO")


def test_boards_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "boards", "--stacks")
    assert code == EXIT_OK and "nucleo-g0b1re" in out and "xcubeai-8.1" in out
    code, out, _ = run(capsys, "boards", "--json")
    assert {b["name"] for b in json.loads(out)["boards"]} >= {"nucleo-l4r5zi", "ek-ra8m1"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--board", "nucleo-x9"], "unknown board 'nucleo-x9'"),
        (["--board", "nucleo-l4r5zi", "--mhz", "0"], "clock must be a positive number"),
        (["--board", "nucleo-l4r5zi", "--mhz", "-4"], "clock must be a positive number"),
        (
            ["--board", "nucleo-l4r5zi", "--mhz", "inf"],
            "clock must be a positive number of MHz (finite), got inf",
        ),
        (["--board", "nucleo-l4r5zi", "--mhz", "nan"], "clock must be a positive number"),
        (["--board", "nucleo-l4r5zi", "--battery-mah", "100"], "--battery-mah needs --rate"),
        (["--board", "nucleo-l4r5zi", "--sleep-mw", "0.1"], "--sleep-mw needs --rate"),
        (["--board", "nucleo-l4r5zi", "--rate", "1", "--battery-v", "3"], "--battery-v needs --battery-mah"),
        (["--board", "nucleo-l4r5zi", "--rate", "inf"], "inferences per second must be positive and finite"),
        (
            ["--board", "nucleo-l4r5zi", "--rate", "1", "--sleep-mw", "inf"],
            "sleep power must be non-negative",
        ),
        (
            ["--board", "nucleo-l4r5zi", "--rate", "1", "--battery-mah", "inf"],
            "battery capacity must be positive and finite, got inf mAh",
        ),
        (
            ["--compare", "nucleo-l4r5zi,nucleo-h7a3zi-q", "--rate", "1"],
            "--rate: for one --board, not --compare",
        ),
        (["--core", "cortex-m4"], "needs a clock"),
        (["--board", "nucleo-l4r5zi", "--stack", "tvm-turbo"], "unknown stack"),
        (
            ["--board", "nucleo-l4r5zi", "--calibrate", "/nonexistent/measured.csv"],
            "cannot read calibration file",
        ),
        ([], "give --board"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    capsys: pytest.CaptureFixture[str], data_dir: Path, arguments: list[str], message: str
) -> None:
    code, out, err = run(capsys, "estimate", data_dir / "models" / "ad01_int8.tflite", *arguments)
    assert code == EXIT_BAD_INPUT
    assert message in err and not out


def test_unreadable_model_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "broken.tflite"
    path.write_bytes(b"not a flatbuffer")
    code, _, err = run(capsys, "estimate", path, "--board", "nucleo-l4r5zi")
    assert code == EXIT_BAD_INPUT and "error:" in err


def test_require_fit_exits_3(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    model = data_dir / "models" / "vww_96_int8.tflite"
    code, out, _ = run(capsys, "estimate", model, "--board", "nucleo-f103rb")
    assert code == EXIT_OK and "DOES NOT FIT" in out
    code, _, err = run(capsys, "estimate", model, "--board", "nucleo-f103rb", "--require-fit")
    assert code == EXIT_DOES_NOT_FIT and "does not fit" in err


def test_plot(capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path) -> None:
    import_required("matplotlib")
    path = tmp_path / "layers.png"
    code, out, _ = run(
        capsys,
        "estimate",
        data_dir / "models" / "kws_ref_model.tflite",
        "--board",
        "nucleo-l4r5zi",
        "--plot",
        path,
    )
    assert code == EXIT_OK and path.stat().st_size > 1000
    assert out.endswith(f"plot: wrote {path}\n")


# The cost model must not need numba or the interpreter's kernels (a fresh `tinyinterp estimate` answers
# in a fraction of a second: `python bench/estimate_time.py` measures it). Check what an estimate loaded.
NO_KERNELS = """
import sys
from tinyinterp.cli import main
assert main(["estimate", sys.argv[1], "--board", "nucleo-l4r5zi", "--json"]) == 0
loaded = [m for m in sys.modules if m == "numba" or m.startswith(("tinyinterp.ops", "tinyinterp.kernels",
                                                                    "tinyinterp.interpreter"))]
assert not loaded, loaded
"""


@pytest.mark.parametrize("name", REFERENCE_MODELS)
def test_estimating_imports_no_kernels(name: str, data_dir: Path) -> None:
    command = [sys.executable, "-c", NO_KERNELS, str(data_dir / "models" / name)]
    subprocess.run(command, check=True, capture_output=True)
