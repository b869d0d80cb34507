"""The sww01 reference firmware's feature extraction (log-mel filterbank energies), bit for bit.

Specification: `specs/sww01.md` section 2 (mlcommons/tiny `benchmark/reference_submissions/
streaming_wakeword/sww_ref_l4r5zi/Core/Src/sww_ref_util_submitter.c` `th_compute_lfbe_f32`). Every frame:
1024 int16 samples (hop 512), / 32768, pre-emphasis 0.96875 carried across frames, periodic Hamming
window, real FFT (float64 here, rounded to float32: CMSIS-DSP's rounding is not emulated, which changed
no int8 feature on the spec's test sets), power |X|^2 / 1024, 40 mel filters, clamp at 1e-30, 10 log10 in
double, (L + 52) / 64 clipped to [0, 1], and quantization by truncation with 8-bit wrap-around. All
float32 steps in the firmware's order, vectorised over frames (the only state across frames is the
last sample before a frame, which the continuous stream gives).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
FRAME = 1024  # SWW_WINLEN_SAMPLES
HOP = 512  # SWW_WINSTRIDE_SAMPLES, also the I2S chunk of one DMA transfer (32 ms)
MEL_FILTERS = 40  # NUM_MEL_FILTERS
SPECTRUM_BINS = FRAME // 2 + 1
PRE_EMPHASIS = np.float32(0.96875)
MEL_FLOOR = 1e-30
LOG_OFFSET, LOG_RANGE = np.float32(52.0), np.float32(64.0)
ZERO_POINT = np.float32(-128.0)  # hard-coded by the firmware, whatever the model says
MEL_HIGH_HZ = 8000.0
MEL_DECIMALS = 6  # fixed_data.c prints the mel weights with %f
WINDOW_DECIMALS = 8  # ... and the window with 8 decimals
BLOCK_FRAMES = 2048  # frames computed at once: bounds memory on long streams (20 min = 37,500 frames)


@dataclass(frozen=True)
class Tables:
    """The firmware's constant tables (`fixed_data.c`): window and packed mel filterbank."""

    window: np.ndarray  # float32 [1024], periodic Hamming
    mel_weights: np.ndarray  # float32 [987], filter after filter
    mel_starts: np.ndarray  # int32 [40], first FFT bin of each filter
    mel_lengths: np.ndarray  # int32 [40]

    def dense(self) -> tuple[np.ndarray, np.ndarray]:
        """(bins [40, L], weights [40, L]) padded with weight 0 to the longest filter, L.

        Padding at the end of a filter adds exact zeros to its float32 sum: the sum is unchanged."""
        longest = int(self.mel_lengths.max())
        bins = np.zeros((MEL_FILTERS, longest), np.int64)
        weights = np.zeros((MEL_FILTERS, longest), np.float32)
        offsets = np.concatenate([[0], np.cumsum(self.mel_lengths)])
        for j, (start, length) in enumerate(zip(self.mel_starts, self.mel_lengths)):
            bins[j, :length] = np.arange(start, start + length)
            weights[j, :length] = self.mel_weights[offsets[j] : offsets[j] + length]
        return bins, weights


def _printed(values: np.ndarray, decimals: int) -> np.ndarray:
    """float32 values as a C table holds them: printed with `decimals` decimals, read back as float32."""
    return np.array([f"{v:.{decimals}f}" for v in values.astype(np.float64)], dtype=np.float32)


def hamming_window() -> np.ndarray:
    """Periodic Hamming window 0.54 - 0.46 cos(2 pi n / 1024) in float32 (`hamm_win_1024`)."""
    n = np.arange(FRAME, dtype=np.float32)
    angle = np.float32(2 * math.pi) * n / np.float32(FRAME)
    return _printed(np.float32(0.54) - np.float32(0.46) * np.cos(angle), WINDOW_DECIMALS)


def _hertz_to_mel(hertz: np.ndarray) -> np.ndarray:
    return np.float32(1127.0) * np.log(np.float32(1.0) + hertz / np.float32(700.0))


def mel_matrix() -> np.ndarray:
    """TensorFlow's `linear_to_mel_weight_matrix(40, 513, 16000, 0, 8000)` in float32: [513, 40]."""
    nyquist = np.float32(SAMPLE_RATE / 2)
    frequencies = np.linspace(np.float32(0), nyquist, SPECTRUM_BINS, dtype=np.float32)[1:]
    bins_mel = _hertz_to_mel(frequencies)[:, None]
    low, high = _hertz_to_mel(np.array([0.0, MEL_HIGH_HZ], np.float32))
    edges = np.linspace(low, high, MEL_FILTERS + 2, dtype=np.float32)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    lower_slopes = (bins_mel - lower) / (center - lower)
    upper_slopes = (upper - bins_mel) / (upper - center)
    weights = np.maximum(np.float32(0), np.minimum(lower_slopes, upper_slopes))
    return np.vstack([np.zeros((1, MEL_FILTERS), np.float32), weights])  # the DC bin is in no filter


