"""The LiteRT-style interpreter: load a model, allocate (prepare every op once), set, invoke, get.

`Interpreter` mirrors `tf.lite.Interpreter` / `ai_edge_litert.interpreter.Interpreter`, so it can
be swapped in, and adds `run()` for batched inference.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinyinterp.errors import InputError, UnsupportedOpError
from tinyinterp.kernels.gemm import single_threaded_blas
from tinyinterp.model.ir import Model, Subgraph, Tensor, TensorType
from tinyinterp.model.reader import load_model
from tinyinterp.ops import OPS, Op, OpContext
from tinyinterp.ops.base import required

# Items per batched pass: bounds the memory of im2col buffers while keeping BLAS busy.
BATCH_CHUNK = 64


def unsupported_ops(subgraph: Subgraph) -> list[str]:
    return sorted({op.opcode for op in subgraph.operators if op.opcode not in OPS})


def _is_batchable(subgraph: Subgraph, ops: list[Op]) -> bool:
    """Batched runs reuse dimension 0 as the batch: every activation must have a leading 1, no op
    may mix dimension 0 with the others, and no state may carry from one item to the next."""
    leading_ones = all(t.is_constant or (len(t.shape) >= 1 and t.shape[0] == 1) for t in subgraph.tensors)
    stateless = not any(t.is_variable for t in subgraph.tensors)
    return leading_ones and stateless and all(op.batch_safe for op in ops)


def _initial_state(tensor: Tensor) -> np.ndarray:
    """A variable tensor as TFLM resets it: its zero point for int8 (memset), zero bytes otherwise."""
    quant = tensor.quantization
    if tensor.dtype == TensorType.INT8 and quant is not None and quant.zero_point.size > 0:
        return np.full(tensor.shape, quant.zero_point[0], tensor.dtype.numpy)
    return np.full(tensor.shape, 0, tensor.dtype.numpy)


class Interpreter:
    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        model_content: bytes | None = None,
        model: Model | None = None,
    ) -> None:
        sources = [s for s in (model_path, model_content, model) if s is not None]
        if len(sources) != 1:
            raise InputError("give exactly one of model_path, model_content or model")
        source = sources[0]
        self.model: Model = source if isinstance(source, Model) else load_model(source)
        self.subgraph = self.model.main
        missing = unsupported_ops(self.subgraph)
        if missing:
            raise UnsupportedOpError(f"unsupported operators: {', '.join(missing)}")
        self._ops: list[Op] | None = None
        self._values: list[np.ndarray | None] = [t.data for t in self.subgraph.tensors]
        self._batchable = False
        self.reset_all_variables()

    # ---- LiteRT API ------------------------------------------------------------------

    def allocate_tensors(self) -> None:
        """Prepare every operator (shapes, multipliers, weights layout), once."""
        if self._ops is None:
            self._ops = [OPS[op.opcode](OpContext(self.subgraph, op)) for op in self.subgraph.operators]
            self._batchable = _is_batchable(self.subgraph, self._ops)

    def get_input_details(self) -> list[dict[str, Any]]:
        return [self._details(i) for i in self.subgraph.inputs]

    def get_output_details(self) -> list[dict[str, Any]]:
        return [self._details(i) for i in self.subgraph.outputs]

    def get_tensor_details(self) -> list[dict[str, Any]]:
        return [self._details(t.index) for t in self.subgraph.tensors]

    def set_tensor(self, tensor_index: int, value: np.ndarray) -> None:
        tensor = self._tensor(tensor_index)
        if tensor_index not in self.subgraph.inputs:
            raise InputError(f"tensor {tensor_index} '{tensor.name}' is not a model input")
        self._values[tensor_index] = self._checked(tensor, value, batch=None)

    def invoke(self) -> None:
        if self._ops is None:
            raise InputError("call allocate_tensors() before invoke()")
        for index in self.subgraph.inputs:
            if self._values[index] is None:
                tensor = self.subgraph.tensors[index]
                raise InputError(f"input tensor {index} '{tensor.name}' was not set")
        self._execute(self._values)

    def reset_all_variables(self) -> None:
        """Put every variable tensor (the state of SVDF, LSTM, ...) back to its initial value.

        Ops update variable tensors in place, so their values persist from one invoke() (or item
        of a run()) to the next until this is called.
        """
        for tensor in self.subgraph.tensors:
            if tensor.is_variable:
                self._values[tensor.index] = _initial_state(tensor)

    def get_tensor(self, tensor_index: int) -> np.ndarray:
        tensor = self._tensor(tensor_index)
        value = self._values[tensor_index]
        if value is None:
            raise InputError(f"tensor {tensor_index} '{tensor.name}' has no value yet (call invoke() first)")
        return np.array(value, copy=True)

    # ---- Batched inference -------------------------------------------------------------

    def run(self, *inputs: np.ndarray) -> list[np.ndarray]:
        """Run on [N, *input_shape[1:]] arrays (one per model input); returns [N, ...] outputs.

        Results equal running the N items one by one (the kernels treat dimension 0 as a batch);
        a model with state (variable tensors) runs them one by one, its state carried across items.
        """
        self.allocate_tensors()
        if len(inputs) != len(self.subgraph.inputs):
            raise InputError(f"the model has {len(self.subgraph.inputs)} inputs, got {len(inputs)} arrays")
        batch = self._batch_size(inputs)
        checked = [
            self._checked(self.subgraph.tensors[i], x, batch) for i, x in zip(self.subgraph.inputs, inputs)
        ]
        step = BATCH_CHUNK if self._batchable else 1
        chunks = [self._run_chunk([x[s : s + step] for x in checked]) for s in range(0, batch, step)]
        return [np.concatenate([c[k] for c in chunks]) for k in range(len(self.subgraph.outputs))]

    def _run_chunk(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        # Fresh activations; the variable tensors' arrays are shared, so their state carries on.
        values = [self._values[t.index] if t.is_variable else t.data for t in self.subgraph.tensors]
        for index, x in zip(self.subgraph.inputs, inputs):
            values[index] = x
        self._execute(values)
        return [required(values[i]) for i in self.subgraph.outputs]

    def _batch_size(self, inputs: Sequence[np.ndarray]) -> int:
        sizes = {np.shape(x)[0] if np.ndim(x) else None for x in inputs}
        if len(sizes) != 1 or None in sizes:
            raise InputError(
                f"all inputs need the same leading batch dimension, got sizes {sorted(map(str, sizes))}"
            )
        return int(np.shape(inputs[0])[0])

    # ---- Internals ---------------------------------------------------------------------

    def _execute(self, values: list[np.ndarray | None]) -> None:
        assert self._ops is not None
        with single_threaded_blas():
            for node, op in zip(self.subgraph.operators, self._ops):
                outputs = op([values[i] if i >= 0 else None for i in node.inputs])
                for index, value in zip(node.outputs, outputs):
                    values[index] = value

    def _tensor(self, index: int) -> Tensor:
        if not isinstance(index, (int, np.integer)) or not 0 <= index < len(self.subgraph.tensors):
            raise InputError(
                f"tensor index {index!r} is out of range (the model has {len(self.subgraph.tensors)})"
            )
        return self.subgraph.tensors[index]

    @staticmethod
    def _checked(tensor: Tensor, value: Any, batch: int | None) -> np.ndarray:
        """The value as the tensor's exact dtype and shape (with `batch` items in front), never cast."""
        array = np.asarray(value)
        dtype = tensor.dtype.numpy
        if array.dtype != dtype:
            raise InputError(
                f"input tensor {tensor.index} '{tensor.name}' expects dtype {dtype.name}, "
                f"got {array.dtype.name}"
            )
        shape = tensor.shape if batch is None else (batch, *tensor.shape[1:])
        if array.shape != tuple(shape):
            raise InputError(
                f"input tensor {tensor.index} '{tensor.name}' expects shape {list(shape)}, "
                f"got {list(array.shape)}"
            )
        # A private copy; np.ascontiguousarray would turn a 0-d array into 1-d.
        return np.array(array, order="C", copy=True)

    def _details(self, index: int) -> dict[str, Any]:
        tensor = self.subgraph.tensors[index]
        quant = tensor.quantization
        scales = quant.scale.copy() if quant is not None else np.zeros(0, np.float32)
        zero_points = quant.zero_point.astype(np.int32) if quant is not None else np.zeros(0, np.int32)
        per_tensor = (float(scales[0]), int(zero_points[0])) if scales.size == 1 else (0.0, 0)
        signature = tensor.shape_signature if tensor.shape_signature is not None else tensor.shape
        return {
            "name": tensor.name,
            "index": tensor.index,
            "shape": np.array(tensor.shape, dtype=np.int32),
            "shape_signature": np.array(signature, dtype=np.int32),
            "dtype": tensor.dtype.numpy.type,
            "quantization": per_tensor,
            "quantization_parameters": {
                "scales": scales,
                "zero_points": zero_points,
                "quantized_dimension": quant.quantized_dimension if quant is not None else 0,
            },
            "sparsity_parameters": {},
        }
