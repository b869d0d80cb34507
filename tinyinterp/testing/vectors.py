"""Reproducible test vectors and compact fingerprints of outputs, shared by `golden/` and the tests.

Random inputs come from PCG64's raw 64-bit stream, which NumPy guarantees stable across versions
(unlike Generator methods), so a seed names the same inputs forever.
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np

# Outputs larger than this many bytes per item are stored as SHA-256 digests, not values.
MAX_STORED_ITEM_BYTES = 64


def random_inputs(item_shape: tuple[int, ...], count: int, dtype: np.dtype, seed: int) -> np.ndarray:
    """`count` uniformly random items of `item_shape`, covering the dtype's whole range."""
    dtype = np.dtype(dtype)
    size = count * int(np.prod(item_shape)) * dtype.itemsize
    words = np.random.PCG64(seed).random_raw(-(-size // 8)).astype("<u8")
    return np.frombuffer(words.tobytes()[:size], dtype=dtype.newbyteorder("<")).reshape(count, *item_shape)


def digests(outputs: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """SHA-256 of each group of `counts` consecutive items (default: each item): [groups, 32] uint8."""
    counts = np.ones(len(outputs), np.int64) if counts is None else np.asarray(counts)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    groups = (outputs[start:end].tobytes() for start, end in itertools.pairwise(bounds))
    return np.array([np.frombuffer(hashlib.sha256(g).digest(), np.uint8) for g in groups]).reshape(-1, 32)


def fingerprint(outputs: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """What golden files store: the outputs themselves if small, else digests per group of items.

    `counts` groups consecutive items (e.g. the windows of one file); by default each item alone.
    """
    item_bytes = outputs[0].nbytes if len(outputs) else 0
    return outputs if item_bytes <= MAX_STORED_ITEM_BYTES else digests(outputs, counts)
