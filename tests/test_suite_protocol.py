"""th_results formatting as the reference firmware prints it, the runner's parsing, scoring and loads."""

from __future__ import annotations

import ctypes
import ctypes.util
import itertools
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyinterp.suite.benchmarks import BENCHMARKS
from tinyinterp.suite.datasets import Stimulus, convert_loads, stimulus_loads
from tinyinterp.suite.protocol import (
    RESULTS_RE,
    anomaly_scores,
    dequantize,
    parse_payload,
    parse_results_line,
    requantize,
    result_payloads,
)
from tinyinterp.suite.scoring import FileResults, binary_auc, score_files

SOFTMAX = (1.0 / 256, -128)  # the output quantization of the classification reference models
LIBC = ctypes.CDLL(ctypes.util.find_library("c"))


def c_printf(fmt: bytes, value: float) -> str:
    """The C library's own formatting of a double (the oracle for %0.3f)."""
    buffer = ctypes.create_string_buffer(64)
    LIBC.snprintf(buffer, 64, fmt, ctypes.c_double(value))
    return buffer.value.decode()


ALL_INT8 = np.arange(-128, 128, dtype=np.int64).astype(np.int8)


@pytest.mark.parametrize("benchmark_name", ["ic01", "vww01", "kws01"])
def test_every_softmax_output_survives_printing_and_requantizing(benchmark_name: str) -> None:
    outputs = ALL_INT8.reshape(-1, 2)
    for payload, row in zip(result_payloads(benchmark_name, outputs, *SOFTMAX), outputs):
        values = parse_payload(payload)
        assert values is not None and len(values) == 2
        np.testing.assert_array_equal(requantize(values, *SOFTMAX), row)


@given(
    st.lists(st.integers(-128, 127), min_size=1, max_size=12), st.floats(1e-3, 10.0), st.integers(-128, 127)
)
def test_fixed_format_is_c_printf(q: list[int], scale: float, zero_point: int) -> None:
    outputs = np.array([q], np.int8)
    expected = [c_printf(b"%0.3f", float(v)) for v in dequantize(outputs[0], scale, zero_point)]
    assert result_payloads("ic01", outputs, scale, zero_point) == [",".join(expected)]
    assert result_payloads("vww01", outputs, scale, zero_point) == ["".join(f"{e}," for e in expected)]


@given(st.lists(st.integers(-128, 127), min_size=1, max_size=12))
def test_kws_digits_are_the_truncated_value(q: list[int]) -> None:
    """0.%d%d%d of (int)(v*10), (int)(v*100)%10, (int)(v*1000)%10: the truncated digits of v in [0, 1)."""
    outputs = np.array([q], np.int8)
    printed = result_payloads("kws01", outputs, *SOFTMAX)[0].split(",")
    for text, value in zip(printed, dequantize(outputs[0], *SOFTMAX)):
        assert len(text) == 5 and text.startswith("0.")
        assert float(text) <= value < float(text) + 0.001 + 1e-9


def test_vww_prints_a_trailing_comma_that_the_runner_regex_accepts() -> None:
    payload = result_payloads("vww01", np.array([[-128, 127]], np.int8), *SOFTMAX)[0]
    assert payload.endswith(",") and payload.count(",") == 2
    match = RESULTS_RE.match(f"m-results-[{payload}]")
    assert match and parse_payload(match.group(1)) == [0.0, 0.996]


