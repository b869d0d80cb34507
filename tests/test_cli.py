"""The `tinyinterp` command line on the zoo stand-ins and the reference models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_dut import random_load, zoo_device

from tinyinterp import Interpreter, ModelBuilder
from tinyinterp.cli import EXIT_BAD_INPUT, main
from tinyinterp.zoo import stand_in

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_run_prints_int_and_real_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "zoo:kws"]) == 0
    out = capsys.readouterr().out
    assert "int: [" in out and "real: [" in out


def test_run_npy_and_bin_inputs_agree_with_the_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = np.arange(640, dtype=np.int64).astype(np.int8).reshape(1, 640)
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "x.bin").write_bytes(x.tobytes())
    expected = Interpreter(model=stand_in("ad")).run(x)[0]
    for name in ("x.npy", "x.bin"):
        assert (
            main(["run", "zoo:ad", "--input", str(tmp_path / name), "--output", str(tmp_path / "y.npy")]) == 0
        )
        np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), expected)
    capsys.readouterr()


def test_run_rejects_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.bin").write_bytes(b"\x00" * 641)
    assert main(["run", "zoo:ad", "--input", str(tmp_path / "x.bin")]) == EXIT_BAD_INPUT
    assert "641 bytes are not a whole number of inputs of shape [1, 640]" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "missing.tflite")]) == EXIT_BAD_INPUT
    assert "no such model file" in capsys.readouterr().err
    assert main(["run", "zoo:nope"]) == EXIT_BAD_INPUT
    assert "no zoo model 'nope'" in capsys.readouterr().err


def test_info_and_run_on_every_reference_model(
    reference_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", str(reference_model)]) == 0
    assert "total" in capsys.readouterr().out
    assert main(["run", str(reference_model)]) == 0
    assert "int: [" in capsys.readouterr().out


def test_python_dash_m_runs_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tinyinterp", "boards"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "nucleo-l4r5zi" in done.stdout


def run_outputs(capsys: pytest.CaptureFixture[str], tmp_path: Path, *argv: str) -> tuple[np.ndarray, str]:
    """The first output `run` saved, and what it printed on stderr."""
    assert main(["run", *argv, "--output", str(tmp_path / "y.npy")]) == 0
    return np.load(tmp_path / "y.npy"), capsys.readouterr().err


def test_run_converts_a_runner_image_stimulus_with_benchmark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, 32 * 32 * 3, dtype=np.uint8)
    (tmp_path / "image.bin").write_bytes(pixels.tobytes())
    shifted = (pixels.astype(np.int16) - 128).astype(np.int8).reshape(1, 32, 32, 3)
    expected = Interpreter(model=stand_in("ic")).run(shifted)[0]
    converted, err = run_outputs(
        capsys, tmp_path, "zoo:ic", "--input", str(tmp_path / "image.bin"), "--benchmark", "ic01"
    )
    np.testing.assert_array_equal(converted, expected)
    assert "warning" not in err
    as_int8, err = run_outputs(capsys, tmp_path, "zoo:ic", "--input", str(tmp_path / "image.bin"))
    assert not np.array_equal(as_int8, expected)
    assert f"warning: {tmp_path / 'image.bin'} has the size of uint8 RGB images" in err
    assert "--benchmark ic01 or vww01" in err


def test_run_quantizes_an_ad01_window_with_benchmark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device = zoo_device("ad01")
    window = random_load(device, 3)
    (tmp_path / "window.bin").write_bytes(window)
    converted, _ = run_outputs(
        capsys, tmp_path, "zoo:ad", "--input", str(tmp_path / "window.bin"), "--benchmark", "ad01"
    )
    np.testing.assert_array_equal(converted, device.outputs([window]))


def test_run_cuts_ad01_windows_as_the_label_file_beside_the_stimulus_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device = zoo_device("ad01")
    data = random_load(device, 4) + random_load(device, 5)[:1024]  # windows of 2560 bytes every 512 bytes
    windows = [data[start : start + 2560] for start in (0, 512, 1024)]
    (tmp_path / "file.bin").write_bytes(data)
    (tmp_path / "y_labels.csv").write_text("file.bin,2,1,2560,512\n")
    converted, _ = run_outputs(
        capsys, tmp_path, "zoo:ad", "--input", str(tmp_path / "file.bin"), "--benchmark", "ad01"
    )
    np.testing.assert_array_equal(converted, device.outputs(windows))


def test_run_benchmark_errors_name_the_file_and_what_was_expected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "short.bin").write_bytes(bytes(100))
    assert main(["run", "zoo:kws", "--input", str(tmp_path / "short.bin"), "--benchmark", "kws01"]) == 2
    assert f"{tmp_path / 'short.bin'}: 100 bytes, expected 490 bytes (int8 bytes) per kws01 input" in (
        capsys.readouterr().err
    )
    np.save(tmp_path / "x.npy", np.zeros((1, 490), np.int8))
    assert main(["run", "zoo:kws", "--input", str(tmp_path / "x.npy"), "--benchmark", "kws01"]) == 2
    assert "is a .npy array" in capsys.readouterr().err
    assert main(["run", "zoo:kws", "--benchmark", "kws01"]) == 2
    assert "give --input" in capsys.readouterr().err


def float_model(path: Path) -> Path:
    builder = ModelBuilder()
    x = builder.input("x", (1, 8), "float32")
    y = builder.tensor("y", (1, 8), "float32")
    builder.op("RELU", [x], [y])
    builder.output(y)
    path.write_bytes(builder.build_bytes())
    return path


def test_run_draws_random_inputs_for_a_float_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = str(float_model(tmp_path / "relu.tflite"))
    first, _ = run_outputs(capsys, tmp_path, model, "--seed", "5")
    again, _ = run_outputs(capsys, tmp_path, model, "--seed", "5")
    assert first.dtype == np.float32 and first.shape == (1, 8)
    np.testing.assert_array_equal(first, again)
    assert (first >= 0).all() and (first > 0).any() and (first < 1).all()  # RELU of uniform [-1, 1)
    assert main(["run", model]) == 0
    assert "values: [" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--input", "nope.bin"], "nope.bin: No such file or directory"),
        (["--output", "no-folder/y.npy"], "--output no-folder/y.npy: folder no-folder does not exist"),
        (["--seed", "-1"], "--seed must be a non-negative integer, got -1"),
        (
            ["--seed", "1", "--input", "x.bin"],
            "--seed draws the random input used without --input: give one or the other",
        ),
    ],
)
def test_run_option_errors_exit_2_before_running(
    argv: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "zoo:ad", *argv]) == EXIT_BAD_INPUT
    out, err = capsys.readouterr()
    assert err == f"tinyinterp run: error: {message}\n" and not out