def generated_tables() -> Tables:
    """The tables computed from their formulas, as `fixed_data.c` prints them."""
    matrix = mel_matrix()
    starts, lengths, weights = [], [], []
    for column in matrix.T:
        nonzero = np.flatnonzero(column)
        first, last = int(nonzero[0]), int(nonzero[-1])
        starts.append(first)
        lengths.append(last - first + 1)
        weights.append(_printed(column[first : last + 1], MEL_DECIMALS))
    return Tables(
        hamming_window(),
        np.concatenate(weights),
        np.array(starts, np.int32),
        np.array(lengths, np.int32),
    )


def load_tables(path: str | Path) -> Tables:
    """Tables from an `.npz` with the arrays of `fixed_data.c` (e.g. the upstream values)."""
    with np.load(path) as data:
        return Tables(
            data["hamm_win_1024"].astype(np.float32),
            data["lin2mel_packed_513x40"].astype(np.float32),
            data["lin2mel_513x40_filter_starts"].astype(np.int32),
            data["lin2mel_513x40_filter_lens"].astype(np.int32),
        )


def frames_of(samples: np.ndarray, last_value: float = 0.0) -> np.ndarray:
    """Pre-emphasised float32 frames [chunks, 1024] of int16 samples (whole 512-sample chunks only).

    Frame k covers stream samples [512 (k - 1), 512 (k + 1)), frame 0 starting with 512 zeros (the
    firmware's zeroed block). `last_value` is the float sample before the stream (the firmware's
    function-static, 0 after boot and never reset by `start`)."""
    chunks = len(samples) // HOP
    stream = np.concatenate([np.zeros(HOP, np.int16), samples[: chunks * HOP].astype(np.int16)])
    x = stream.astype(np.float32) / np.float32(32768.0)
    previous = np.concatenate([[np.float32(last_value)], x[:-1]]).astype(np.float32)
    emphasised = x - PRE_EMPHASIS * previous  # each step exact in float32 (spec 2.3, step 3)
    return np.lib.stride_tricks.sliding_window_view(emphasised, FRAME)[::HOP][:chunks]


def power_spectrum(frames: np.ndarray, window: np.ndarray) -> np.ndarray:
    """float32 [frames, 513]: |rfft(frame * window)|^2 / 1024 as arm_cmplx_mag_f32, squared and scaled."""
    spectrum = np.fft.rfft((frames * window).astype(np.float64), axis=1)
    real = spectrum.real.astype(np.float32)
    imag = spectrum.imag.astype(np.float32)
    imag[:, 0] = 0  # the packed CMSIS output has no imaginary part for DC ...
    magnitude = np.sqrt(real * real + imag * imag)
    magnitude[:, -1] = real[:, -1]  # ... and the Nyquist bin's real part stands for its magnitude
    return (magnitude * magnitude) * np.float32(1.0 / FRAME)


def mel_energies(power: np.ndarray, bins: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """float32 [frames, 40]: each filter's dot product summed sequentially in float32 (arm_dot_prod_f32);
    `bins` and `weights` from `Tables.dense`."""
    products = power[:, bins] * weights
    return np.cumsum(products, axis=2, dtype=np.float32)[:, :, -1]


def quantize(energies: np.ndarray, input_scale: float) -> np.ndarray:
    """int8 features: clamp, 10 log10 in double, (L + 52) / 64 clipped, / scale - 128, truncated, wrapped."""
    clamped = np.where(energies.astype(np.float64) > MEL_FLOOR, energies, np.float32(MEL_FLOOR))
    log = (10.0 * np.log10(clamped.astype(np.float64))).astype(np.float32)
    scaled = np.clip((log + LOG_OFFSET) * np.float32(1.0 / LOG_RANGE), np.float32(0), np.float32(1))
    values = scaled / np.float32(input_scale) + ZERO_POINT
    return np.trunc(values).astype(np.int32).astype(np.uint8).view(np.int8)  # VCVT toward zero, low byte


def features(
    samples: np.ndarray, input_scale: float, tables: Tables | None = None, last_value: float = 0.0
) -> np.ndarray:
    """int8 features [chunks, 40] of int16 mono samples, one row per whole 512-sample chunk."""
    tables = tables or default_tables()
    bins, weights = tables.dense()
    frames = frames_of(samples, last_value)
    rows = np.zeros((len(frames), MEL_FILTERS), np.int8)
    for start in range(0, len(frames), BLOCK_FRAMES):
        power = power_spectrum(frames[start : start + BLOCK_FRAMES], tables.window)
        rows[start : start + BLOCK_FRAMES] = quantize(mel_energies(power, bins, weights), input_scale)
    return rows


@cache
def default_tables() -> Tables:
    """The generated tables, computed once per process."""
    return generated_tables()
