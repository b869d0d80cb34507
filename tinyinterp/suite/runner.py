"""`tinyinterp suite`: the MLPerf Tiny benchmarks on an emulated device, run as the runner runs them on a
board.

- Accuracy: every stimulus of the dataset folder (ad01: every sliding window), each as the runner's
  `download` + `infer 1 0`, computed in batches; results printed as the reference firmware prints them and
  scored as the runner scores them.
- sww01 (streaming, v1.3 run rules): see `tinyinterp.suite.sww.run`.
- Performance and energy (run rules): 5 inputs (the first 5 files; ad01 their first window), each
  `infer N 1` with N giving at least 10 s of device time and at least 10 inferences, driven through the
  virtual DUT's serial protocol; median throughput from its m-lap-us timestamps, median energy per
  inference from an emulated energy monitor (N times the cost model's energy) between its timestamp pulses.
Device time is the cost model's, never the host's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tinyinterp.errors import TinyInterpError
from tinyinterp.model import load_model
from tinyinterp.suite import results as out
from tinyinterp.suite.benchmarks import BENCHMARKS, SINGLE_STREAM
from tinyinterp.suite.datasets import (
    DatasetError,
    Stimulus,
    check_loads,
    read_labels,
    stimulus_loads,
)
from tinyinterp.suite.device import DeviceCost, EmulatedDevice, batches, device_cost
from tinyinterp.suite.dut import DeviceClock
from tinyinterp.suite.host import connect
from tinyinterp.suite.models import find_dataset, find_model, md5_of
from tinyinterp.suite.protocol import dequantize
from tinyinterp.suite.scoring import FileResults, Score, score_files
from tinyinterp.suite.sww import results as sww_results
from tinyinterp.suite.sww import run as sww

if TYPE_CHECKING:
    from tinyinterp.cost.profiles import BoardProfile

SUITE_BENCHMARKS = tuple(BENCHMARKS)
STREAMING_OPTIONAL = tuple(b.name for b in BENCHMARKS.values() if b.streaming)  # default only with data
MIN_RUN_US = 10_000_000  # run rules: each timed run at least 10 s of device time ...
MIN_INFERENCES = 10  # ... and at least 10 inferences
RUNS = 5  # inputs per performance / energy run
WARMUPS = 1
RANDOM_SEED = 20261129

# progress(description, total) -> advance(steps)
Progress = Callable[[str, int], Callable[[int], None]]


def no_progress(description: str, total: int) -> Callable[[int], None]:
    return lambda steps: None


@dataclass(frozen=True)
class SuiteOptions:
    # None: every benchmark (streaming ones only when their data is found)
    benchmarks: tuple[str, ...] | None = None
    modes: tuple[str, ...] = ("a", "p", "e")
    board: str | BoardProfile | None = "nucleo-l4r5zi"
    core: str | None = None
    clock_mhz: float | None = None
    stack: str = "tflm-cmsisnn"
    models_dir: Path | None = None
    datasets_dir: Path | None = None
    out: Path = Path("tinyinterp-results")
    system: str | None = None
    trace: Path | None = None  # sww01: per wav, int8 features and outputs as .npy


def default_benchmarks(datasets_dir: Path | None) -> tuple[str, ...]:
    return SINGLE_STREAM + tuple(b for b in STREAMING_OPTIONAL if find_dataset(b, datasets_dir) is not None)


@dataclass(frozen=True)
class Setup:
    benchmark: str
    device: EmulatedDevice
    model_label: str  # the model file, or the stand-in it replaces
    stand_in: bool
    dataset: Path | None
    reference: bool = False  # the published reference model (MD5 checked)

    @property
    def header(self) -> tuple[str, ...]:
        cost = self.device.cost
        lines = [
            f"emulated run, no hardware: {self.model_label} on {cost.label}",
            f"device time and energy from the tinyinterp cost model: {cost.latency_us:.1f} us and "
            f"{cost.energy_uj:.3f} uJ per inference",
        ]
        if self.stand_in:
            lines.append("stand-in model (random weights): same cost as the reference, meaningless results")
        return tuple(lines)


@dataclass
class Outcome:
    setup: Setup
    score: Score | None = None
    throughput: float | None = None
    energy_uj: float | None = None
    accuracy_skipped: str | None = None  # why accuracy did not run
    random_inputs: bool = False  # timed runs on random inputs (no dataset)
    stream: sww.SwwOutcome | None = None  # streaming benchmarks: detections, frame cost, duty cycle, energy


def prepare(benchmark: str, options: SuiteOptions) -> Setup:
    """The benchmark's model (reference model found, else the zoo stand-in) on the emulated board."""
    spec = BENCHMARKS[benchmark]
    path = find_model(benchmark, options.models_dir)
    reference = path is not None and md5_of(path) == spec.md5
    if path is None:
        model, label = spec.stand_in(), f"zoo stand-in for {spec.model_file}"
    else:
        model, label = load_model(path), path.name + ("" if reference else " (not the reference MD5)")
    cost = device_cost(model, options.board, options.core, options.clock_mhz, options.stack)
    device = EmulatedDevice(benchmark, model, cost, label)
    dataset = find_dataset(benchmark, options.datasets_dir)
    return Setup(benchmark, device, label, path is None, dataset, reference)


