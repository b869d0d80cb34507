"""tinyinterp's user cache folder: downloaded models (`models/`), numba's compiled kernels (`numba/`)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """`$TINYINTERP_CACHE`, else `$XDG_CACHE_HOME/tinyinterp`, else `~/.cache/tinyinterp`."""
    configured = os.environ.get("TINYINTERP_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tinyinterp"


def numba_cache_dir() -> Path:
    return cache_dir() / "numba"
