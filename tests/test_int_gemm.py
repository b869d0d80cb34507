"""int_gemm's VNNI products: TFLM's int32 sums of (x + input_offset) * w, and the same outputs as the
portable BLAS path through CONV_2D and FULLY_CONNECTED (test_differential and test_golden compare the
VNNI path with TFLM on machines that have it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings

from tinyinterp import Interpreter
from tinyinterp.interpreter import batch_shape
from tinyinterp.kernels.int_gemm import PackedWeights, shifted_rows, vnni_available
from tinyinterp.testing import OpCase
from tinyinterp.testing.strategies import CASES

needs_vnni = pytest.mark.skipif(not vnni_available(), reason="this CPU has no AVX-512 VNNI")


@pytest.mark.parametrize(
    ("features", "available"),
    [
        ("+avx512f,+avx512bw,+avx512vnni,+avx2", True),
        ("+avx512f,+avx512bw,-avx512vnni", False),
        ("+avx512vnni,-avx512bw", False),
        ("+neon,+sve", False),
        ("", False),
    ],
)
def test_vnni_available_follows_the_features_numba_compiles_for(features: str, available: bool) -> None:
    with mock.patch("numba.core.config.CPU_FEATURES", features):
        assert vnni_available.__wrapped__() is available


def tflm_sums(x: np.ndarray, weights: np.ndarray, input_offset: int) -> np.ndarray:
    """sum_k (x[m, k] + input_offset) * w[n, k], wrapped to int32 as TFLM's accumulator wraps."""
    exact = (x.astype(np.int64) + input_offset) @ weights.astype(np.int64).T
    return exact.astype(np.uint32).view(np.int32)  # modulo 2**32 (int64 -> uint32 keeps the low bits)


def vnni_sums(x: np.ndarray, weights: np.ndarray, input_offset: int) -> np.ndarray:
    packed = PackedWeights(weights, input_offset)
    rows = shifted_rows(x, np.empty((len(x), packed.row_bytes), np.uint8))
    sums = packed.sums(rows, packed.empty_sums(len(x)))
    return (sums + packed.bias_shift).astype(np.uint32).view(np.int32)


@needs_vnni
@pytest.mark.parametrize(
    ("rows", "channels", "depth"),
    [
        (1, 1, 1),
        (7, 15, 3),
        (8, 32, 4),
        (9, 33, 5),
        (37, 20, 27),
        (64, 64, 64),
        (17, 48, 1152),
        (100, 130, 7),
    ],
)
@pytest.mark.parametrize("input_offset", [-127, 0, 5, 128])
def test_sums_equal_tflm_sums(rows: int, channels: int, depth: int, input_offset: int) -> None:
    """Every tile shape (full, narrower in rows or channels), depths off whole steps, both offset ends."""
    rng = np.random.default_rng(rows * 1000 + depth)
    x = rng.integers(-128, 128, (rows, depth)).astype(np.int8)
    weights = rng.integers(-128, 128, (channels, depth)).astype(np.int8)
    np.testing.assert_array_equal(vnni_sums(x, weights, input_offset), tflm_sums(x, weights, input_offset))


@needs_vnni
def test_sums_wrap_as_tflm_int32_accumulator() -> None:
    """A depth long enough for the sums to leave int32: still equal modulo 2**32."""
    depth = 70_000
    x = np.full((2, depth), 127, np.int8)
    x[1] = -128
    weights = np.full((3, depth), -128, np.int8)
    weights[1] = 127
    expected = tflm_sums(x, weights, 128)
    assert np.abs((x.astype(np.int64) + 128).sum(axis=1) * 128).max() > 2**31  # the sums do wrap
    np.testing.assert_array_equal(vnni_sums(x, weights, 128), expected)


@contextmanager
def portable_path() -> Iterator[None]:
    """The ops prepared as on a CPU without VNNI."""
    with (
        mock.patch("tinyinterp.ops.conv.vnni_available", return_value=False),
        mock.patch("tinyinterp.ops.fully_connected.vnni_available", return_value=False),
    ):
        yield


def batch_outputs(case: OpCase, items: int = 40) -> np.ndarray:
    """The case's op over `items` random inputs at once (several register tiles of rows)."""
    interpreter = Interpreter(model=case.model)
    inputs = np.random.default_rng(0).integers(-128, 128, batch_shape(case.inputs[0].shape, items), np.int8)
    return interpreter.run(inputs)[0]


@needs_vnni
@settings(max_examples=60, deadline=None)
@given(case=CASES["CONV_2D", "int8"](dtype="int8"))
def test_conv_vnni_path_equals_portable_path(case: OpCase) -> None:
    with portable_path():
        expected = batch_outputs(case)
    np.testing.assert_array_equal(batch_outputs(case), expected)


@needs_vnni
@settings(max_examples=60, deadline=None)
@given(case=CASES["FULLY_CONNECTED", "int8"](dtype="int8"))
def test_fully_connected_vnni_path_equals_portable_path(case: OpCase) -> None:
    with portable_path():
        expected = batch_outputs(case)
    np.testing.assert_array_equal(batch_outputs(case), expected)
