"""tinyinterp: run TensorFlow Lite models bit-exactly as TFLM on a Cortex-M would, on a laptop.

Names are imported on first use, so that `tinyinterp.estimate` (shapes only) never pays for
numba, which the interpreter's kernels need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tinyinterp.errors import InputError, ModelError, TinyInterpError, UnsupportedOpError

if TYPE_CHECKING:
    from tinyinterp.cost.estimate import Estimate, estimate
    from tinyinterp.interpreter import Interpreter
    from tinyinterp.model import ModelBuilder, load_model, save_model

_LAZY = {
    "Interpreter": "tinyinterp.interpreter",
    "ModelBuilder": "tinyinterp.model",
    "load_model": "tinyinterp.model",
    "save_model": "tinyinterp.model",
    "estimate": "tinyinterp.cost",
    "Estimate": "tinyinterp.cost",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'tinyinterp' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


__all__ = [
    "Estimate",
    "InputError",
    "Interpreter",
    "ModelBuilder",
    "ModelError",
    "TinyInterpError",
    "UnsupportedOpError",
    "estimate",
    "load_model",
    "save_model",
]
__version__ = "0.1.0"
