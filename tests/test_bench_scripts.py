"""The bench scripts find the reference data through TINYINTERP_DATA and name what is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script", ["costmodel.py", "estimate_time.py", "speed.py"])
def test_missing_reference_data_is_named(script: str, tmp_path: Path) -> None:
    env = {**os.environ, "TINYINTERP_DATA": str(tmp_path), "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"{script}: missing in {tmp_path}: ")
    assert "models" in done.stderr.splitlines()[0] and "Traceback" not in done.stderr


def test_int_gemm_bench_checks_and_prints_every_layer_shape() -> None:
    """bench/int_gemm.py needs no reference data (the zoo stand-ins have the layers' shapes)."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / "int_gemm.py"), "--rows", "20", "--seconds", "0.001"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "zoo:ad" in done.stdout and "│      640 │   128 │" in done.stdout
