"""tinyinterp: run TensorFlow Lite models bit-exactly as TFLM on a Cortex-M would, on a laptop."""

from tinyinterp.errors import InputError, ModelError, TinyInterpError, UnsupportedOpError
from tinyinterp.interpreter import Interpreter
from tinyinterp.model import ModelBuilder, load_model, save_model

__all__ = [
    "InputError",
    "Interpreter",
    "ModelBuilder",
    "ModelError",
    "TinyInterpError",
    "UnsupportedOpError",
    "load_model",
    "save_model",
]
__version__ = "0.1.0"
