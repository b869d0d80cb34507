"""Building blocks: quantization parameters (with their edge cases) and input tensors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

from tinyinterp.quant import ACTIVATIONS
from tinyinterp.testing.cases import OpCase

DTYPE_RANGES = {"int8": (-128, 127), "int16": (-32768, 32767), "int32": (-(2**31), 2**31 - 1)}

CaseStrategy = Callable[..., st.SearchStrategy[OpCase]]
CASES: dict[tuple[str, str], CaseStrategy] = {}


def cases_for(opcode: str, dtypes: tuple[str, ...]) -> Callable[[CaseStrategy], CaseStrategy]:
    """Register a strategy factory `(dtype=...) -> SearchStrategy[OpCase]` for an op's dtypes."""

    def register(factory: CaseStrategy) -> CaseStrategy:
        for dtype in dtypes:
            CASES[(opcode, dtype)] = factory
        return factory

    return register


def log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    """A float32-representable value spread evenly over orders of magnitude."""
    return st.floats(np.log2(low), np.log2(high)).map(lambda e: float(np.float32(2.0**e)))


def scales(low: float = 1e-4, high: float = 1.0) -> st.SearchStrategy[float]:
    return log_uniform(low, high)


def zero_points(dtype: str) -> st.SearchStrategy[int]:
    """Uniform zero points, with the dtype's extremes and 0 tried often."""
    low, high = DTYPE_RANGES[dtype]
    if dtype == "int16":  # TFLM's 16-bit activations are symmetric
        return st.just(0)
    return st.one_of(st.sampled_from([low, high, 0]), st.integers(low, high))


def effective_multipliers() -> st.SearchStrategy[float]:
    """Ratios output_scale / (input scales): typical, just below and above 1, and tiny enough to
    exercise shift limits (TFLM flushes multipliers below 2**-31 to zero)."""
    return st.one_of(
        log_uniform(1e-5, 0.5),
        st.floats(0.999, 0.99999999),
        st.floats(1.0, 4.0),
        st.sampled_from([2.0**-31, 2.0**-32, 2.0**-30, 0.5, 1.0]),
    )


def activations() -> st.SearchStrategy[str]:
    return st.sampled_from(ACTIVATIONS)


def paddings() -> st.SearchStrategy[str]:
    return st.sampled_from(["SAME", "VALID"])


def tensor_values(shape: tuple[int, ...], dtype: str) -> st.SearchStrategy[np.ndarray]:
    """Input data: uniform over the dtype (floats: over [-8, 8]), only extremes, or one constant."""
    numpy_dtype = np.dtype(dtype)
    if int(np.prod(shape)) == 0:
        return st.just(np.zeros(shape, numpy_dtype))
    low, high = DTYPE_RANGES.get(dtype, (-8.0, 8.0))
    if numpy_dtype.kind == "f":
        extremes_set = [low, high, 0.0, -0.0, 1e-30, -1e-30, 3.0e38, -3.0e38]
        constant = st.floats(low, high, width=32).map(lambda v: np.full(shape, v, numpy_dtype))
    else:
        extremes_set = [low, high]
        constant = st.integers(int(low), int(high)).map(lambda v: np.full(shape, v, numpy_dtype))

    def uniform(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        if numpy_dtype.kind == "f":
            return rng.uniform(low, high, size=shape).astype(numpy_dtype)
        return rng.integers(int(low), int(high) + 1, size=shape).astype(numpy_dtype)

    def extremes(seed: int) -> np.ndarray:
        return np.random.default_rng(seed).choice(extremes_set, size=shape).astype(numpy_dtype)

    seeds = st.integers(0, 2**32 - 1)
    return st.one_of(seeds.map(uniform), seeds.map(extremes), constant)


def weights(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Symmetric int8 weights (TFLM requires weight zero points of 0): uniform or extreme."""

    def uniform(seed: int) -> np.ndarray:
        return np.random.default_rng(seed).integers(-127, 128, size=shape).astype(np.int8)

    def extremes(seed: int) -> np.ndarray:
        return np.random.default_rng(seed).choice([-127, 127], size=shape).astype(np.int8)

    seeds = st.integers(0, 2**32 - 1)
    return st.one_of(seeds.map(uniform), seeds.map(extremes))


def biases(channels: int, dtype: str) -> st.SearchStrategy[np.ndarray]:
    bound = 2**20 if dtype == "int8" else 2**31
    numpy_dtype = np.int32 if dtype == "int8" else np.int64
    return st.integers(0, 2**32 - 1).map(
        lambda seed: np.random.default_rng(seed).integers(-bound, bound, size=channels).astype(numpy_dtype)
    )


def asymmetric_zero_points(dtype: str) -> st.SearchStrategy[int]:
    """Zero points over the whole range of int8, int16 or int32, for the ops TFLM lets take asymmetric
    16-bit tensors (SUB, RELU6, LEAKY_RELU, PRELU, QUANTIZE, DEQUANTIZE) and QUANTIZE's int32
    tensors; extremes and 0 tried often."""
    low, high = DTYPE_RANGES[dtype]
    return st.one_of(st.sampled_from([low, high, 0]), st.integers(low, high))


def typed_biases(channels: int, bias_dtype: str) -> st.SearchStrategy[np.ndarray]:
    """Biases of an explicit dtype, for kernels that take several (16x8: int16, int32 or int64):
    `biases` of 16-bit activations, cast (an int16 bias wraps, which is as random)."""
    return biases(channels, "int16").map(lambda values: values.astype(bias_dtype))


def float_weights(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Float32 weights: uniform over [-1, 1], or `tensor_values` (with its extremes and constants)."""

    def uniform(seed: int) -> np.ndarray:
        return np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape).astype(np.float32)

    return st.one_of(st.integers(0, 2**32 - 1).map(uniform), tensor_values(shape, "float32"))


def quantization(dtype: str) -> st.SearchStrategy[dict[str, Any]]:
    """`ModelBuilder.tensor` keyword arguments of an activation: a scale and zero point (see
    `scales`, `zero_points`) for int8 / int16, none for float32."""
    if dtype == "float32":
        return st.just({})
    return st.fixed_dictionaries({"scale": scales(), "zero_point": zero_points(dtype)})
