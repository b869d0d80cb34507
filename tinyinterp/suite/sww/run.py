"""sww01 in `tinyinterp suite`: the runner's streaming test on the emulated device (`specs/sww01.md` 5-6).

- Accuracy: every test json of the dataset folder (a list whose first entry names a wav and its wake-word
  windows) is played; detections are scored as the runner scores them (true positives, false negatives,
  false positives).
- Performance and energy (v1.3 run rules, one run each): the scored test (`sww_long_test.json` when
  present, else the first test json) is played. The processing pin's first 100 frames give the duty
  cycle, the period and the estimated throughput (1 / processing time); the energy window runs from the
  DUT's `start` pulse to its `stop` pulse. Each frame costs the front end (`tinyinterp.cost.frontend`)
  plus one inference (`tinyinterp.cost.estimate`); between frames the reference firmware busy-polls its
  UART, so the board draws its computing power throughout. A frame longer than the 32 ms hop would lose
  audio on a board: it is flagged, not simulated.
Without the real model or dataset, performance and energy play 10 s of digital silence (the cost does not
depend on the audio) and report no accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyinterp.cost.frontend import frontend_cost
from tinyinterp.suite.device import EmulatedDevice
from tinyinterp.suite.sww.detection import (
    HOP_US,
    PLAY_START_US,
    TIMER_TICK_US,
    DetectionScore,
    StreamTest,
    board_timestamps,
    read_test,
    score_detections,
)
from tinyinterp.suite.sww.frontend import SAMPLE_RATE
from tinyinterp.suite.sww.stream import StreamResult, read_wav, stream_samples

SCORED_TEST = "sww_long_test.json"  # truth_file of sww01 in the runner's tests_*.yaml
DUTY_FRAMES = 100  # the interface board records the first 100 processing-pin edges (MAX_FRAMES)
RUNNER_SLEEP_S = 0.25  # the runner waits this long after `play` returns before `stop`
SILENCE_S = 10.0  # the nominal stream without a dataset


@dataclass(frozen=True)
class FrameCost:
    """What one 32 ms frame costs on the emulated board."""

    frontend_us: float
    model_us: float
    power_mw: float  # the board's power at its clock while computing (and busy-waiting)

    @property
    def frame_us(self) -> float:
        return self.frontend_us + self.model_us

    @property
    def over_budget(self) -> bool:
        return self.frame_us > HOP_US


def frame_cost(device: EmulatedDevice) -> FrameCost:
    cost = device.cost
    frontend_us = frontend_cost(cost.core).latency_us(cost.clock_mhz)
    return FrameCost(frontend_us, cost.latency_us, cost.energy_uj / cost.latency_us * 1e3)


@dataclass(frozen=True)
class DutyCycle:
    """The runner's `process_dutycycle` over the processing pin's first 100 edges (TIM2, 10 us ticks)."""

    start_counts: tuple[int, ...]
    stop_counts: tuple[int, ...]

    @property
    def starts_s(self) -> np.ndarray:
        return np.array(self.start_counts) * 1e-5

    @property
    def stops_s(self) -> np.ndarray:
        return np.array(self.stop_counts) * 1e-5

    @property
    def processing_time(self) -> float:
        return float(np.mean(self.stops_s - self.starts_s))

    @property
    def period(self) -> float:
        return float(np.mean(np.diff(self.starts_s)))

    @property
    def duty_cycle(self) -> float:
        return self.processing_time / self.period


def duty_cycle(frames: int, frame_us: float) -> DutyCycle:
    """Frame k's chunk completes at play start + 32 (k + 1) ms; the pin stays high for the frame's work."""
    completions = [PLAY_START_US + HOP_US * (k + 1) for k in range(min(frames, DUTY_FRAMES))]
    starts = tuple(int(t // TIMER_TICK_US) for t in completions)
    stops = tuple(int((t + frame_us) // TIMER_TICK_US) for t in completions)
    return DutyCycle(starts, stops)


@dataclass(frozen=True)
class Played:
    """One `play` of a wav on the emulated rig."""

    test: StreamTest | None  # None: the nominal silent stream
    wav_name: str
    length_s: float  # audio played (the data chunk's duration)
    result: StreamResult
    timestamps_ms: tuple[int, ...]  # the interface board's detection list
    score: DetectionScore | None


@dataclass
class SwwOutcome:
    frame: FrameCost
    tests: list[tuple[str, Played]] = field(default_factory=list)  # (test json name, its play), accuracy
    timed: Played | None = None  # the performance / energy run's play
    duty: DutyCycle | None = None
    energy_window_s: float | None = None  # energy mode: from the `start` to the `stop` pulse
    energy_uj: float | None = None  # energy mode: over that window

    @property
    def power_mw(self) -> float | None:
        if self.energy_uj is None or not self.energy_window_s:
            return None
        return self.energy_uj / 1e3 / self.energy_window_s

    @property
    def score(self) -> DetectionScore | None:
        """Detection counts summed over the accuracy tests (one test: its counts)."""
        scores = [played.score for _, played in self.tests if played.score is not None]
        if not scores:
            return None
        return DetectionScore(
            sum(s.true_positives for s in scores),
            sum(s.false_negatives for s in scores),
            sum(s.false_positives for s in scores),
            tuple(t for s in scores for t in s.missed_windows_s),
            tuple(t for s in scores for t in s.false_positive_s),
        )


def stream_tests(dataset: Path) -> list[Path]:
    return sorted(dataset.glob("*.json"))


def scored_test(dataset: Path) -> Path | None:
    tests = stream_tests(dataset)
    return next((t for t in tests if t.name == SCORED_TEST), tests[0] if tests else None)


def play_test(device: EmulatedDevice, test_path: Path, frame: FrameCost, trace: Path | None = None) -> Played:
    """Play a test json's wav (from the same folder) and score the detections against its windows."""
    test = read_test(test_path)
    wav = read_wav(test_path.parent / test.wav_file)
    played = _play(device, wav.chunks(), frame, test, test.wav_file, wav.duration_s)
    if trace is not None:
        write_trace(trace, Path(test.wav_file).stem, played.result)
    return played


def play_silence(device: EmulatedDevice, frame: FrameCost) -> Played:
    samples = np.zeros(int(SILENCE_S * SAMPLE_RATE), np.int16)
    return _play(device, samples, frame, None, f"{SILENCE_S:g} s of silence", SILENCE_S)


def _play(
    device: EmulatedDevice,
    samples: np.ndarray,
    frame: FrameCost,
    test: StreamTest | None,
    wav_name: str,
    length_s: float,
) -> Played:
    result = stream_samples(samples, device.interpreter)
    timestamps = tuple(board_timestamps(result.detections.tolist(), frame.frame_us))
    score = score_detections(timestamps, test.detection_windows) if test is not None else None
    return Played(test, wav_name, length_s, result, timestamps, score)


def write_trace(folder: Path, stem: str, result: StreamResult) -> None:
    """`<stem>.features.npy` (frames x 40 int8) and `<stem>.outputs.npy` (frames x 3 int8)."""
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{stem}.features.npy", result.features)
    np.save(folder / f"{stem}.outputs.npy", result.outputs)


def energy_window_s(played: Played) -> float:
    """From the `start` pulse to the `stop` pulse: playback start, the audio, the runner's sleep; the
    LPM01A's 1 kHz samples make it whole milliseconds."""
    return round(PLAY_START_US / 1e6 + played.length_s + RUNNER_SLEEP_S, 3)
