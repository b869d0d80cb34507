"""`assert_bit_exact`: integer equality with a readable report and a saved reproducer."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinyinterp.model import load_model
from tinyinterp.testing.cases import OpCase

FAILURES_DIR = Path(os.environ.get("TINYINTERP_FAILURES", "failures"))
SHOWN_MISMATCHES = 5


class BitExactError(AssertionError):
    """The outputs differ; the message says where and by how much."""


def mismatch_report(
    actual: np.ndarray | np.generic, expected: np.ndarray | np.generic, name: str = "output"
) -> str | None:
    """None if equal; otherwise counts, first differing indices and values, and the max difference."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        return f"{name}: shape {list(actual.shape)} != expected {list(expected.shape)}"
    if actual.dtype != expected.dtype:
        return f"{name}: dtype {actual.dtype} != expected {expected.dtype}"
    differ = actual != expected
    if actual.dtype.kind == "f":
        differ &= ~(np.isnan(actual) & np.isnan(expected))
    if not differ.any():
        return None
    where = np.argwhere(differ)
    gap = np.abs(actual.astype(np.float64) - expected.astype(np.float64))[differ]
    lines = [f"{name}: {int(differ.sum())} of {actual.size} values differ, max |difference| {gap.max():g}"]
    for index in where[:SHOWN_MISMATCHES]:
        at = tuple(int(i) for i in index)
        lines.append(f"  at {list(at)}: got {actual[at]!r}, expected {expected[at]!r}")
    return "\n".join(lines)


def save_case(case: OpCase, directory: Path | None = None) -> Path:
    """Write the case as `<op>_<dtype>.tflite` + `.npz` to reproduce it anywhere; returns the path
    without suffix. The `.npz` holds the inputs in order (`arr_0`, `arr_1`...) and the case's `dtype`.

    The directory defaults to `FAILURES_DIR` ($TINYINTERP_FAILURES, else ./failures). One file pair
    per op and dtype, overwritten: while hypothesis shrinks, the last failure saved is the minimal one.
    """
    directory = FAILURES_DIR if directory is None else directory
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / re.sub(r"[^A-Za-z0-9_]+", "_", f"{case.opcode}_{case.dtype}")
    path.with_suffix(".tflite").write_bytes(case.tflite)
    np.savez(path.with_suffix(".npz"), *case.inputs, dtype=np.array(case.dtype))
    return path


def load_case(path: Path | str) -> OpCase:
    """The case `save_case` wrote at `path` (with or without suffix), to run again."""
    path = Path(path).with_suffix("")
    model = load_model(path.with_suffix(".tflite"))
    with np.load(path.with_suffix(".npz")) as saved:
        inputs = tuple(saved[f"arr_{k}"] for k in range(len(saved.files) - 1))
        dtype = str(saved["dtype"])
    return OpCase(model.main.operators[0].opcode, dtype, model, inputs)


def assert_bit_exact(
    actual: Sequence[np.ndarray] | np.ndarray | np.generic,
    expected: Sequence[np.ndarray] | np.ndarray | np.generic,
    case: OpCase | None = None,
) -> None:
    """Raise BitExactError unless every output equals its expected counterpart exactly.

    An array (or a numpy scalar, as numpy computes from 0-d arrays) is one output, a sequence several.
    With a `case`, the failing model and inputs are saved (see `save_case`) and named in the report.
    """
    actual_list = [actual] if isinstance(actual, (np.ndarray, np.generic)) else list(actual)
    expected_list = [expected] if isinstance(expected, (np.ndarray, np.generic)) else list(expected)
    if len(actual_list) != len(expected_list):
        raise BitExactError(f"{len(actual_list)} outputs, expected {len(expected_list)}")
    reports = [
        report
        for k, (a, e) in enumerate(zip(actual_list, expected_list))
        if (report := mismatch_report(a, e, f"output {k}")) is not None
    ]
    if not reports:
        return
    if case is not None:
        path = save_case(case)
        reports.insert(0, f"{case.describe()}\n  reproduce with {path}.tflite and {path}.npz")
    raise BitExactError("\n".join(reports))
