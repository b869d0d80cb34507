"""The in-memory model (IR) and .tflite reading, writing and building."""

from tinyinterp.model.builder import ModelBuilder
from tinyinterp.model.ir import (
    NUMPY_TENSOR_TYPES,
    Model,
    Operator,
    Quantization,
    Subgraph,
    Tensor,
    TensorType,
)
from tinyinterp.model.reader import load_model
from tinyinterp.model.writer import save_model, write_model

__all__ = [
    "NUMPY_TENSOR_TYPES",
    "Model",
    "ModelBuilder",
    "Operator",
    "Quantization",
    "Subgraph",
    "Tensor",
    "TensorType",
    "load_model",
    "save_model",
    "write_model",
]
