"""The MLPerf Tiny runner's output files, written for emulated runs.

A run folder (`results/<system>/<ic|kws|vww|ad>/<accuracy|performance|energy>/`, the submission layout)
gets `log.txt` (what the runner logs, line for line as benchmark/runner/script.py and main.py print it,
after a header saying the run is emulated), `results.txt` (its `print_tee` lines: `Top 1% = ...`,
`AUC = ...`, `Median throughput is ... inf./sec.`, `Median energy cost is ... uJ/inf.`) and `results.json`
(one record per loop pass, as the runner dumps them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

import numpy as np

from tinyinterp.suite.benchmarks import BENCHMARKS
from tinyinterp.suite.protocol import parse_payload
from tinyinterp.suite.scoring import Score

MODE_FOLDERS = {"a": "accuracy", "p": "performance", "e": "energy"}
DASHES = "-" * 57


@dataclass(frozen=True)
class Window:
    """One pass of the runner's loop: a load (file, segment) then `infer iterations warmups`."""

    file: str
    label: int
    segment: int
    iterations: int
    warmups: int
    payload: str  # the DUT's m-results-[...] text
    start_us: int  # device timestamps around the timed loop (m-lap-us, or energy-mode pulses)
    end_us: int
    energy_uj: float | None = None  # energy mode: energy of the timed loop (emulated monitor)

    @property
    def results(self) -> list[float]:
        return parse_payload(self.payload) or []

    @property
    def elapsed_s(self) -> float:
        return (self.end_us - self.start_us) / 1e6

    @property
    def throughput(self) -> float:
        return self.iterations / self.elapsed_s if self.end_us > self.start_us else 0.0


@dataclass(frozen=True)
class RunInfo:
    benchmark: str
    mode: str  # a, p or e, as the runner's --mode
    header: tuple[str, ...]  # what is emulated: model, board, cost model


def run_folder(out: Path, system: str, benchmark: str, mode: str) -> Path:
    return out / "results" / system / BENCHMARKS[benchmark].short / MODE_FOLDERS[mode]


class RunnerLog:
    """log.txt gets each message stripped (the runner's LoggerWriter); results.txt print_tee's lines as is."""

    def __init__(self, log: TextIO, results: TextIO) -> None:
        self._log, self._results = log, results

    @staticmethod
    def stamp() -> str:
        return datetime.now().strftime("%m%d.%H%M%S")

    def print(self, message: str) -> None:
        if message.strip():
            self._log.write(message.strip() + "\n")

    def tee(self, message: str) -> None:
        self.print(message)
        self._results.write(message + "\n")


@contextmanager
def runner_log(folder: Path, info: RunInfo, files: int) -> Iterator[RunnerLog]:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "log.txt").open("w") as log, (folder / "results.txt").open("w") as results:
        writer = RunnerLog(log, results)
        writer.print(f"Logging initialized. Writing output to {folder / 'log.txt'}")
        for line in info.header:
            writer.print(f"tinyinterp: {line}")
        writer.print(f"Device model retrieved: {info.benchmark}")
        if info.mode == "a":
            writer.print(f"No loop count specified.  Using full set ({files} test files)")
        yield writer
        writer.print(f"Session logged in file {folder / 'log.txt'}")


def _log_window(log: RunnerLog, window: Window, index: int, *, energy: bool = False) -> None:
    """One window as the runner logs it: its load and run, then its performance figures, or (energy
    mode) the samples the energy monitor captured."""
    stamp = log.stamp()
    log.print(f"{stamp} ulp-mlperf: Loading file {window.file} segment {window.segment}")
    log.print(f"{stamp} ulp-mlperf: Load complete.")
    log.print(
        f"Running inference with {window.warmups}/{window.iterations} (warmup/measured) iterations ...  "
    )
    log.print(" done")
    if energy:
        log.print(f"  Captured samples:{round(window.elapsed_s * 1000)} timestamps:2")
        return
    log.print(f"{stamp} ulp-mlperf: Performance results for window {index}:")
    log.print(f"{stamp} ulp-mlperf:   # Inferences : {window.iterations:>13}")
    log.print(f"{stamp} ulp-mlperf:   Runtime      : {window.elapsed_s:>10.3f} sec.")
    log.print(f"{stamp} ulp-mlperf:   Throughput   : {window.throughput:>10.3f} inf./sec.")
    log.print(f"{stamp} ulp-mlperf:   m-results    : {window.results}")


