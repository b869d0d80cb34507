"""Where the bench scripts find the MLPerf Tiny reference data, found as tests/conftest.py finds it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """`$TINYINTERP_DATA`, else `../shared/mlperf-tiny` next to the project folder."""
    configured = os.environ.get("TINYINTERP_DATA")
    return Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "mlperf-tiny"


def require(data: Path, needed: Iterable[str]) -> None:
    """Exit with a message naming what is missing (relative paths under `data`), instead of a traceback."""
    missing = [name for name in needed if not (data / name).exists()]
    if missing:
        sys.exit(
            f"{Path(sys.argv[0]).name}: missing in {data}: {', '.join(missing)}\n"
            "It needs the MLPerf Tiny reference data (models/, results/, datasets/): set TINYINTERP_DATA "
            "or give --data (default ../shared/mlperf-tiny next to the project folder)."
        )
