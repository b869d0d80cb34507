"""Exact integer matrix products through BLAS, and float32 products in TFLM's summation order.

A float32 or float64 sum of integer products is exact, in any order and with or without
FMA, as long as every partial sum stays below 2**24 (float32) or 2**53 (float64): all
values on the way are then representable integers. `exact_float_dtype` picks the faster
float32 whenever the weights guarantee that bound, which is decided once at prepare time.
Float32 models get no such freedom: their sums are taken in the reference kernels' order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from tinyinterp.jit import jit
from tinyinterp.kernels.fixedpoint import (
    clamp_float,
    multiply_by_quantized_multiplier_int64,
    requantize_with,
    wrap_int32,
)

FLOAT32_EXACT_LIMIT = 2**24
FLOAT64_EXACT_LIMIT = 2**53


def exact_float_dtype(weights: np.ndarray, reduce_axis: int, max_abs_input: int) -> np.dtype:
    """float32 if sum(|input| * |weight|) over the reduction stays below 2**24, else float64."""
    column_bound = np.abs(weights.astype(np.int64)).sum(axis=reduce_axis).max(initial=0)
    if int(column_bound) * max_abs_input < FLOAT32_EXACT_LIMIT:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


@cache
def _blas_libraries() -> list[Any]:
    return ThreadpoolController().select(user_api="blas").lib_controllers


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run BLAS on one thread: our matrices are small, and a second BLAS thread that has to wait
    for a busy core costs milliseconds per product (seen at 0.3 instead of 30 GMAC/s). Libraries
    already on one thread are left alone (this runs around every invoke)."""
    changed = [(library, library.num_threads) for library in _blas_libraries() if library.num_threads != 1]
    for library, _ in changed:
        library.set_num_threads(1)
    try:
        yield
    finally:
        for library, threads in changed:
            library.set_num_threads(threads)


@jit
def requantize_rows(
    acc, bias, multipliers, shifts, output_offset, act_min, act_max, out, rounding=0, wide=False
):
    """out[m, c] = clamp(MultiplyByQuantizedMultiplier(acc[m, c] + bias[c]) + output_offset).

    `acc` holds exact integer sums in floating point. TFLM accumulates int8 kernels in int32, so the
    sum is wrapped to int32 first (equal to TFLM's wrap-around on overflow), and `rounding` applies
    (see fixedpoint.requantize_with; 0, TFLM's, by default). `wide`: TFLM's 64-bit accumulators (16x8
    kernels with an int64 bias), where the sum is exact (no wrap) and goes through the 64-bit
    MultiplyByQuantizedMultiplier.
    """
    rows, channels = acc.shape
    if wide:  # chosen once: a choice per value would cost the int8 path a tenth of its time
        for m in range(rows):
            for c in range(channels):
                total = np.int64(acc[m, c]) + bias[c]
                value = multiply_by_quantized_multiplier_int64(total, multipliers[c], shifts[c])
                out[m, c] = min(max(value + output_offset, act_min), act_max)
        return
    for m in range(rows):
        for c in range(channels):
            total = wrap_int32(np.int64(acc[m, c]) + bias[c])
            value = requantize_with(total, multipliers[c], shifts[c], rounding)
            out[m, c] = min(max(value + output_offset, act_min), act_max)


@jit
def ordered_matmul_float(x, weights_t, bias, act_min, act_max, out):
    """out[m, c] = clamp(sum_d x[m, d] * weights_t[d, c] + bias[c]) in float32, each sum taken in d
    order as TFLM's reference loops take it (BLAS would reorder, and a different order changes bits).

    Columns are independent lanes, so the c loop vectorizes without changing any lane's arithmetic.
    A sum is never -0.0 (it starts at +0.0), so a zero bias and an infinite range change nothing.
    """
    rows, depth = x.shape
    channels = weights_t.shape[1]
    acc = np.empty(channels, np.float32)
    for m in range(rows):
        acc[:] = 0
        for d in range(depth):
            value = x[m, d]
            for c in range(channels):
                acc[c] += value * weights_t[d, c]
        for c in range(channels):
            out[m, c] = clamp_float(acc[c] + bias[c], act_min, act_max)


@jit
def fully_connected_int8(
    x, weights_t, bias, multipliers, shifts, input_offset, output_offset, act_min, act_max, out, rounding=0
):
    """FullyConnectedPerChannel (int8) in one pass, for few rows where a BLAS call and its float
    copies cost more than the products: int32 sums as TFLM's (wrapping alike), across output
    channels so the channel loop vectorizes, then bias and requantization per channel (`rounding`:
    see fixedpoint.requantize_with)."""
    rows, depth = x.shape
    channels = weights_t.shape[1]
    acc = np.empty(channels, np.int32)
    for m in range(rows):
        acc[:] = 0
        for d in range(depth):
            value = np.int32(x[m, d] + input_offset)
            for c in range(channels):
                acc[c] += value * weights_t[d, c]
        for c in range(channels):
            total = wrap_int32(np.int64(acc[c]) + bias[c])
            scaled = requantize_with(total, multipliers[c], shifts[c], rounding) + output_offset
            out[m, c] = min(max(scaled, act_min), act_max)