def _record(window: Window, mode: str, load_bytes: int, stride: int | None) -> dict:
    infer = {
        "results": window.results,
        "start_time": window.start_us,
        "end_time": window.end_us,
        "elapsed_time": window.end_us - window.start_us,
        "total_inferences": 1,
        "iterations": window.iterations,
        "warmups": window.warmups,
    }
    if mode == "p":
        infer["throughput"] = window.throughput
    record = {
        "file": window.file,
        "class": str(window.label),
        "bytes_to_send": load_bytes,
        "stride": stride,
        "infer": infer,
        "mode": mode,
    }
    if window.energy_uj is not None:
        record["power"] = {"emulated_energy_uj": window.energy_uj, "elapsed_s": window.elapsed_s}
    return record


def _write_json(
    folder: Path, windows: Sequence[Window], mode: str, load_bytes: int, stride: int | None
) -> None:
    with (folder / "results.json").open("w") as handle:
        json.dump([_record(w, mode, load_bytes, stride) for w in windows], handle)


def write_accuracy(
    folder: Path,
    info: RunInfo,
    windows: Sequence[Window],
    files: int,
    score: Score,
    load_bytes: int,
    stride: int | None,
) -> None:
    with runner_log(folder, info, files) as log:
        for index, window in enumerate(windows, start=1):
            _log_window(log, window, index)
        log.print("-" * 20)
        stamp = log.stamp() + " "
        log.tee(f"{stamp}ulp-mlperf: Top 1% = {score.top1:2.1f}")
        if score.auc is not None:
            log.tee(f"{stamp}ulp-mlperf: AUC = {score.auc:.3f}")
    _write_json(folder, windows, "a", load_bytes, stride)


def median_throughput(windows: Sequence[Window]) -> float:
    return float(np.median([w.throughput for w in windows]))


def write_performance(folder: Path, info: RunInfo, windows: Sequence[Window], load_bytes: int) -> None:
    with runner_log(folder, info, len(windows)) as log:
        for index, window in enumerate(windows, start=1):
            _log_window(log, window, index)
        log.print("-" * 20)
        for index, window in enumerate(windows, start=1):
            log.tee(f"Performance results for window {index}")
            log.tee(f"    # Inferences : {window.iterations}")
            log.tee(f"    Runtime: {window.elapsed_s} sec.")
            log.tee(f"    Throughput: {window.throughput} inf./sec.")
            if window.elapsed_s > 10.0:
                log.tee("    Runtime requirements have been met.")
        stamp = log.stamp() + " "
        log.tee(f"{stamp}ulp-mlperf: {DASHES}")
        log.tee(f"{stamp}ulp-mlperf: Median throughput is {median_throughput(windows):>10.3f} inf./sec.")
        log.tee(f"{stamp}ulp-mlperf: {DASHES}")
    _write_json(folder, windows, "p", load_bytes, None)


def median_energy_uj(windows: Sequence[Window]) -> float:
    return float(np.median([(w.energy_uj or 0.0) / w.iterations for w in windows]))


def write_energy(folder: Path, info: RunInfo, windows: Sequence[Window], load_bytes: int) -> None:
    with runner_log(folder, info, len(windows)) as log:
        for index, window in enumerate(windows, start=1):
            _log_window(log, window, index, energy=True)
        log.print("-" * 20)
        log.tee("Power Edition Output")
        for trial, window in enumerate(windows):
            energy_j = (window.energy_uj or 0.0) / 1e6
            warning = "" if window.elapsed_s >= 10.0 else "  <<<< below minimum duration"
            log.tee(f"Energy data for trial {trial}")
            log.tee(f"  Elapsed time  : {window.elapsed_s}{warning}")
            log.tee(f"  Inferences    : {window.iterations}")
            log.tee(f"  Power         : {1e3 * energy_j / window.elapsed_s:5.4f} mW.")
            log.tee(f"  Total Energy  : {energy_j * 1e6:.3f} uJ")
            log.tee(f"  Energy/Inf    : {energy_j / window.iterations * 1e6:.3f} uJ/inf")
        log.tee(DASHES)
        log.tee(f"Median energy cost is {median_energy_uj(windows):5.4f} uJ/inf.")
        log.tee(DASHES)
    _write_json(folder, windows, "e", load_bytes, None)
