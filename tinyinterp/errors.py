"""The project's error hierarchy: every error a user can cause is a ValueError subclass."""


class TinyInterpError(ValueError):
    """Base class of every error tinyinterp raises on bad input."""


class ModelError(TinyInterpError):
    """A .tflite file is malformed, inconsistent, or uses something we do not support."""


class UnsupportedOpError(ModelError):
    """The model uses operators (or operator variants) that tinyinterp has no kernel for."""


class InputError(TinyInterpError):
    """A tensor given to the interpreter has the wrong dtype, shape or index."""


class CostModelError(TinyInterpError):
    """The cost model cannot answer: unknown board, core or stack, bad profile or calibration file."""
