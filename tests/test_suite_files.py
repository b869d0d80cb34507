"""Every field the suite writes (log.txt, results.txt, results.json of each mode), against files written by
hand in the runner's format (tests/data/suite-kws01/).

The run: kws01's reference model on its first 5 dataset files, on a device whose time and energy per
inference are set by hand to 250 ms and 5,000 uJ (not the cost model's, which is pinned elsewhere). So, by
hand: accuracy windows of 1 inference, 0.25 s each, back to back from 0; timed runs of
max(10, 10 s / 0.25 s + 2) = 42 inferences after 1 warm-up, window k from 0.25 + 10.75 k s for 10.5 s
(throughput 4.0 inf./sec.); energy 42 x 5,000 = 210,000 uJ per window, 20 mW over 10.5 s. The printed
results are TFLM's outputs for those files (see `HAND_PAYLOADS` in test_dut.py); all 5 are top-1 hits.
The runner's timestamps (`%m%d.%H%M%S`) are replaced by STAMP before comparing.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from test_dut import reference_device

from tinyinterp.suite.runner import Setup, SuiteOptions, no_progress, run_benchmark

EXPECTED = Path(__file__).parent / "data" / "suite-kws01"
FILES = ("tst_000000_Stop_7.bin", "tst_000001_Left_2.bin", "tst_000002_Right_6.bin", "tst_000003_Up_8.bin")
FILES += ("tst_000004_On_5.bin",)
STAMP = re.compile(r"^\d{4}\.\d{6} ", re.MULTILINE)


@pytest.fixture(scope="module")
def run_folders(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The suite's kws01 folder (accuracy/, performance/, energy/) after one run of every mode."""
    dataset = tmp_path_factory.mktemp("kws01")
    labels = (data_dir / "datasets" / "kws01" / "y_labels.csv").read_text().splitlines()
    (dataset / "y_labels.csv").write_text("\n".join(labels[: len(FILES)]) + "\n")
    for name in FILES:
        shutil.copy(data_dir / "datasets" / "kws01" / name, dataset / name)
    setup = Setup("kws01", reference_device(data_dir, "kws01"), "kws_ref_model.tflite", False, dataset)
    out = tmp_path_factory.mktemp("out")
    run_benchmark(setup, SuiteOptions(out=out), "emulated", no_progress)
    return out / "results" / "emulated" / "kws"


@pytest.mark.parametrize("mode", ["accuracy", "performance", "energy"])
@pytest.mark.parametrize("name", ["log.txt", "results.txt"])
def test_text_files(run_folders: Path, mode: str, name: str) -> None:
    written = STAMP.sub("STAMP ", (run_folders / mode / name).read_text())
    expected = (EXPECTED / mode / name).read_text().replace("{folder}", str(run_folders / mode))
    assert written.splitlines() == expected.splitlines()


@pytest.mark.parametrize("mode", ["accuracy", "performance", "energy"])
def test_results_json(run_folders: Path, mode: str) -> None:
    written = json.loads((run_folders / mode / "results.json").read_text())
    assert written == json.loads((EXPECTED / mode / "results.json").read_text())
