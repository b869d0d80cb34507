"""`tinyinterp suite --mode all` on the reference models and datasets: accuracy equals TFLM's, files parse.

The accuracy oracle runs TFLM's interpreter on the same stimuli (every ad01 window), prints its outputs
as the reference firmware does and scores them as the runner does; the suite's numbers must be equal.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from test_suite_cli import AUC, ENERGY, THROUGHPUT, TOP1, official_number, summary_rows

from tinyinterp.cli import main
from tinyinterp.cost import estimate
from tinyinterp.model import load_model
from tinyinterp.suite.benchmarks import SINGLE_STREAM
from tinyinterp.suite.datasets import BENCHMARKS, read_labels
from tinyinterp.suite.device import EmulatedDevice, batches, device_cost
from tinyinterp.suite.protocol import parse_payload
from tinyinterp.suite.runner import SUITE_BENCHMARKS, loads_of
from tinyinterp.suite.scoring import FileResults, Score, score_files
from tinyinterp.testing import tflm_outputs

TIME_LIMIT_S = 600


@dataclass(frozen=True)
class SuiteRun:
    results: Path  # results/<system>/
    terminal: str
    seconds: float


@pytest.fixture(scope="module")
def suite_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    """One `tinyinterp suite --mode all` on the reference models and datasets."""
    out = tmp_path_factory.mktemp("suite")
    args = ["suite", "--mode", "all", "--out", str(out), "--system", "emulated"]
    args += ["--models-dir", str(data_dir / "models"), "--datasets-dir", str(data_dir / "datasets")]
    terminal = io.StringIO()
    start = time.monotonic()
    with contextlib.redirect_stdout(terminal):
        assert main(args) == 0
    return SuiteRun(out / "results" / "emulated", terminal.getvalue(), time.monotonic() - start)


def tflm_score(data_dir: Path, benchmark: str) -> Score:
    """Accuracy computed with TFLM's interpreter, through the reference firmware's printing."""
    model_bytes = (data_dir / "models" / BENCHMARKS[benchmark].model_file).read_bytes()
    model = load_model(model_bytes)
    device = EmulatedDevice(
        benchmark, model, device_cost(model, "nucleo-l4r5zi", None, None, "tflm-cmsisnn"), ""
    )
    folder = data_dir / "datasets" / benchmark
    stimuli = read_labels(folder)
    files = []
    for group in batches(stimuli, 64):  # one TFLM interpreter per group: its setup is slow
        per_file = loads_of(benchmark, folder, group, device.load_bytes)
        loads = [load for file_loads in per_file for load in file_loads]
        payloads = iter(device.payloads(loads, tflm_outputs(model_bytes, device.inputs(loads))))
        for stimulus, file_loads in zip(group, per_file):
            results = tuple(tuple(parse_payload(next(payloads)) or ()) for _ in file_loads)
            files.append(FileResults(stimulus.file, stimulus.label, results))
    return score_files(files)


def suite_score(run: Path, benchmark: str, data_dir: Path) -> Score:
    """The suite's score, recomputed from the per-window results it wrote to results.json."""
    records = json.loads((run / benchmark[:-2] / "accuracy" / "results.json").read_text())
    per_file: dict[str, list[tuple[float, ...]]] = {}
    for record in records:
        per_file.setdefault(record["file"], []).append(tuple(record["infer"]["results"]))
    stimuli = read_labels(data_dir / "datasets" / benchmark)
    assert sorted(per_file) == sorted(s.file for s in stimuli)
    return score_files([FileResults(s.file, s.label, tuple(per_file[s.file])) for s in stimuli])


def test_the_suite_finishes_in_time_and_summarises_its_results(suite_run: SuiteRun) -> None:
    assert suite_run.seconds < TIME_LIMIT_S
    rows = summary_rows(suite_run.terminal)
    assert sorted(rows) == sorted(SUITE_BENCHMARKS)  # sww01 too: its dataset is there (test_sww_suite.py)
    for benchmark in SINGLE_STREAM:
        model, accuracy, _, throughput, energy = rows[benchmark]
        folder = suite_run.results / benchmark[:-2]
        assert model == "reference"
        pattern, shown = (AUC, "AUC {:.3f}") if benchmark == "ad01" else (TOP1, "{:.1f}% top-1")
        assert accuracy == shown.format(official_number(folder / "accuracy" / "results.txt", pattern))
        assert float(throughput) == official_number(folder / "performance" / "results.txt", THROUGHPUT)
        assert float(energy) == pytest.approx(
            official_number(folder / "energy" / "results.txt", ENERGY, True), abs=0.06
        )


@pytest.mark.parametrize("benchmark_name", SINGLE_STREAM)
def test_accuracy_equals_tflm(
    benchmark_name: str, suite_run: SuiteRun, data_dir: Path, tflm: ModuleType
) -> None:
    run = suite_run.results
    expected = tflm_score(data_dir, benchmark_name)
    assert suite_score(run, benchmark_name, data_dir) == expected  # same per-file predictions, top-1 and AUC
    results = run / benchmark_name[:-2] / "accuracy" / "results.txt"
    assert official_number(results, TOP1) == float(f"{expected.top1:2.1f}")
    assert official_number(results, AUC) == float(f"{expected.auc:.3f}")


@pytest.mark.parametrize("benchmark_name", SINGLE_STREAM)
def test_results_parse_with_the_official_regexes_and_logs_validate(
    benchmark_name: str, suite_run: SuiteRun, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = suite_run.results / benchmark_name[:-2]
    throughput = official_number(folder / "performance" / "results.txt", THROUGHPUT)
    energy = official_number(folder / "energy" / "results.txt", ENERGY, search=True)
    # From the cost model's estimate, not the suite's code: every timed inference takes the estimated
    # latency and energy, so the median throughput is 1000 / latency_ms and the median energy the estimate's.
    totals = estimate(
        data_dir / "models" / BENCHMARKS[benchmark_name].model_file, board="nucleo-l4r5zi"
    ).totals
    assert throughput == pytest.approx(1000 / totals.latency_ms, abs=1e-3)
    assert energy == pytest.approx(totals.energy_uj, abs=1e-4)
    for mode in ("accuracy", "performance"):
        args = ["validate-log", str(folder / mode / "log.txt"), "--benchmark", benchmark_name]
        code = main(
            [*args, "--models-dir", str(data_dir / "models"), "--datasets-dir", str(data_dir / "datasets")]
        )
        assert code == 0, capsys.readouterr().out
