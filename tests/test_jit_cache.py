"""numba's compiled kernels are cached in the user cache folder, never inside the package."""

from __future__ import annotations

import os
import shutil
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


def run_with_cache(
    cache: Path, root: Path = PACKAGE.parent, **env_vars: str
) -> subprocess.CompletedProcess[str]:
    """RUN_A_KERNEL with numba's cache in `cache`, importing the tinyinterp in `root` (also the working
    folder: `python -c` imports from there first)."""
    env = {**os.environ, "TINYINTERP_CACHE": str(cache), "PYTHONPATH": str(root), **env_vars}
    return subprocess.run(
        [sys.executable, "-c", RUN_A_KERNEL], env=env, cwd=root, capture_output=True, text=True, timeout=300
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


def test_a_change_to_another_kernel_file_recompiles_a_cached_kernel(tmp_path: Path) -> None:
    """pool_2d (kernels/pooling.py) is loaded from the cache until kernels/fixedpoint.py changes: a kernel
    compiles in other files' jitted functions, so numba's own stamp (the kernel's file) is not enough."""
    copy = tmp_path / "package"
    shutil.copytree(PACKAGE, copy / "tinyinterp", ignore=shutil.ignore_patterns("__pycache__"))
    runs = []
    for change in (False, False, True):
        if change:
            with (copy / "tinyinterp" / "kernels" / "fixedpoint.py").open("a") as source:
                source.write("# changed\n")
        done = run_with_cache(tmp_path / "cache", copy, NUMBA_DEBUG_CACHE="1")
        assert done.returncode == 0, done.stderr
        runs.append(done.stdout)
    compiled = ["pooling.pool_2d" in out and "data saved" in out for out in runs]
    assert compiled == [True, False, True]


FREEZE_COUNTS = """
import gc
from tinyinterp import Interpreter
from tinyinterp.model.builder import ModelBuilder
b = ModelBuilder()
x = b.input("x", (1, 4), "int8", scale=0.5, zero_point=0)
y = b.tensor("y", (1, 4), "int8", scale=0.5, zero_point=0)
b.op("RELU", [x], [y])
b.output(y)
interpreter = Interpreter(model=b.build())
before = gc.get_freeze_count()
interpreter.allocate_tensors()
after = gc.get_freeze_count()
Interpreter(model=b.build()).allocate_tensors()
print(before, after, gc.get_freeze_count())
"""


def test_the_first_allocation_freezes_numbas_registries_once(tmp_path: Path) -> None:
    """A process's first allocate_tensors() starts numba and freezes what is alive then (jit.start_numba):
    the exit of a short script does not tear numba's registries down one by one. Later ones freeze
    nothing more."""
    env = {**os.environ, "TINYINTERP_CACHE": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", FREEZE_COUNTS], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    before, after, later = map(int, done.stdout.split())
    assert before == 0
    assert after > 20_000  # numba's typing and lowering registries: tens of thousands of objects
    assert later == after