def _stimulus_loads(benchmark: str, folder: Path, stimulus: Stimulus, load_bytes: int) -> list[bytes]:
    """The loads of one stimulus file, each checked to be one model input; errors name the file."""
    path = folder / stimulus.file
    try:
        loads = stimulus_loads(benchmark, path.read_bytes(), load_bytes, stimulus)
        check_loads(benchmark, loads, load_bytes)
    except OSError as error:
        raise DatasetError(f"{path}: cannot read stimulus: {error.strerror}") from None
    except DatasetError as error:
        raise DatasetError(f"{path}: {error}") from None
    return loads


def run_accuracy(setup: Setup, folder: Path, progress: Progress = no_progress) -> Score:
    """Every stimulus (every window for ad01) through `infer 1 0`, batched; writes the accuracy run folder."""
    assert setup.dataset is not None
    device, clock = setup.device, DeviceClock()
    stimuli = read_labels(setup.dataset)
    advance = progress(f"{setup.benchmark} accuracy", len(stimuli))
    windows: list[out.Window] = []
    for group in batches(stimuli, 64):
        files = loads_of(setup.benchmark, setup.dataset, group, device.load_bytes)
        pieces = [(s, k, load) for s, loads in zip(group, files) for k, load in enumerate(loads)]
        for batch in batches(pieces):
            for (stimulus, segment, _), payload in zip(batch, device.results([p[2] for p in batch])):
                start = clock.now()
                clock.spend(device.cost.latency_us)
                windows.append(
                    out.Window(stimulus.file, stimulus.label, segment, 1, 0, payload, start, clock.now())
                )
        advance(len(group))
    per_file: dict[str, list[tuple[float, ...]]] = {}
    for window in windows:
        per_file.setdefault(window.file, []).append(tuple(window.results))
    score = score_files([FileResults(s.file, s.label, tuple(per_file[s.file])) for s in stimuli])
    info = out.RunInfo(setup.benchmark, "a", setup.header)
    out.write_accuracy(folder, info, windows, len(stimuli), score, device.load_bytes, stimuli[0].stride_bytes)
    return score


def _random_load(device: EmulatedDevice, rng: np.random.Generator) -> bytes:
    """A valid load of random input values (for runs without a dataset: the cost does not depend on it)."""
    q = rng.integers(-128, 128, size=int(np.prod(device.input_shape[1:])), dtype=np.int8)
    stimulus = BENCHMARKS[device.benchmark].stimulus
    if stimulus == "float32 values":
        quant = device.input_quant
        return dequantize(q, quant.scale, quant.zero_point).astype("<f4").tobytes()
    if stimulus == "uint8 RGB":
        return (q.astype(np.int16) + 128).astype(np.uint8).tobytes()
    return q.tobytes()


