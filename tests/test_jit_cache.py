"""numba's compiled kernels are cached in the user cache folder, never inside the package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tinyinterp

PACKAGE = Path(tinyinterp.__file__).resolve().parent
RUN_A_KERNEL = """
import numpy as np
from tinyinterp.kernels.pooling import pool_2d
out = np.zeros((1, 1, 1, 1), np.int8)
pool_2d(np.ones((1, 2, 2, 1), np.int8), 2, 2, 2, 2, 0, 0, False, np.int8(-128), -128, 127, out)
print(out.item())
"""
CACHE_FILES = ("*.nbi", "*.nbc")


def run_with_cache(cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TINYINTERP_CACHE": str(cache), "PYTHONPATH": str(PACKAGE.parent)}
    return subprocess.run(
        [sys.executable, "-c", RUN_A_KERNEL], env=env, capture_output=True, text=True, timeout=300
    )


def cache_files(folder: Path) -> set[Path]:
    return {path for pattern in CACHE_FILES for path in folder.rglob(pattern)}


def test_kernels_are_cached_in_the_user_cache_folder(tmp_path: Path) -> None:
    before = cache_files(PACKAGE)
    done = run_with_cache(tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    assert cache_files(PACKAGE) == before
    assert {p.suffix for p in cache_files(tmp_path / "cache" / "numba")} == {".nbi", ".nbc"}


def test_an_unwritable_cache_folder_warns_and_still_runs(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    before = cache_files(PACKAGE)
    done = run_with_cache(not_a_folder)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
    assert f"cannot write numba's cache folder {not_a_folder / 'numba'}" in done.stderr
    assert done.stderr.count("RuntimeWarning") == 1
    assert cache_files(PACKAGE) == before
