"""The harness (`tinyinterp.testing`) through the example of docs/testing.md, run from the markdown so
that the guide cannot rot: it passes the correct kernel, and catches the same kernel rounding ties
toward zero with a report that gives the number of differences, where they are, both values and the
largest difference, and saves the failing case where it reloads and fails again."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import settings

from tinyinterp.testing import BitExactError, assert_bit_exact, assertions, load_case

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "testing.md"
COUNT = re.compile(r"output 0: (\d+) of (\d+) values differ, max \|difference\| (\d+)")
MISMATCH = re.compile(r"at \[([\d, ]*)\]: got np\.int8\((-?\d+)\), expected np\.int8\((-?\d+)\)")
FILES = re.compile(r"reproduce with (\S+)\.tflite and (\S+)\.npz")


def guide_example() -> dict[str, Any]:
    """The names the guide's (first) python block defines, after running it."""
    match = re.search(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.DOTALL)
    assert match, f"{GUIDE} has no python example"
    namespace: dict[str, Any] = {"__name__": "testing_guide_example"}
    exec(compile(match.group(1), str(GUIDE), "exec"), namespace)
    return namespace


def rounding_ties_toward_zero(v: np.ndarray, right: int) -> np.ndarray:
    """The guide's rounding shift, off by one on ties: 2.5 -> 2 instead of 3."""
    return np.sign(v) * ((np.abs(v) + (1 << right >> 1) - (right > 0)) >> right)


def test_guide_example_passes() -> None:
    guide_example()["test_relu_int8"]()


def test_guide_example_catches_a_rounding_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assertions, "FAILURES_DIR", tmp_path)
    example = guide_example()
    example["rounding_shift"] = rounding_ties_toward_zero  # relu_int8 now rounds ties the wrong way
    wrong_test = settings(max_examples=500, derandomize=True, database=None, report_multiple_bugs=False)(
        example["test_relu_int8"]
    )
    with pytest.raises(BitExactError) as failure:
        wrong_test()
    report = str(failure.value)

    files, count, mismatches = FILES.search(report), COUNT.search(report), MISMATCH.findall(report)
    assert files and count and mismatches, report
    assert files.group(1) == files.group(2) == str(tmp_path / "RELU_int8")
    case = load_case(files.group(1))
    assert (case.opcode, case.dtype) == ("RELU", "int8")
    expected = case.expected()[0]
    wrong = example["relu_int8"](case.inputs[0], case.prepared)
    differ = np.argwhere(wrong != expected)
    assert [int(n) for n in count.groups()] == [
        len(differ),
        expected.size,
        np.abs(wrong.astype(int) - expected).max(),
    ]
    assert len(mismatches) == min(len(differ), assertions.SHOWN_MISMATCHES)
    for (index, got, want), at in zip(mismatches, differ):
        assert [int(i) for i in index.split(",") if i] == list(at)
        assert (int(got), int(want)) == (wrong[tuple(at)], expected[tuple(at)])

    example["rounding_shift"] = guide_example()["rounding_shift"]
    assert_bit_exact(example["relu_int8"](case.inputs[0], case.prepared), [expected], case)