def timed_inputs(setup: Setup) -> list[tuple[str, int, bytes]]:
    """(file, label, first load) of the RUNS inputs: the dataset's first files, else seeded random inputs."""
    if setup.dataset is None:
        rng = np.random.default_rng(RANDOM_SEED)
        return [(f"random_{k}.bin", -1, _random_load(setup.device, rng)) for k in range(RUNS)]
    stimuli = read_labels(setup.dataset)  # never empty: read_labels refuses a file without stimuli
    chosen = [stimuli[k % len(stimuli)] for k in range(RUNS)]
    return [
        (
            s.file,
            s.label,
            _stimulus_loads(setup.benchmark, setup.dataset, s, setup.device.load_bytes)[0],
        )
        for s in chosen
    ]


def iterations_for(cost: DeviceCost) -> int:
    """Inferences per timed run: strictly more than 10 s of device time, and at least 10."""
    return max(MIN_INFERENCES, int(MIN_RUN_US / cost.latency_us) + 2)


def timed_windows(setup: Setup, energy_mode: bool) -> list[out.Window]:
    """The RUNS timed runs through the virtual DUT's serial protocol."""
    device = setup.device
    host, dut = connect(device, energy_mode=energy_mode)  # on a fresh device clock
    iterations = iterations_for(device.cost)
    windows = []
    for file, label, load in timed_inputs(setup):
        host.load(load)
        reply = host.infer(iterations, WARMUPS)
        if energy_mode:
            start, end = dut.pulses[-2:]
            energy = iterations * device.cost.energy_uj
        else:
            assert reply.start_us is not None and reply.end_us is not None
            start, end, energy = reply.start_us, reply.end_us, None
        windows.append(out.Window(file, label, 0, iterations, WARMUPS, reply.payload, start, end, energy))
    return windows


def system_name(cost: DeviceCost) -> str:
    return f"{cost.board}_{cost.clock_mhz:g}MHz_{cost.stack}_emulated"


def write_system(folder: Path, system: str, cost: DeviceCost) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    description = {
        "system_name": system,
        "board": cost.board,
        "core": cost.core,
        "clock_mhz": cost.clock_mhz,
        "software_stack": cost.stack,
        "notes": "Emulated by tinyinterp: TFLM-exact int8 arithmetic; device time and energy from its cost "
        "model, not measured on hardware.",
    }
    (folder / f"{system}.json").write_text(json.dumps(description, indent=2) + "\n")


def run_benchmark(setup: Setup, options: SuiteOptions, system: str, progress: Progress) -> Outcome:
    folder = {mode: out.run_folder(options.out, system, setup.benchmark, mode) for mode in out.MODE_FOLDERS}
    if BENCHMARKS[setup.benchmark].streaming:
        return run_streaming(setup, options, folder, progress)
    outcome = Outcome(setup)
    if "a" in options.modes:
        if setup.stand_in:
            outcome.accuracy_skipped = "needs the real model"
        elif setup.dataset is None:
            outcome.accuracy_skipped = "needs the dataset"
        else:
            outcome.score = run_accuracy(setup, folder["a"], progress)
    for mode, energy_mode in (("p", False), ("e", True)):
        if mode not in options.modes:
            continue
        advance = progress(f"{setup.benchmark} {out.MODE_FOLDERS[mode]}", RUNS)
        windows = timed_windows(setup, energy_mode)
        advance(RUNS)
        info = out.RunInfo(setup.benchmark, mode, setup.header)
        if energy_mode:
            out.write_energy(folder[mode], info, windows, setup.device.load_bytes)
            outcome.energy_uj = out.median_energy_uj(windows)
        else:
            out.write_performance(folder[mode], info, windows, setup.device.load_bytes)
            outcome.throughput = out.median_throughput(windows)
    outcome.random_inputs = setup.dataset is None and ("p" in options.modes or "e" in options.modes)
    return outcome


