"""The LiteRT-style interpreter: load a model, allocate (prepare every op once), set, invoke, get.

`Interpreter` mirrors `tf.lite.Interpreter` / `ai_edge_litert.interpreter.Interpreter`, so it can
be swapped in, and adds `run()` for batched inference.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinyinterp import numerics as numerics_module
from tinyinterp.errors import InputError, ModelError, TinyInterpError, UnsupportedOpError
from tinyinterp.jit import start_numba
from tinyinterp.kernels.gemm import single_threaded_blas
from tinyinterp.model.ir import Model, Operator, Subgraph, Tensor, TensorType
from tinyinterp.model.reader import load_model
from tinyinterp.model.validate import DEFAULT_MEMORY_BUDGET, activation_bytes, validate_subgraph
from tinyinterp.ops import OPS, Op, OpContext
from tinyinterp.ops.base import Array, required
from tinyinterp.ops.chain import FullyConnectedChain, chain_groups

# Items per batched pass: enough to keep BLAS busy; fewer when one item's activations are large.
BATCH_CHUNK = 64
# Activation bytes a batched pass may hold at once (im2col buffers come on top).
CHUNK_MEMORY = 256 << 20
# Fewest items worth a thread of their own.
MIN_THREAD_ITEMS = 8


def _thread_count(num_threads: int | None) -> int:
    """Threads for batched runs: the number asked for, else one per CPU this process may use."""
    if num_threads is None:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise InputError(f"num_threads must be a positive integer or None, got {num_threads!r}")
    return num_threads


def unsupported_ops(subgraph: Subgraph) -> list[str]:
    return sorted({op.opcode for op in subgraph.operators if op.opcode not in OPS})


def _is_batchable(subgraph: Subgraph, ops: list[Op]) -> bool:
    """Batched runs reuse dimension 0 as the batch: every activation must have a leading 1 and
    another dimension (an op on a [1] tensor, e.g. SOFTMAX, works along dimension 0) and elements
    (an empty one is not computed, so it would keep a batch of 1), no op may mix dimension 0 with
    the others, and no state may carry from one item to the next."""
    leading_ones = all(
        t.is_constant or (len(t.shape) >= 2 and t.shape[0] == 1 and not t.empty) for t in subgraph.tensors
    )
    stateless = not any(t.is_variable for t in subgraph.tensors)
    return leading_ones and stateless and all(op.batch_safe for op in ops)


def _leads_with_one(shape: Sequence[int]) -> bool:
    return len(shape) >= 1 and shape[0] == 1


def batch_shape(shape: Sequence[int], items: int) -> tuple[int, ...]:
    """The shape `run()` takes or returns for `items` items of a tensor of `shape`: the items
    replace a leading dimension of 1 (the model's own batch), else they come in front of it."""
    return (items, *shape[1:]) if _leads_with_one(shape) else (items, *shape)


def _as_items(value: np.ndarray, shape: tuple[int, ...], items: int) -> np.ndarray:
    """An output value as `items` items: computed outputs already are; a constant output (the
    same for every item) is repeated."""
    wanted = batch_shape(shape, items)
    if value.shape == wanted:
        return value
    return np.broadcast_to(value.reshape(batch_shape(shape, 1)), wanted)


def _label(node: Operator) -> str:
    return f"operator {node.index} ({node.opcode})"


def _op_context(label: str, error: Exception) -> str:
    """The error's message, prefixed with the operator (`label`) unless it already names one."""
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, TinyInterpError) and message.startswith("operator"):
        return message
    if not isinstance(error, TinyInterpError):
        message = f"{type(error).__name__}: {message}"
    return f"{label}: {message}"


@dataclass(frozen=True)
class Step:
    """One call of the plan: an operator, or a chain of them fused into one kernel call, reading the
    tensors `inputs` (-1: an omitted optional one) and writing `outputs`. `run` takes any number of
    items (batched runs); `bound` only the model's own shapes, and may reuse buffers between invokes."""

    label: str  # names the operator(s) in errors
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    run: Callable[[Sequence[Array | None]], list[Array]]
    bound: Callable[[Sequence[Array | None]], list[Array]]


