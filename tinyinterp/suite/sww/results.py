"""sww01 run folders in the runner's streaming formats (`specs/sww01.md` 5.5; mlcommons/tiny
`benchmark/runner/main.py`, `streaming_ww_utils.py`): `results.txt`, `log.txt` and `results.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tinyinterp.suite.results import DASHES, RunInfo, RunnerLog, runner_log
from tinyinterp.suite.sww.run import FrameCost, Played, SwwOutcome

BUDGET_WARNING = "tinyinterp: frame time {:.3f} ms exceeds the 32 ms hop: a board would lose audio"


def write_run(folder: Path, info: RunInfo, outcome: SwwOutcome, plays: list[Played]) -> None:
    """One run folder: accuracy (every test json played), performance or energy (the timed play)."""
    with runner_log(folder, info, len(plays)) as log:
        _frame_header(log, outcome.frame)
        for played in plays:
            log.print(f"{list(played.timestamps_ms)}")
            if info.mode != "a" and outcome.duty is not None:
                duty = outcome.duty
                log.print(f"Duty cycle = {duty.duty_cycle:.3f}, Period = {duty.period * 1e3:.1f} ms")
            if info.mode == "e" and outcome.energy_window_s is not None:
                log.print(f"samples:{round(outcome.energy_window_s * 1000)} timestamps:3")
            _log_accuracy(log, played)
        if info.mode == "e":
            _energy_lines(log, outcome)
        for played in plays:
            if played.score is not None:
                s = played.score
                log.tee(
                    f"Accuracy: {s.true_positives} True positives, {s.false_negatives} False negatives, "
                    f"{s.false_positives} False positives"
                )
        if info.mode != "a" and outcome.duty is not None:
            duty = outcome.duty
            log.tee(f"Average duty cycle: {duty.duty_cycle:1.5}")
            log.tee(f"Average period: {duty.period:1.5} s")
            log.tee(f"Estimated throughput: {1 / duty.processing_time:1.5} inf./sec.")
    with (folder / "results.json").open("w") as handle:
        json.dump([_record(played, outcome, info.mode) for played in plays], handle)


def _frame_header(log: RunnerLog, frame: FrameCost) -> None:
    log.print(
        f"tinyinterp: per 32 ms frame: front end {frame.frontend_us / 1e3:.3f} ms + model "
        f"{frame.model_us / 1e3:.3f} ms = {frame.frame_us / 1e3:.3f} ms at {frame.power_mw:.3f} mW"
    )
    if frame.over_budget:
        log.print(BUDGET_WARNING.format(frame.frame_us / 1e3))


def _log_accuracy(log: RunnerLog, played: Played) -> None:
    if played.test is None:
        log.print(f"tinyinterp: {played.wav_name} played (no dataset or no real model): no accuracy")
        return
    log.print(f"== File {played.test.wav_file} ({played.test.length_sec} s) ==")
    score = played.score
    assert score is not None
    log.print(
        f"Accuracy: {score.true_positives} True positives, {score.false_negatives} False negatives, "
        f"{score.false_positives} False positives"
    )
    log.print(f"False negatives: {list(score.missed_windows_s)}")
    log.print(f"False positives: {np.array2string(np.array(score.false_positive_s), precision=3)}")


def _energy_lines(log: RunnerLog, outcome: SwwOutcome) -> None:
    assert outcome.energy_window_s is not None and outcome.energy_uj is not None
    elapsed, energy_j = outcome.energy_window_s, outcome.energy_uj / 1e6
    log.tee("Power Edition Output")
    log.tee("Energy data for trial 0")
    warning = "" if elapsed >= 10.0 else "  <<<< below minimum duration"
    log.tee(f"  Elapsed time  : {elapsed}{warning}")
    log.tee(f"  Inferences    : {1}")
    log.tee(f"  Power         : {1e3 * energy_j / elapsed:5.4f} mW.")
    log.tee(f"  Total Energy  : {energy_j * 1e6:.3f} uJ")
    log.tee(f"  Energy/Inf    : {energy_j * 1e6:.3f} uJ/inf")
    log.tee(DASHES)
    log.tee(f"Median energy cost is {1e6 * energy_j:5.4f} uJ/inf.")
    log.tee(DASHES)


def _record(played: Played, outcome: SwwOutcome, mode: str) -> dict:
    source = played.test.source if played.test is not None else {"wav_file": played.wav_name}
    record: dict = {
        "infer": {**source, "detections": list(played.timestamps_ms), "iterations": 1, "warmups": 0}
    }
    if mode != "a" and outcome.duty is not None:
        duty = outcome.duty
        record["dutycycle"] = {
            "duty_cycle": duty.duty_cycle,
            "period": duty.period,
            "processing_time": duty.processing_time,
            "start_times_s": [count * 10e-6 for count in duty.start_counts],
            "stop_times_s": [count * 10e-6 for count in duty.stop_counts],
        }
    record["activations"] = played.result.outputs[:, 0].astype(int).tolist()
    if mode == "e" and outcome.energy_window_s is not None:
        milliseconds = round(outcome.energy_window_s * 1000)
        record["power"] = {
            "samples": [outcome.frame.power_mw * 1e-6] * milliseconds,  # joules per 1 ms sample
            "timestamps": [["2", 0], ["3", milliseconds]],
            "extracted_power": None,
            "voltage": None,
        }
    record["mode"] = mode
    return record
