"""The EEMBC / MLPerf Tiny serial protocol: its messages, and `th_results` as the reference submissions
print it.

Formatting follows mlcommons/tiny `benchmark/reference_submissions/*/submitter_implemented.cpp`, in the
device's float32 arithmetic (`DequantizeInt8ToFloat`: float(q - zero_point) * scale):
- ic01: `%0.3f` per class, comma separated;
- vww01: `%0.3f` per class, with a comma after every value (the reference loops to nresults = 3 > 2 classes);
- kws01: `0.%d%d%d` of (int)(v * 10), (int)(v * 100) % 10, (int)(v * 1000) % 10 (platforms without `%f`);
- ad01: `%0.3f` of the window's mean squared error between the dequantized output and the float input,
  summed in float32 in index order (`calculate_result`; no fused multiply-add assumed).
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

from tinyinterp.suite.benchmarks import BENCHMARKS, SINGLE_STREAM

TERMINATOR = b"%"
MAX_COMMAND = 80  # EE_CMD_SIZE: characters kept per command
FIRMWARE = "ULPMark for tinyML Firmware V0.0.1"  # EE_FW_VERSION
READY = "m-ready"
MODELS = SINGLE_STREAM  # the m-model-[...] strings of the MLPerf Tiny firmware driven by `infer`
# The official runner's regular expressions (benchmark/runner/script.py).
RESULTS_RE = re.compile(r"^m-results-\[([^]]+)\]$")
LAP_RE = re.compile(r"^m-lap-us-([0-9]+)$")


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (q.astype(np.int32) - zero_point).astype(np.float32) * np.float32(scale)


def requantize(values: npt.ArrayLike, scale: float, zero_point: int) -> np.ndarray:
    """Printed values back to the int8 outputs they came from (exact while print errors stay < scale / 2)."""
    return np.clip(
        np.round(np.asarray(values, np.float64) / np.float32(scale)) + zero_point, -128, 127
    ).astype(np.int64)


def _fixed3(values: np.ndarray) -> list[list[str]]:
    return [[f"{float(v):.3f}" for v in row] for row in values]


def _truncated3(values: np.ndarray) -> list[list[str]]:
    """`0.%d%d%d` with C's truncating float-to-int casts and remainder, in float32."""
    digits = [np.trunc(values * np.float32(scale)).astype(np.int64) for scale in (10, 100, 1000)]
    tenths, hundredths, thousandths = digits[0], np.fmod(digits[1], 10), np.fmod(digits[2], 10)
    return [[f"0.{a}{b}{c}" for a, b, c in zip(*row)] for row in zip(tenths, hundredths, thousandths)]


def anomaly_scores(outputs: np.ndarray, inputs: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """ad01's result per window: mean of (dequantized output - float input)^2, accumulated in float32."""
    diff = dequantize(outputs.reshape(len(outputs), -1), scale, zero_point) - inputs.astype(np.float32)
    total = np.cumsum(diff * diff, axis=1, dtype=np.float32)[:, -1]
    return total / np.float32(diff.shape[1])


def result_payloads(
    benchmark: str,
    outputs: np.ndarray,
    scale: float,
    zero_point: int,
    float_inputs: np.ndarray | None = None,
) -> list[str]:
    """The text inside `m-results-[...]` for each item of int8 `outputs` [N, ...] (ad01: and float inputs)."""
    payload = BENCHMARKS[benchmark].payload
    if payload == "anomaly score":
        if float_inputs is None:
            raise ValueError(f"{benchmark} results need the float inputs of each window")
        return [row[0] for row in _fixed3(anomaly_scores(outputs, float_inputs, scale, zero_point)[:, None])]
    values = dequantize(outputs.reshape(len(outputs), -1), scale, zero_point)
    if payload == "truncated3":
        return [",".join(row) for row in _truncated3(values)]
    if payload == "fixed3 trailing commas":
        return ["".join(f"{v}," for v in row) for row in _fixed3(values)]
    if payload == "fixed3":
        return [",".join(row) for row in _fixed3(values)]
    raise ValueError(f"{benchmark} prints no m-results-[...] ({payload})")


def parse_payload(payload: str) -> list[float] | None:
    """The runner's parse of a results payload (`_gather_infer_results`): None where it fails."""
    try:
        return [float(x) for x in payload.split(",") if x.strip()]
    except ValueError:
        return None


def parse_results_line(line: str) -> list[float] | None:
    match = RESULTS_RE.match(line)
    return parse_payload(match.group(1)) if match else None
