"""The official MLPerf Tiny runner, unmodified, against `tinyinterp rig` in accuracy, performance and energy
modes of ic01, and in performance and energy modes of sww01 (streaming); its results equal
`tinyinterp suite`'s.

The runner's source is not part of this project and is not fetched: point TINYINTERP_TINY_RUNNER at its
`benchmark/runner` folder (or at a checkout of mlcommons/tiny), e.g.

    git clone --depth 1 https://github.com/mlcommons/tiny /tmp/tiny
    TINYINTERP_TINY_RUNNER=/tmp/tiny pytest -m runner tests/test_rig_runner.py

It needs the runner's own dependencies (`pip install -e ".[rig]"`: pyserial, PyYAML, scikit-learn,
matplotlib; pyusb is answered by the launcher if missing) and the reference data (`data_dir`). These
tests are marked `runner` and deselected by default (the runner is not part of a clean clone):
`pytest -m runner tests/test_rig_runner.py` runs them all. Once selected, a missing runner is a skip
with its reason, except on CI (CI=true), where it is a failure. The ic01 tests take about two
minutes: performance mode runs in real time (the runner checks that its timed loops last 10 s of
wall-clock time). kws01, vww01 and ad01 with the runner's own performance and energy scripts take about
ten more (also marked `slow`).
"""

from __future__ import annotations

import json
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

from tinyinterp.suite.runner import Outcome, SuiteOptions, run_suite

pytestmark = pytest.mark.runner

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
STREAM_SCRIPT = """\
sww01:
  name: streaming_wakeword
  model: sww01
  truth_file: sww_short_test.json
  script:
    - stream
"""  # tests_performance.yaml's and tests_energy.yaml's sww01 on the 10 s wav instead of the 20 min one


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


MODELS = {
    "ic01": "pretrainedResnet_quant.tflite",
    "kws01": "kws_ref_model.tflite",
    "vww01": "vww_96_int8.tflite",
    "ad01": "ad01_int8.tflite",
    "sww01": "str_ww_ref_model.tflite",
}
SCRIPTS = {"a": "tests_accuracy.yaml", "p": "tests_performance.yaml", "e": "tests_energy.yaml"}
RIG_MODES = {"a": ("accuracy",), "p": ("performance", "--realtime"), "e": ("energy", "--dut-baud", "115200")}


@contextmanager
def rig(folder: Path, benchmark: str, model: Path, mode: str, sd_card: Path | None = None) -> Iterator[Path]:
    """`tinyinterp rig` serving the set-up of runner mode `mode`; yields the devices file it wrote."""
    devices = folder / "devices.yaml"
    rig_mode, *options = RIG_MODES[mode]
    if sd_card is not None:
        options += ["--sd-card", str(sd_card)]
    if benchmark == "sww01":
        options = [o for o in options if o != "--realtime"]  # the board's timer times the stream
    command = ["rig", "--benchmark", benchmark, "--model", str(model), "--devices-file", str(devices)]
    process = subprocess.Popen(
        [sys.executable, "-m", "tinyinterp.cli", *command, "--mode", rig_mode, *options],
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


def runner_and_suite(
    benchmark: str, mode: str, runner: Path, data_dir: Path, datasets: Path, folder: Path, script: Path
) -> tuple[str, Outcome]:
    """The runner's results.txt against the rig, and `tinyinterp suite`'s outcome, of one mode."""
    sd_card = datasets / benchmark if benchmark == "sww01" else None
    with rig(folder, benchmark, data_dir / "models" / MODELS[benchmark], mode, sd_card) as devices:
        text = run_runner(runner, folder, devices, mode, script, datasets)
    options = SuiteOptions(
        benchmarks=(benchmark,),
        modes=(mode,),
        models_dir=data_dir / "models",
        datasets_dir=datasets,
        out=folder / "suite",
    )
    return text, run_suite(options)[1][0]


def number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in:\n{text}"
    return float(match.group(1))


def check_throughput(text: str, outcome: Outcome) -> None:
    runner = number(r"Median throughput is\s+([\d.]+) inf\./sec\.", text)
    assert outcome.throughput is not None and runner == pytest.approx(outcome.throughput, abs=1e-3)


def check_energy(text: str, outcome: Outcome) -> None:
    """The runner integrates whole 1 ms samples between the pulses: equal within 1 ms of the timed run."""
    assert len(re.findall(r"Energy data for trial", text)) == 5
    seconds = min(float(s) for s in re.findall(r"Elapsed time\s+: ([\d.]+)", text))
    runner = number(r"Median energy cost is\s+([\d.]+) uJ/inf\.", text)
    assert outcome.energy_uj is not None and runner == pytest.approx(outcome.energy_uj, rel=1e-3 / seconds)


def test_ic01_accuracy_mode(tiny_runner: Path, data_dir: Path, datasets: Path, tmp_path: Path) -> None:
    script = tiny_runner / SCRIPTS["a"]
    text, outcome = runner_and_suite("ic01", "a", tiny_runner, data_dir, datasets, tmp_path, script)
    assert outcome.score is not None and number(r"Top 1% = ([\d.]+)", text) == round(outcome.score.top1, 1)


def test_ic01_performance_mode(tiny_runner: Path, data_dir: Path, datasets: Path, tmp_path: Path) -> None:
    script = tmp_path / "tests_performance.yaml"
    script.write_text(PERFORMANCE_SCRIPT)
    check_throughput(*runner_and_suite("ic01", "p", tiny_runner, data_dir, datasets, tmp_path, script))


def test_ic01_energy_mode(tiny_runner: Path, data_dir: Path, datasets: Path, tmp_path: Path) -> None:
    script = tiny_runner / SCRIPTS["e"]
    check_energy(*runner_and_suite("ic01", "e", tiny_runner, data_dir, datasets, tmp_path, script))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["p", "e"])
