"""The MLPerf Tiny accuracy-mode datasets, converted to model inputs as the reference submissions do.

Each benchmark folder holds `.bin` stimuli and a label file (`y_labels.csv`, either case of the
name). Conversions (mlcommons/tiny reference submissions, `th_load_tensor`):
- ic01, vww01: uint8 RGB bytes, minus 128 -> int8;
- kws01: the bytes are the int8 input tensor;
- ad01: float32 log-mel windows (window and stride in bytes from the label file), each value
  quantized with the input's scale and zero point: round(value / scale) + zero_point, clamped.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyinterp.errors import TinyInterpError
from tinyinterp.suite.benchmarks import BENCHMARKS


class DatasetError(TinyInterpError):
    """A dataset folder, label file or stimulus is missing or malformed."""


@dataclass(frozen=True)
class Stimulus:
    file: str
    label: int
    window_bytes: int | None = None
    stride_bytes: int | None = None


def label_file(folder: Path) -> Path:
    for name in ("y_labels.csv", "Y_labels.csv"):
        if (folder / name).is_file():
            return folder / name
    raise DatasetError(f"{folder}: no y_labels.csv (or Y_labels.csv) label file")


def read_labels(folder: str | os.PathLike) -> list[Stimulus]:
    """Rows `file,num_classes,label[,window_bytes,stride_bytes]` of a benchmark folder."""
    path = label_file(Path(folder))
    stimuli = []
    with path.open(newline="") as handle:
        for line_number, row in enumerate(csv.reader(handle), start=1):
            if not row or not row[0].strip():
                continue
            try:
                extra = [int(v) for v in row[3:5]]
                stimuli.append(Stimulus(row[0].strip(), int(row[2]), *extra))
            except (IndexError, ValueError) as error:
                raise DatasetError(f"{path}:{line_number}: cannot parse {row!r}: {error}") from None
    if not stimuli:
        rows = "file,num_classes,label[,window_bytes,stride_bytes]"
        raise DatasetError(f"{path}: no stimuli listed (rows {rows})")
    return stimuli


def quantize_float_to_int8(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """QuantizeFloatToInt8 of the reference submissions: float32 division, round half away, clamp."""
    quotient = values.astype(np.float32) / np.float32(scale)
    rounded = np.copysign(np.floor(np.abs(quotient.astype(np.float64)) + 0.5), quotient)
    return np.clip(rounded + zero_point, -128, 127).astype(np.int8)


IMAGE_BENCHMARKS = tuple(sorted(b.name for b in BENCHMARKS.values() if b.stimulus == "uint8 RGB"))


def load_size(benchmark: str, input_shape: tuple[int, ...]) -> int:
    """Bytes the host sends per inference (`db load N`): float32 values (ad01), else one per element."""
    elements = int(np.prod(input_shape[1:]))
    return 4 * elements if BENCHMARKS[benchmark].stimulus == "float32 values" else elements


def stimulus_loads(
    benchmark: str, data: bytes, load_bytes: int, stimulus: Stimulus | None = None
) -> list[bytes]:
    """What the runner loads for one stimulus file: the whole file, or its sliding windows (ad01).

    Windows are cut as the runner's `_ScriptDownloadStep` does: `window_bytes` from offsets 0, stride,
    2 * stride, ... while the window fits (window and stride default to one load).
    """
    if not BENCHMARKS[benchmark].windowed:
        return [data]
    window = stimulus.window_bytes if stimulus and stimulus.window_bytes else load_bytes
    stride = stimulus.stride_bytes if stimulus and stimulus.stride_bytes else window
    if window <= 0 or stride <= 0 or len(data) < window:
        raise DatasetError(
            f"{len(data)} bytes cannot be cut into {benchmark} windows of {window} bytes with stride {stride}"
        )
    return [data[start : start + window] for start in range(0, len(data) - window + 1, stride)]


def check_loads(benchmark: str, loads: Sequence[bytes], load_bytes: int) -> None:
    """Each load must be exactly one model input."""
    wrong = sorted({len(load) for load in loads if len(load) != load_bytes})
    if wrong:
        raise DatasetError(
            f"{', '.join(map(str, wrong))} bytes, expected {load_bytes} bytes "
            f"({BENCHMARKS[benchmark].stimulus}) per {benchmark} input"
        )


def convert_loads(
    benchmark: str,
    loads: Sequence[bytes],
    input_shape: tuple[int, ...],
    input_scale: float,
    input_zero_point: int,
) -> np.ndarray:
    """th_load_tensor of the reference submissions for each load: int8 [len(loads), *input_shape[1:]]."""
    check_loads(benchmark, loads, load_size(benchmark, input_shape))
    item_shape = tuple(input_shape[1:])
    stimulus = BENCHMARKS[benchmark].stimulus
    if stimulus == "float32 values":
        values = quantize_float_to_int8(float_loads(loads), input_scale, input_zero_point)
    elif stimulus == "uint8 RGB":
        values = (np.frombuffer(b"".join(loads), dtype=np.uint8).astype(np.int16) - 128).astype(np.int8)
    else:
        values = np.frombuffer(b"".join(loads), dtype=np.int8)
    return values.reshape(-1, *item_shape)


def float_loads(loads: Sequence[bytes]) -> np.ndarray:
    """ad01 loads as the float32 values the device keeps (`input_float`): [len(loads), values per load]."""
    return np.frombuffer(b"".join(loads), dtype="<f4").reshape(len(loads), -1).astype(np.float32)


def model_inputs(
    benchmark: str,
    data: bytes,
    input_shape: tuple[int, ...],
    input_scale: float,
    input_zero_point: int,
    stimulus: Stimulus | None = None,
) -> np.ndarray:
    """The int8 model inputs for one stimulus file: [items, *input_shape[1:]]."""
    loads = stimulus_loads(benchmark, data, load_size(benchmark, input_shape), stimulus)
    return convert_loads(benchmark, loads, input_shape, input_scale, input_zero_point)
