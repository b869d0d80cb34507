"""The runner's choices around the files it writes (those are in test_suite_files.py): which model it runs
and what it calls it, the inputs of timed runs without a dataset, which modes run, the progress it
reports, and its refusals, each against values worked out by hand."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from test_dut import HAND_COST, zoo_device

from tinyinterp.errors import TinyInterpError
from tinyinterp.suite.device import EmulatedDevice
from tinyinterp.suite.runner import (
    RANDOM_SEED,
    Setup,
    SuiteOptions,
    prepare,
    run_benchmark,
    run_suite,
    timed_inputs,
)
from tinyinterp.zoo import stand_in


class Progress:
    """A progress callback that records each bar: [description, total, steps advanced]."""

    def __init__(self) -> None:
        self.bars: list[list] = []

    def __call__(self, description: str, total: int) -> Callable[[int], None]:
        bar = [description, total, 0]
        self.bars.append(bar)

        def advance(steps: int) -> None:
            bar[2] += steps

        return advance


@pytest.fixture
def no_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No TINYINTERP_DATA and an empty model cache: only the folders a test gives are looked in."""
    monkeypatch.delenv("TINYINTERP_DATA", raising=False)
    monkeypatch.setenv("TINYINTERP_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_prepare_names_the_model_it_found(no_data: Path, data_dir: Path) -> None:
    models = no_data / "models"
    models.mkdir()
    shutil.copy(data_dir / "models" / "ad01_int8.tflite", models)
    found = prepare("ad01", SuiteOptions(models_dir=models, datasets_dir=data_dir / "datasets"))
    assert (found.model_label, found.device.model_name) == ("ad01_int8.tflite", "ad01_int8.tflite")
    assert (found.stand_in, found.reference, found.dataset) == (False, True, data_dir / "datasets" / "ad01")
    assert found.header[0] == f"emulated run, no hardware: ad01_int8.tflite on {found.device.cost.label}"

    (models / "ad01_int8.tflite").write_bytes((data_dir / "models" / "ad01_int8.tflite").read_bytes() + b"\0")
    edited = prepare("ad01", SuiteOptions(models_dir=models))
    label = "ad01_int8.tflite (not the reference MD5)"
    assert (edited.model_label, edited.device.model_name, edited.reference) == (label, label, False)
    assert edited.dataset is None

    shutil.rmtree(models)
    models.mkdir()
    missing = prepare("ad01", SuiteOptions(models_dir=models))
    label = "zoo stand-in for ad01_int8.tflite"
    assert (missing.model_label, missing.device.model_name, missing.stand_in) == (label, label, True)
    assert (
        missing.header[2]
        == "stand-in model (random weights): same cost as the reference, meaningless results"
    )


@pytest.mark.parametrize("benchmark_name", ["kws01", "vww01", "ic01", "ad01"])
def test_timed_runs_without_a_dataset_take_seeded_uniform_int8_inputs(benchmark_name: str) -> None:
    """The documented draw: 5 inputs, each the next int8 values (uniform over -128..127) of numpy's
    generator seeded with RANDOM_SEED, sent in the benchmark's stimulus format (kws01 int8 bytes, vww01 and
    ic01 uint8 RGB = value + 128, ad01 float32 = dequantized value), so that the firmware's conversion
    gives back exactly the values drawn; the runner logs them as random_<k>.bin of class -1."""
    device = zoo_device(benchmark_name)
    inputs = timed_inputs(Setup(benchmark_name, device, "zoo", True, None))
    assert [(file, label) for file, label, _ in inputs] == [(f"random_{k}.bin", -1) for k in range(5)]
    draws = np.random.default_rng(RANDOM_SEED)
    size = math.prod(device.input_shape[1:])
    for _, _, load in inputs:
        assert len(load) == device.load_bytes
        drawn = draws.integers(-128, 128, size=size, dtype=np.int8)
        np.testing.assert_array_equal(device.inputs([load]).reshape(-1), drawn)
    if benchmark_name in ("vww01", "ic01"):  # uint8 RGB: the first value drawn, + 128
        first = np.random.default_rng(RANDOM_SEED).integers(-128, 128, size=1, dtype=np.int8)[0]
        assert inputs[0][2][0] == int(first) + 128


def hand_timed(name: str) -> EmulatedDevice:
    """The benchmark's stand-in at the hand-set 250 ms and 5,000 uJ per inference (test_dut.HAND_COST)."""
    return EmulatedDevice(name, stand_in(name), HAND_COST, "zoo")


@pytest.mark.parametrize(
    ("modes", "bars", "throughput", "energy_uj"),
    [
        # By hand: max(10, 10 s / 0.25 s + 2) = 42 inferences per timed run over 10.5 s: 4.0 inf./sec.;
        # 42 x 5,000 uJ per window, 5,000 uJ per inference.
        (("p",), [["kws01 performance", 5, 5]], 4.0, None),
        (("e",), [["kws01 energy", 5, 5]], None, 5000.0),
        (("p", "e"), [["kws01 performance", 5, 5], ["kws01 energy", 5, 5]], 4.0, 5000.0),
    ],
)
def test_timed_modes_without_a_dataset(
    modes: tuple[str, ...], bars: list, throughput: float | None, energy_uj: float | None, tmp_path: Path
) -> None:
    progress = Progress()
    setup = Setup("kws01", hand_timed("kws01"), "zoo", False, None)
    outcome = run_benchmark(setup, SuiteOptions(out=tmp_path, modes=modes), "s", progress)
    assert progress.bars == bars
    assert (outcome.throughput, outcome.energy_uj) == (throughput, energy_uj)
    assert outcome.random_inputs is True
    assert outcome.accuracy_skipped is None and outcome.score is None
    written = {p.name for p in (tmp_path / "results" / "s" / "kws").iterdir()}
    assert written == {{"p": "performance", "e": "energy"}[m] for m in modes}


def test_accuracy_without_a_dataset_is_skipped_and_names_why(tmp_path: Path) -> None:
    progress = Progress()
    setup = Setup("kws01", hand_timed("kws01"), "zoo", False, None)
    outcome = run_benchmark(setup, SuiteOptions(out=tmp_path, modes=("a",)), "s", progress)
    assert outcome.accuracy_skipped == "needs the dataset"
    assert outcome.random_inputs is False  # no timed run took random inputs
    assert progress.bars == []


def test_a_run_on_a_dataset_reports_every_mode_and_no_random_inputs(data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "kws01"
    folder.mkdir()
    rows = (data_dir / "datasets" / "kws01" / "y_labels.csv").read_text().splitlines()[:5]
    (folder / "y_labels.csv").write_text("\n".join(rows) + "\n")
    for row in rows:
        shutil.copy(data_dir / "datasets" / "kws01" / row.split(",")[0], folder)
    progress = Progress()
    setup = Setup("kws01", hand_timed("kws01"), "zoo", False, folder)
    outcome = run_benchmark(setup, SuiteOptions(out=tmp_path / "out"), "s", progress)
    assert progress.bars == [["kws01 accuracy", 5, 5], ["kws01 performance", 5, 5], ["kws01 energy", 5, 5]]
    assert outcome.random_inputs is False and outcome.accuracy_skipped is None
    assert (outcome.throughput, outcome.energy_uj) == (4.0, 5000.0)


@pytest.mark.parametrize(
    ("benchmarks", "given"), [((), "(none given)"), (("kws01", "xyz01", "abc01"), "xyz01, abc01")]
)
def test_unknown_benchmarks_are_named(benchmarks: tuple[str, ...], given: str, tmp_path: Path) -> None:
    message = f"unknown benchmark(s) {given}; the suite runs kws01, vww01, ic01, ad01, sww01"
    with pytest.raises(TinyInterpError) as refused:
        run_suite(SuiteOptions(benchmarks=benchmarks, out=tmp_path))
    assert str(refused.value) == message


def test_trace_needs_a_streaming_benchmark(no_data: Path) -> None:
    options = SuiteOptions(benchmarks=("kws01",), modes=(), out=no_data / "out", trace=no_data / "trace")
    with pytest.raises(TinyInterpError) as refused:
        run_suite(options)
    assert str(refused.value) == (
        "--trace writes the features and outputs of sww01, which this run does not include "
        "(give --benchmarks, or the datasets folder where its test json is)"
    )
    _, outcomes = run_suite(SuiteOptions(benchmarks=("sww01",), modes=(), out=no_data / "out", trace=no_data))
    assert [o.setup.benchmark for o in outcomes] == ["sww01"]


def test_the_default_benchmarks_come_from_the_datasets_folder_given(no_data: Path, data_dir: Path) -> None:
    """With no --benchmarks, sww01 runs only when its test json is found: here only in --datasets-dir.
    No mode: only the setups and the system description are made."""
    options = SuiteOptions(modes=(), out=no_data / "out", datasets_dir=data_dir / "datasets", system="mine")
    system, outcomes = run_suite(options)
    assert [o.setup.benchmark for o in outcomes] == ["kws01", "vww01", "ic01", "ad01", "sww01"]
    assert system == "mine"
    assert [p.name for p in (no_data / "out" / "systems").iterdir()] == ["mine.json"]
    # The description as written by hand: the reference board's core, clock and stack, indented by 2.
    assert (no_data / "out" / "systems" / "mine.json").read_text() == (
        "{\n"
        '  "system_name": "mine",\n'
        '  "board": "nucleo-l4r5zi",\n'
        '  "core": "cortex-m4",\n'
        '  "clock_mhz": 120.0,\n'
        '  "software_stack": "tflm-cmsisnn",\n'
        '  "notes": "Emulated by tinyinterp: TFLM-exact int8 arithmetic; device time and energy from its '
        'cost model, not measured on hardware."\n'
        "}\n"
    )


@pytest.fixture(scope="module")
def sww_dataset(data_dir: Path) -> Path:
    return data_dir / "datasets" / "sww01"


def run_sww(setup: Setup, out: Path, modes: tuple[str, ...], trace: Path | None = None) -> tuple:
    progress = Progress()
    outcome = run_benchmark(setup, SuiteOptions(out=out, modes=modes, trace=trace), "s", progress)
    return outcome, progress.bars


def test_sww01_times_the_scored_test_its_accuracy_run_played(sww_dataset: Path, tmp_path: Path) -> None:
    """sww_short_test.json (one test, short_wav_easy10s.wav) played once: accuracy, then the timed modes on
    that same play (no second "stream" bar). The stand-in counts as the real model here."""
    setup = Setup("sww01", zoo_device("sww01"), "zoo", False, sww_dataset)
    outcome, bars = run_sww(setup, tmp_path, ("a", "p"))
    assert bars == [["sww01 accuracy", 1, 1]]
    assert [name for name, _ in outcome.stream.tests] == ["sww_short_test.json"]
    assert outcome.stream.timed is outcome.stream.tests[0][1]
    assert outcome.random_inputs is False and outcome.accuracy_skipped is None
    log = (tmp_path / "results" / "s" / "sww" / "accuracy" / "log.txt").read_text().splitlines()
    assert "Device model retrieved: sww01" in log
    assert "No loop count specified.  Using full set (1 test files)" in log


def test_sww01_timed_alone_plays_the_scored_test_with_its_trace(sww_dataset: Path, tmp_path: Path) -> None:
    setup = Setup("sww01", zoo_device("sww01"), "zoo", False, sww_dataset)
    outcome, bars = run_sww(setup, tmp_path / "out", ("p",), trace=tmp_path / "trace")
    assert bars == [["sww01 stream", 1, 1]]
    assert outcome.stream.tests == [] and outcome.random_inputs is False
    traced = sorted(p.name for p in (tmp_path / "trace").iterdir())
    assert traced == ["short_wav_easy10s.features.npy", "short_wav_easy10s.outputs.npy"]


def test_a_sww01_stand_in_plays_silence_even_with_the_dataset(sww_dataset: Path, tmp_path: Path) -> None:
    setup = Setup("sww01", zoo_device("sww01"), "zoo", True, sww_dataset)
    outcome, bars = run_sww(setup, tmp_path, ("a", "p"))
    assert (outcome.accuracy_skipped, bars) == ("needs the real model", [["sww01 stream", 1, 1]])
    assert outcome.stream.tests == [] and outcome.random_inputs is True


def test_sww01_accuracy_without_its_dataset_names_why(tmp_path: Path) -> None:
    setup = Setup("sww01", zoo_device("sww01"), "zoo", False, None)
    outcome, bars = run_sww(setup, tmp_path, ("a",))
    assert (outcome.accuracy_skipped, bars, outcome.stream.timed) == ("needs the dataset", [], None)
