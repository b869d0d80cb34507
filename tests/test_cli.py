"""The `tinyinterp` command line on the zoo stand-ins and the reference models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyinterp import Interpreter
from tinyinterp.cli import EXIT_BAD_INPUT, main
from tinyinterp.zoo import stand_in


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
    assert "641 values are not a whole number of inputs of shape [1, 640]" in capsys.readouterr().err
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
