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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyinterp.errors import TinyInterpError


class DatasetError(TinyInterpError):
    """A dataset folder, label file or stimulus is missing or malformed."""


@dataclass(frozen=True)
class Benchmark:
    name: str
    model_file: str
    upstream_dir: str  # folder under mlcommons/tiny benchmark/training/


BENCHMARKS: dict[str, Benchmark] = {
    "kws01": Benchmark("kws01", "kws_ref_model.tflite", "keyword_spotting"),
    "vww01": Benchmark("vww01", "vww_96_int8.tflite", "visual_wake_words"),
    "ic01": Benchmark("ic01", "pretrainedResnet_quant.tflite", "image_classification"),
    "ad01": Benchmark("ad01", "ad01_int8.tflite", "anomaly_detection"),
    "sww01": Benchmark("sww01", "str_ww_ref_model.tflite", "streaming_wakeword"),
}


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
    return stimuli


def quantize_float_to_int8(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """QuantizeFloatToInt8 of the reference submissions: float32 division, round half away, clamp."""
    quotient = values.astype(np.float32) / np.float32(scale)
    rounded = np.copysign(np.floor(np.abs(quotient.astype(np.float64)) + 0.5), quotient)
    return np.clip(rounded + zero_point, -128, 127).astype(np.int8)


def float_windows(data: bytes, window_bytes: int, stride_bytes: int) -> np.ndarray:
    """The float32 windows an ad01 file is fed in: [windows, window_bytes / 4]."""
    values = np.frombuffer(data, dtype="<f4")
    window, stride = window_bytes // 4, stride_bytes // 4
    if window <= 0 or stride <= 0 or values.size < window:
        raise DatasetError(f"cannot cut {values.size} floats into windows of {window} with stride {stride}")
    starts = range(0, values.size - window + 1, stride)
    return np.stack([values[s : s + window] for s in starts])


def model_inputs(
    benchmark: str,
    data: bytes,
    input_shape: tuple[int, ...],
    input_scale: float,
    input_zero_point: int,
    stimulus: Stimulus | None = None,
) -> np.ndarray:
    """The int8 model inputs for one stimulus file: [items, *input_shape[1:]]."""
    item_shape = tuple(input_shape[1:])
    if benchmark == "ad01":
        window = stimulus.window_bytes if stimulus and stimulus.window_bytes else 4 * int(np.prod(item_shape))
        stride = stimulus.stride_bytes if stimulus and stimulus.stride_bytes else window
        windows = float_windows(data, window, stride)
        return quantize_float_to_int8(windows, input_scale, input_zero_point).reshape(-1, *item_shape)
    expected = int(np.prod(item_shape))
    if len(data) != expected:
        raise DatasetError(f"{benchmark} stimulus has {len(data)} bytes, expected {expected}")
    raw = np.frombuffer(data, dtype=np.uint8 if benchmark in ("ic01", "vww01") else np.int8)
    if benchmark in ("ic01", "vww01"):
        raw = (raw.astype(np.int16) - 128).astype(np.int8)
    return raw.reshape(1, *item_shape)
