"""sww01 detections: the DUT's threshold, the interface board's timestamps, the runner's scoring.

Specification: `specs/sww01.md` section 4 (mlcommons/tiny `sww_ref_util_submitter.c`
`th_process_chunk_and_cont_streaming`; interface board `Application/Test/DeviceUnderTest.cpp`;
runner `streaming_ww_utils.py` `calc_detection_stats`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyinterp.errors import TinyInterpError

DETECT_THRESHOLD = 115  # DETECT_THRESHOLD: the raw int8 class-0 output must exceed it
HOP_US = 32_000  # one 512-sample chunk at 16 kHz
TIMER_TICK_US = 10  # the interface board's TIM2
DEDUP_MS = 10  # the board keeps a pulse only more than 10 ms after the previous kept one
MAX_TIMESTAMPS = 10_000
# When the board starts playing after `record_detections` (TIM2 := 0): not in the sources; the ST v1.3
# logs put the sync pulse 85-104 ms after it, i.e. playback starting 35-55 ms after.
PLAY_START_US = 45_000
SUPPRESSION_S = 1.0  # false_pos_suppresion_delay_sec: added to a window's end, twice (spec 4.3)
DEBOUNCE_MS = 1000.0


class TruthFileError(TinyInterpError):
    """An sww01 test definition (json) is missing or malformed."""


@dataclass(frozen=True)
class StreamTest:
    """One entry of a runner's sww test json: the wav and its wake-word windows (seconds)."""

    wav_file: str
    sample_rate: int
    length_sec: float
    detection_windows: tuple[tuple[float, float], ...]
    source: dict  # the entry as read, for results.json


def read_test(path: Path) -> StreamTest:
    """The first entry of a test json (the runner's `stream` step plays only that one)."""
    try:
        entries = json.loads(path.read_text())
        entry = entries[0]
        windows = tuple((float(a), float(b)) for a, b in entry["detection_windows"])
        return StreamTest(
            str(entry["wav_file"]), int(entry["sample_rate"]), float(entry["length_sec"]), windows, entry
        )
    except OSError as error:
        raise TruthFileError(f"{path}: cannot read: {error.strerror}") from None
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise TruthFileError(
            f"{path}: not an sww test json (a list of {{wav_file, sample_rate, length_sec, "
            f"detection_windows: [[start, stop], ...]}}): {type(error).__name__} {error}"
        ) from None


def detected_frames(outputs: np.ndarray, sync: bool = True) -> np.ndarray:
    """Indices of the frames that pulse WW_DETECTED: class 0 above the threshold, and with `sync` (the
    stream's first frames) frame 0."""
    pulses = outputs[:, 0].astype(np.int32) > DETECT_THRESHOLD
    pulses[:1] |= sync
    return np.flatnonzero(pulses)


def board_timestamps(frames: Sequence[int], frame_us: float, play_start_us: int = PLAY_START_US) -> list[int]:
    """The interface board's detection list (ms since `record_detections`) for pulses after `frames`.

    Frame k's chunk completes at play start + 32 (k + 1) ms and pulses `frame_us` later (the frame's
    processing time). The board reads TIM2 (10 us) / 100, keeps a pulse only if the previous kept one is
    more than 10 ms older (uint32 compare; before the first one it reads the word before its array,
    inferred to be 1), and at most 10,000."""
    kept: list[int] = []
    previous = 1
    for k in frames:
        now_ms = int((play_start_us + HOP_US * (k + 1) + frame_us) // TIMER_TICK_US) // 100
        if (previous < now_ms - DEDUP_MS or previous > now_ms) and len(kept) < MAX_TIMESTAMPS:
            kept.append(now_ms)
            previous = now_ms
    return kept


@dataclass(frozen=True)
class DetectionScore:
    true_positives: int
    false_negatives: int
    false_positives: int
    missed_windows_s: tuple[float, ...]  # start of each wake-word window without a detection
    false_positive_s: tuple[float, ...]  # each debounced false detection, seconds after the sync pulse

    @property
    def f1(self) -> float:
        found = 2 * self.true_positives
        total = found + self.false_positives + self.false_negatives
        return found / total if total else 0.0


def score_detections(timestamps_ms: Sequence[int], windows: Sequence[tuple[float, float]]) -> DetectionScore:
    """The runner's `calc_detection_stats`: times relative to the sync pulse, each window matched by any
    detection in [start, stop + 2 s] (its hits removed), then the rest debounced greedily over 1 s."""
    if not timestamps_ms:
        raise TinyInterpError("no detections, not even the sync pulse: nothing to score")
    relative = np.asarray(timestamps_ms[1:], np.float64) - timestamps_ms[0]
    true_positives, missed = 0, []
    for start, stop in windows:
        stop += SUPPRESSION_S
        hits = (relative / 1000 >= start) & (relative / 1000 <= stop + SUPPRESSION_S)
        if hits.any():
            true_positives += 1
            relative = relative[~hits]
        else:
            missed.append(start)
    index = 0
    while index < len(relative):
        anchor = relative[index]
        relative = relative[~((relative > anchor) & (relative <= anchor + DEBOUNCE_MS))]
        index += 1
    return DetectionScore(
        true_positives, len(missed), len(relative), tuple(missed), tuple(float(t) / 1000 for t in relative)
    )