@pytest.mark.parametrize("name", ["kws01", "vww01", "ad01"])
def test_the_other_benchmarks_with_the_runners_scripts(
    name: str, mode: str, tiny_runner: Path, data_dir: Path, tmp_path: Path
) -> None:
    script = tiny_runner / SCRIPTS[mode]
    datasets = data_dir / "datasets"
    text, outcome = runner_and_suite(name, mode, tiny_runner, data_dir, datasets, tmp_path, script)
    (check_throughput if mode == "p" else check_energy)(text, outcome)


@pytest.mark.parametrize("mode", ["p", "e"])
def test_sww01_streams_through_the_interface_board(
    mode: str, tiny_runner: Path, data_dir: Path, tmp_path: Path
) -> None:
    """The runner's detections, counts, duty cycle and power are the suite's, on the 10 s wav."""
    script = tmp_path / "tests_sww.yaml"
    script.write_text(STREAM_SCRIPT)
    datasets = data_dir / "datasets"
    text, outcome = runner_and_suite("sww01", mode, tiny_runner, data_dir, datasets, tmp_path, script)
    stream = outcome.stream
    assert stream is not None and stream.timed is not None and stream.duty is not None
    (results,) = json.loads(next((tmp_path / "sessions").glob("*/results.json")).read_text())
    assert results["infer"]["detections"] == list(stream.timed.timestamps_ms)
    duty = results["dutycycle"]
    assert (duty["start_times_s"], duty["stop_times_s"]) == (
        [count * 1e-5 for count in stream.duty.start_counts],
        [count * 1e-5 for count in stream.duty.stop_counts],
    )
    assert results["activations"] == stream.timed.result.outputs[:, 0].tolist()
    assert "Accuracy: 2 True positives, 1 False negatives, 0 False positives" in text
    suite_text = next((tmp_path / "suite").rglob("results.txt")).read_text()
    for line in ("Accuracy:", "Average duty cycle:", "Average period:", "Estimated throughput:"):
        assert re.search(f"^{line}.*$", text, re.M)[0] == re.search(f"^{line}.*$", suite_text, re.M)[0]
    if mode == "e":
        assert stream.power_mw is not None
        power = number(r"Power\s+: ([\d.]+) mW\.", text)
        assert power == pytest.approx(stream.power_mw, rel=1e-4)  # 4-digit samples
