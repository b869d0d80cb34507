"""The official MLPerf Tiny runner, unmodified, against `tinyinterp rig` in accuracy, performance and energy
modes of ic01; its results equal `tinyinterp suite`'s.

The runner's source is not part of this project and is not fetched: point TINYINTERP_TINY_RUNNER at its
`benchmark/runner` folder (or at a checkout of mlcommons/tiny), e.g.

    git clone --depth 1 https://github.com/mlcommons/tiny /tmp/tiny
    TINYINTERP_TINY_RUNNER=/tmp/tiny pytest tests/test_rig_runner.py

It needs the runner's own dependencies (pyserial, PyYAML, numpy, scikit-learn, matplotlib; pyusb is
answered by the launcher if missing) and the reference data (`data_dir`). Without the runner these tests
are skipped, except on CI (CI=true), where a missing runner is a failure. They take about two minutes:
performance mode runs in real time (the runner checks that its timed loops last 10 s of wall-clock time).
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import import_required

from tinyinterp.suite.runner import SuiteOptions, run_suite

START_TIMEOUT_S = 120  # a cold numba cache compiles the kernels first
RUNNER_TIMEOUT_S = 600
PER_CLASS = 1  # accuracy on the first stimuli of each class (performance and energy use the first 5):
# the runner's AUC needs every class
PERFORMANCE_SCRIPT = """\
ic01:
  name: image_classification
  model: ic01
  truth_file: y_labels.csv
  script:
    - loop 5:
      - download
      - infer 4 1
"""  # tests_performance.yaml's loop with fewer inferences: the same throughput in 15 s instead of 75 s


@pytest.fixture(scope="module")
def tiny_runner() -> Path:
    configured = os.environ.get("TINYINTERP_TINY_RUNNER")
    for candidate in [Path(configured), Path(configured) / "benchmark" / "runner"] if configured else []:
        if (candidate / "main.py").is_file() and (candidate / "device_manager.py").is_file():
            for module in ("serial", "yaml", "sklearn", "matplotlib"):
                import_required(module)
            return candidate
    message = f"the MLPerf Tiny runner was not found (TINYINTERP_TINY_RUNNER={configured or 'unset'})"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def datasets(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A datasets folder with the first PER_CLASS stimuli of each class of ic01."""
    folder = tmp_path_factory.mktemp("datasets")
    source, target = data_dir / "datasets" / "ic01", folder / "ic01"
    target.mkdir()
    rows: list[str] = []
    classes: Counter[str] = Counter()
    for row in (source / "y_labels.csv").read_text().splitlines():
        label = row.split(",")[2]
        if classes[label] < PER_CLASS:
            classes[label] += 1
            rows.append(row)
    (target / "y_labels.csv").write_text("\n".join(rows) + "\n")
    for row in rows:
        (target / row.split(",")[0]).symlink_to(source / row.split(",")[0])
    return folder


@contextmanager
def rig(folder: Path, model: Path, mode: str, *options: str) -> Iterator[Path]:
    """`tinyinterp rig` serving ic01 in `mode`; yields the devices file it wrote."""
    devices = folder / "devices.yaml"
    command = [
        "rig",
        "--benchmark",
        "ic01",
        "--mode",
        mode,
        "--model",
        str(model),
        "--devices-file",
        str(devices),
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "tinyinterp.cli", *command, *options],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
        assert ready and process.poll() is None, "the rig did not start"
        while not process.stdout.readline().startswith("devices file"):  # printed in one write
            pass
        yield devices
    finally:
        process.terminate()
        process.wait(timeout=10)


def run_runner(runner: Path, folder: Path, devices: Path, mode: str, script: Path, datasets: Path) -> str:
    """The runner's results.txt of one session in `folder`."""
    runner_options = ["-m", mode, "-t", str(script), "-s", str(datasets)]
    done = subprocess.run(
        [sys.executable, "-m", "tinyinterp.rig.launch", str(runner), str(devices), *runner_options],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=RUNNER_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (results,) = (folder / "sessions").glob("*/results.txt")
    text = results.read_text()
    assert "ERROR" not in text, text
    return text


def suite_outcome(data_dir: Path, datasets: Path, mode: str, out: Path):
    options = SuiteOptions(
        benchmarks=("ic01",), modes=(mode,), models_dir=data_dir / "models", datasets_dir=datasets, out=out
    )
    return run_suite(options)[1][0]


def number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in:\n{text}"
    return float(match.group(1))


def test_accuracy_mode(tiny_runner: Path, data_dir: Path, datasets: Path, tmp_path: Path) -> None:
    model = data_dir / "models" / "pretrainedResnet_quant.tflite"
    with rig(tmp_path, model, "accuracy") as devices:
        text = run_runner(tiny_runner, tmp_path, devices, "a", tiny_runner / "tests_accuracy.yaml", datasets)
    score = suite_outcome(data_dir, datasets, "a", tmp_path / "suite").score
    assert number(r"Top 1% = ([\d.]+)", text) == round(score.top1, 1)


def test_performance_mode(tiny_runner: Path, data_dir: Path, datasets: Path, tmp_path: Path) -> None:
    model = data_dir / "models" / "pretrainedResnet_quant.tflite"
    script = tmp_path / "tests_performance.yaml"
    script.write_text(PERFORMANCE_SCRIPT)
    with rig(tmp_path, model, "performance", "--realtime") as devices:
        text = run_runner(tiny_runner, tmp_path, devices, "p", script, datasets)
    throughput = suite_outcome(data_dir, datasets, "p", tmp_path / "suite").throughput
    assert number(r"Median throughput is\s+([\d.]+) inf\./sec\.", text) == pytest.approx(throughput, abs=1e-3)


def test_energy_mode(tiny_runner: Path, data_dir: Path, datasets: Path, tmp_path: Path) -> None:
    model = data_dir / "models" / "pretrainedResnet_quant.tflite"
    with rig(tmp_path, model, "energy", "--dut-baud", "115200") as devices:
        text = run_runner(tiny_runner, tmp_path, devices, "e", tiny_runner / "tests_energy.yaml", datasets)
    energy_uj = suite_outcome(data_dir, datasets, "e", tmp_path / "suite").energy_uj
    assert len(re.findall(r"Energy data for trial", text)) == 5
    # The runner integrates whole 1 ms samples between the pulses: within 1 ms of the 20-inference run.
    runner_uj = number(r"Median energy cost is\s+([\d.]+) uJ/inf\.", text)
    assert runner_uj == pytest.approx(energy_uj, rel=1e-3 / 11.9)