def _steps(subgraph: Subgraph, plan: list[tuple[Operator, Op]]) -> list[Step]:
    """The plan's steps: chains of int8 FULLY_CONNECTED layers fused (ops/chain.py), other ops alone."""
    steps = []
    for group in chain_groups(plan):
        if len(group) > 1:
            chain = FullyConnectedChain(subgraph, group)
            outputs = tuple(node.outputs[0] for node, _ in group)
            steps.append(Step(chain.label, group[0][0].inputs[:1], outputs, chain, chain.bind()))
        else:
            node, op = group[0]
            steps.append(Step(_label(node), node.inputs, node.outputs, op, op.bind()))
    return steps


def _fixed_value(tensor: Tensor) -> np.ndarray | None:
    """What a tensor holds before anything runs: a constant's data, or nothing for a tensor with
    no elements (TFLM stores both without a buffer); None for what inputs and ops will write."""
    if tensor.data is None and tensor.empty:
        return np.zeros(tensor.shape, tensor.dtype.numpy)
    return tensor.data


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
        *,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        numerics: str = numerics_module.DEFAULT,
        num_threads: int | None = None,
    ) -> None:
        """`memory_budget`: bytes of activations one inference may declare; a model over it is
        refused (ModelError) before anything is allocated. `numerics`: the arithmetic's profile
        (tinyinterp.numerics; the default, "tflm", is TFLM's, bit for bit). `num_threads`: threads a
        batched `run()` computes its chunks on (by default, one per CPU this process may use)."""
        self.numerics = numerics_module.numerics_profile(numerics)
        self.num_threads = _thread_count(num_threads)
        self.model: Model = _model_from(model_path, model_content, model)
        self.subgraph = self.model.main
        missing = unsupported_ops(self.subgraph)
        if missing:
            raise UnsupportedOpError(f"unsupported operators: {', '.join(missing)}")
        validate_subgraph(self.subgraph, memory_budget)
        self.memory_budget = memory_budget
        self._values: list[np.ndarray | None] = [_fixed_value(t) for t in self.subgraph.tensors]
        self._input_dtypes = {i: self.subgraph.tensors[i].dtype.numpy for i in self.subgraph.inputs}
        self._batchable = False
        self._chunk_items = 1
        self._steps: list[Step] | None = None  # what invoke() and run() call, in order
        self._pins_blas = False  # whether some op may call BLAS (Op.calls_blas)
        self.reset_all_variables()

    # ---- LiteRT API ------------------------------------------------------------------

    def allocate_tensors(self) -> None:
        """Prepare every operator (shapes, multipliers, weights layout), once."""
        if self._steps is None:
            ops = [self._prepare(node) for node in self.subgraph.operators]
            self._batchable = _is_batchable(self.subgraph, ops)
            self._chunk_items = max(1, min(BATCH_CHUNK, CHUNK_MEMORY // self._item_bytes(ops)))
            # An op whose every output has no element computes nothing (TFLM's kernels loop over
            # no element): its outputs keep the empty values they start with.
            plan = [
                (node, op)
                for node, op in zip(self.subgraph.operators, ops)
                if not all(self.subgraph.tensors[i].empty for i in node.outputs)
            ]
            self._pins_blas = any(op.calls_blas for _, op in plan)
            self._steps = _steps(self.subgraph, plan)
            start_numba()

    def _item_bytes(self, ops: list[Op]) -> int:
        """Memory one item needs: its activations and the largest op scratch (refused over budget)."""
        largest = max(range(len(ops)), key=lambda k: ops[k].scratch_bytes, default=None)
        if largest is not None and ops[largest].scratch_bytes > self.memory_budget:
            node = self.subgraph.operators[largest]
            raise ModelError(
                f"operator {node.index} ({node.opcode}): needs {ops[largest].scratch_bytes:,} bytes of "
                f"working memory, over the memory budget of {self.memory_budget:,}; pass a larger "
                "memory_budget to allow it"
            )
        scratch = ops[largest].scratch_bytes if largest is not None else 0
        return max(activation_bytes(self.subgraph) + scratch, 1)

    def _prepare(self, node: Operator) -> Op:
        """One op's prepare step; any failure becomes a ModelError naming the operator (an error
        that is not ours means a check is missing: the original stays chained for a bug report)."""
        try:
            return OPS[node.opcode](OpContext(self.subgraph, node, self.numerics.rounding))
        except (MemoryError, KeyboardInterrupt):
            raise
        except Exception as error:
            raise ModelError(_op_context(_label(node), error)) from error

    def get_input_details(self) -> list[dict[str, Any]]:
        return [self._details(i) for i in self.subgraph.inputs]

    def get_output_details(self) -> list[dict[str, Any]]:
        return [self._details(i) for i in self.subgraph.outputs]

    def get_tensor_details(self) -> list[dict[str, Any]]:
        return [self._details(t.index) for t in self.subgraph.tensors]

    def set_tensor(self, tensor_index: int, value: np.ndarray) -> None:
        tensor = self._tensor(tensor_index)
        dtype = self._input_dtypes.get(tensor_index)  # _tensor() took integers only
        if dtype is None:
            raise InputError(f"tensor {tensor_index} '{tensor.name}' is not a model input")
        # A private copy; np.ascontiguousarray would turn a 0-d array into 1-d.
        self._values[tensor_index] = np.array(
            _as_array(tensor, value, tuple(tensor.shape), dtype), order="C", copy=True
        )

    def invoke(self) -> None:
        if self._steps is None:
            raise InputError("call allocate_tensors() before invoke()")
        for index in self.subgraph.inputs:
            if self._values[index] is None:
                tensor = self.subgraph.tensors[index]
                raise InputError(f"input tensor {index} '{tensor.name}' was not set")
        if self._pins_blas:
            with single_threaded_blas():
                self._execute(self._values, bound=True)
        else:
            self._execute(self._values, bound=True)

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
        return value.copy()

    # ---- Batched inference -------------------------------------------------------------

    def run(self, *inputs: np.ndarray) -> list[np.ndarray]:
        """Run N items at once: one array per model input, shaped `batch_shape(input shape, N)`
        ([N, *shape[1:]] when the input's shape starts with 1, else [N, *shape]); returns the
        outputs shaped likewise. Results equal running the N items one by one with invoke().

        The items go through in chunks (the kernels treat dimension 0 as a batch when every
        activation starts with 1, else one item at a time), so a large batch is never copied
        whole; a model with state (variable tensors) runs item by item, its state carried on.
        """
        self.allocate_tensors()
        if len(inputs) != len(self.subgraph.inputs):
            raise InputError(f"the model has {len(self.subgraph.inputs)} inputs, got {len(inputs)} arrays")
        arrays = [
            self._batch_input(self.subgraph.tensors[i], x) for i, x in zip(self.subgraph.inputs, inputs)
        ]
        items = self._batch_size(arrays)
        outputs = [
            np.empty(batch_shape(t.shape, items), t.dtype.numpy)
            for t in (self.subgraph.tensors[i] for i in self.subgraph.outputs)
        ]
        if not self._batchable:  # item by item, in order: a state may carry from one to the next
            with single_threaded_blas():
                for start in range(items):
                    self._run_items(arrays, outputs, start, start + 1)
            return outputs
        threads = min(self.num_threads, max(1, items // MIN_THREAD_ITEMS))
        # Enough chunks for every thread, each small enough to stay in cache.
        step = min(self._chunk_items, -(-items // threads)) if items else 1
        bounds = [(start, min(start + step, items)) for start in range(0, items, step)]
        with single_threaded_blas():
            if threads == 1 or len(bounds) == 1:
                for start, stop in bounds:
                    self._run_items(arrays, outputs, start, stop)
            else:
                # The kernels release the GIL (numba nogil, BLAS), so chunks run side by side.
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(lambda b: self._run_items(arrays, outputs, *b), bounds))
        return outputs

    def _run_items(self, arrays: list[np.ndarray], outputs: list[np.ndarray], start: int, stop: int) -> None:
        """Items start..stop of the inputs through the model, into the same items of the outputs."""
        chunk = [self._chunk(t, x, start, stop) for t, x in zip(self._input_tensors(), arrays)]
        for output, tensor, value in zip(outputs, self._output_tensors(), self._run_chunk(chunk)):
            output[start:stop] = _as_items(value, tensor.shape, stop - start)

    def _input_tensors(self) -> list[Tensor]:
        return [self.subgraph.tensors[i] for i in self.subgraph.inputs]

    def _output_tensors(self) -> list[Tensor]:
        return [self.subgraph.tensors[i] for i in self.subgraph.outputs]

    def _chunk(self, tensor: Tensor, array: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Items start..stop of a batch, as the model's input takes them: a private copy, with
        the model's own shape when items go one at a time."""
        chunk = np.array(array[start:stop], order="C", copy=True)
        return chunk if self._batchable else chunk.reshape(tensor.shape)

    def _run_chunk(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        # Fresh activations; the variable tensors' arrays are shared, so their state carries on.
        values = [self._values[t.index] if t.is_variable else _fixed_value(t) for t in self.subgraph.tensors]
        for index, x in zip(self.subgraph.inputs, inputs):
            values[index] = x
        self._execute(values)
        return [required(values[i]) for i in self.subgraph.outputs]

    @staticmethod
    def _batch_input(tensor: Tensor, value: Any) -> np.ndarray:
        array = value if isinstance(value, np.ndarray) else _to_array(tensor, value)
        items = array.shape[0] if array.ndim else -1  # a 0-d array holds no items: refused below
        return _as_array(tensor, array, batch_shape(tensor.shape, items), tensor.dtype.numpy, batched=True)

    def _batch_size(self, arrays: Sequence[np.ndarray]) -> int:
        sizes = {x.shape[0] for x in arrays}
        if len(sizes) > 1:
            raise InputError(f"all inputs need the same number of items, got {sorted(sizes)}")
        return sizes.pop() if sizes else 0

    # ---- Internals ---------------------------------------------------------------------

    def _execute(self, values: list[np.ndarray | None], bound: bool = False) -> None:
        """The steps on `values`, in order; `bound`: their batch-1 evals (invoke)."""
        assert self._steps is not None
        for step in self._steps:
            try:
                evaluate = step.bound if bound else step.run
                outputs = evaluate([values[i] if i >= 0 else None for i in step.inputs])
            except (MemoryError, KeyboardInterrupt):
                raise
            except Exception as error:
                kind = InputError if isinstance(error, InputError) else ModelError
                raise kind(_op_context(step.label, error)) from error
            for index, value in zip(step.outputs, outputs):
                values[index] = value

    def _tensor(self, index: int) -> Tensor:
        if not isinstance(index, (int, np.integer)) or not 0 <= index < len(self.subgraph.tensors):
            raise InputError(
                f"tensor index {index!r} is out of range (the model has {len(self.subgraph.tensors)})"
            )
        return self.subgraph.tensors[index]

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


def _model_from(model_path: Any, model_content: Any, model: Model | None) -> Model:
    sources = [s for s in (model_path, model_content, model) if s is not None]
    if len(sources) != 1:
        raise InputError("give exactly one of model_path, model_content or model")
    if model is not None:
        if not isinstance(model, Model):
            raise InputError(f"model must be a tinyinterp Model, got {type(model).__name__}")
        return model
    if model_content is not None:
        if not isinstance(model_content, (bytes, bytearray, memoryview)):
            hint = " (to load a file, pass model_path)" if isinstance(model_content, str) else ""
            raise InputError(
                f"model_content must be the model's bytes, got {type(model_content).__name__}{hint}"
            )
        return load_model(model_content)
    if not isinstance(model_path, (str, os.PathLike)):
        raise InputError(f"model_path must be a path, got {type(model_path).__name__}")
    return load_model(model_path)


def _to_array(tensor: Tensor, value: Any) -> np.ndarray:
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as error:
        raise InputError(f"input tensor {tensor.index} '{tensor.name}': not an array ({error})") from None


def _as_array(
    tensor: Tensor, value: Any, shape: tuple[int, ...], dtype: np.dtype, batched: bool = False
) -> np.ndarray:
    """The value as an array of the tensor's exact dtype (`dtype`, given: the property costs a set_tensor
    a tenth of its time) and `shape`, never cast (a byte-swapped array of the same type is taken, in
    native order); not copied when it already is one."""
    array = value if isinstance(value, np.ndarray) else _to_array(tensor, value)
    if array.dtype != dtype and array.dtype.newbyteorder("=") == dtype.newbyteorder("="):
        array = array.astype(dtype)
    if array.dtype != dtype:
        got = array.dtype.str if array.dtype.name == dtype.name else array.dtype.name
        raise InputError(f"input tensor {tensor.index} '{tensor.name}' expects dtype {dtype.name}, got {got}")
    if array.shape != shape:
        layout = (
            f"[{', '.join(['N', *map(str, batch_shape(tensor.shape, 1)[1:])])}] "
            f"(N items of its shape {list(tensor.shape)})"
            if batched
            else str(list(shape))
        )
        raise InputError(
            f"input tensor {tensor.index} '{tensor.name}' expects shape {layout}, got {list(array.shape)}"
        )
    return array