@given(st.integers(0, 2**32 - 1), st.floats(0.01, 2.0), st.integers(-128, 127))
def test_anomaly_score_is_calculate_result_in_float32(seed: int, scale: float, zero_point: int) -> None:
    rng = np.random.default_rng(seed)
    outputs = rng.integers(-128, 128, size=(2, 640)).astype(np.int8)
    inputs = rng.normal(0, 20, size=(2, 640)).astype(np.float32)
    scores = anomaly_scores(outputs, inputs, scale, zero_point)
    for k in range(2):  # a transliteration of calculate_result(): float32 all the way, index order
        diffsum = np.float32(0)
        for i in range(640):
            converted = np.float32(int(outputs[k, i]) - zero_point) * np.float32(scale)
            diff = converted - inputs[k, i]
            diffsum = np.float32(diffsum + np.float32(diff * diff))
        assert scores[k] == np.float32(diffsum / np.float32(640))
    payloads = result_payloads("ad01", outputs, scale, zero_point, inputs)
    assert payloads == [c_printf(b"%0.3f", float(s)) for s in scores]


def test_payloads_that_cannot_be_printed_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = np.zeros((1, 640), np.int8)
    with pytest.raises(ValueError, match=r"^ad01 results need the float inputs of each window$"):
        result_payloads("ad01", outputs, 0.5, 0)
    monkeypatch.setitem(BENCHMARKS, "kws01", replace(BENCHMARKS["kws01"], payload="binary"))
    with pytest.raises(ValueError, match=r"^kws01 prints no m-results-\[\.\.\.\] \(binary\)$"):
        result_payloads("kws01", outputs[:, :12], *SOFTMAX)


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5)), min_size=2, max_size=40))
def test_auc_counts_ordered_pairs_and_half_ties(items: list[tuple[bool, int]]) -> None:
    positive = np.array([p for p, _ in items])
    scores = np.array([s for _, s in items], float)
    pairs = [(a, b) for a, b in itertools.product(scores[positive], scores[~positive])]
    auc = binary_auc(positive, scores)
    if not pairs:
        assert auc is None
    else:
        expected = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs) / len(pairs)
        assert auc == pytest.approx(expected, abs=1e-12)


def test_top1_normalises_and_averages_per_file_as_the_runner() -> None:
    files = [
        FileResults("a.bin", 1, ((0.1, 0.3, 0.2),)),
        FileResults(
            "b.bin", 0, ((0.4, 0.0, 0.0), (0.0, 0.9, 0.0))
        ),  # normalised means: 0.5 vs 0.5 -> class 0
        FileResults("c.bin", 2, ((0.3, 0.3, 0.2),)),
    ]
    score = score_files(files)
    assert score.predictions == (1.0, 0.0, 0.0)
    assert score.top1 == pytest.approx(200 / 3)


def test_anomaly_files_are_scored_by_mean_window_score() -> None:
    files = [
        FileResults(f"{k}.bin", label, ((s,), (s + 1,)))
        for k, (label, s) in enumerate([(0, 1.0), (1, 5.0), (0, 2.0)])
    ]
    score = score_files(files)
    assert score.files == 3
    assert score.predictions == (1.5, 5.5, 2.5)
    assert score.auc == 1.0
    assert score.top1 == pytest.approx(100.0, abs=1e-5)


def test_ad01_windows_are_cut_like_the_runner() -> None:
    data = np.arange(1000, dtype="<f4").tobytes()  # 4000 bytes
    loads = stimulus_loads("ad01", data, 2560, Stimulus("x.bin", 0, 2560, 512))
    assert [len(load) for load in loads] == [2560] * 3
    assert [np.frombuffer(load, "<f4")[0] for load in loads] == [0, 128, 256]
    assert stimulus_loads("ic01", b"abc", 3) == [b"abc"]


def test_image_loads_shift_uint8_to_int8() -> None:
    x = convert_loads("ic01", [bytes([0, 128, 255])], (1, 3), 1.0, -128)
    np.testing.assert_array_equal(x, [[-128, 0, 127]])


def test_only_an_m_results_line_gives_results() -> None:
    """The EEMBC reply `m-results-[0.125,0.875]` is two values; any other line of the reply is none."""
    assert parse_results_line("m-results-[0.125,0.875]") == [0.125, 0.875]
    assert parse_results_line("m-lap-us-1234") is None
    assert parse_results_line("m-ready") is None