def run_streaming(
    setup: Setup, options: SuiteOptions, folder: dict[str, Path], progress: Progress
) -> Outcome:
    """sww01: accuracy plays every test json; performance and energy play the scored test once each."""
    outcome = Outcome(setup, stream=sww.SwwOutcome(sww.frame_cost(setup.device)))
    dataset = setup.dataset if not setup.stand_in else None  # a stand-in's detections mean nothing
    if "a" in options.modes:
        if dataset is None:
            outcome.accuracy_skipped = "needs the real model" if setup.stand_in else "needs the dataset"
        else:
            _stream_accuracy(setup, dataset, options, folder["a"], progress, outcome)
    timed_modes = [mode for mode in ("p", "e") if mode in options.modes]
    if timed_modes:
        _stream_timed(setup, dataset, options, timed_modes, folder, progress, outcome)
    return outcome


def _stream_accuracy(
    setup: Setup, dataset: Path, options: SuiteOptions, folder: Path, progress: Progress, outcome: Outcome
) -> None:
    assert outcome.stream is not None
    stream, tests = outcome.stream, sww.stream_tests(dataset)
    advance = progress(f"{setup.benchmark} accuracy", len(tests))
    for test in tests:
        stream.tests.append((test.name, sww.play_test(setup.device, test, stream.frame, options.trace)))
        advance(1)
    info = out.RunInfo(setup.benchmark, "a", setup.header)
    sww_results.write_run(folder, info, stream, [played for _, played in stream.tests])


def _stream_timed(
    setup: Setup,
    dataset: Path | None,
    options: SuiteOptions,
    modes: Sequence[str],
    folder: dict[str, Path],
    progress: Progress,
    outcome: Outcome,
) -> None:
    """One play of the scored test (reused from accuracy), else of silence; then each mode's folder."""
    assert outcome.stream is not None
    stream = outcome.stream
    scored = sww.scored_test(dataset) if dataset is not None else None
    played = dict(stream.tests).get(scored.name) if scored is not None else None
    if played is None:
        advance = progress(f"{setup.benchmark} stream", 1)
        if scored is not None:
            played = sww.play_test(setup.device, scored, stream.frame, options.trace)
        else:
            played = sww.play_silence(setup.device, stream.frame)
        advance(1)
    stream.timed = played
    stream.duty = sww.duty_cycle(len(played.result.outputs), stream.frame.frame_us)
    outcome.random_inputs = scored is None
    for mode in modes:
        if mode == "e":
            stream.energy_window_s = sww.energy_window_s(played)
            stream.energy_uj = stream.frame.power_mw * stream.energy_window_s * 1e3
        info = out.RunInfo(setup.benchmark, mode, setup.header)
        sww_results.write_run(folder[mode], info, stream, [played])


def run_suite(options: SuiteOptions, progress: Progress = no_progress) -> tuple[str, list[Outcome]]:
    benchmarks = options.benchmarks
    if benchmarks is None:
        benchmarks = default_benchmarks(options.datasets_dir)
    unknown = [b for b in benchmarks if b not in SUITE_BENCHMARKS]
    if unknown or not benchmarks:
        given = ", ".join(unknown) or "(none given)"
        raise TinyInterpError(f"unknown benchmark(s) {given}; the suite runs {', '.join(SUITE_BENCHMARKS)}")
    if options.trace is not None and not any(BENCHMARKS[b].streaming for b in benchmarks):
        streaming = ", ".join(STREAMING_OPTIONAL)
        raise TinyInterpError(
            f"--trace writes the features and outputs of {streaming}, which this run does not include "
            "(give --benchmarks, or the datasets folder where its test json is)"
        )
    setups = [prepare(b, options) for b in benchmarks]
    system = options.system or system_name(setups[0].device.cost)
    write_system(options.out / "systems", system, setups[0].device.cost)
    return system, [run_benchmark(setup, options, system, progress) for setup in setups]


def loads_of(benchmark: str, folder: Path, stimuli: Sequence[Stimulus], load_bytes: int) -> list[list[bytes]]:
    """Each stimulus file's loads (ad01: its windows)."""
    return [_stimulus_loads(benchmark, folder, s, load_bytes) for s in stimuli]
