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


def differences(written: list[str], expected: list[str]) -> str:
    """Where two files' lines first differ, or "" if they are equal."""
    if written == expected:
        return ""
    at = next(
        (k for k, (a, b) in enumerate(zip(written, expected)) if a != b), min(len(written), len(expected))
    )
    found = written[at] if at < len(written) else "(end of file)"
    wanted = expected[at] if at < len(expected) else "(end of file)"
    return f"line {at + 1}: written {found!r}, expected {wanted!r}"


def test_every_file_of_every_mode(run_folders: Path) -> None:
    # One test for all nine files: mutmut maps the fixture's run to the first test that uses it.
    wrong = {}
    for mode in ("accuracy", "performance", "energy"):
        for name in ("log.txt", "results.txt"):
            written = STAMP.sub("STAMP ", (run_folders / mode / name).read_text())
            expected = (EXPECTED / mode / name).read_text().replace("{folder}", str(run_folders / mode))
            wrong[f"{mode}/{name}"] = differences(written.splitlines(), expected.splitlines())
        written_json = json.loads((run_folders / mode / "results.json").read_text())
        expected_json = json.loads((EXPECTED / mode / "results.json").read_text())
        wrong[f"{mode}/results.json"] = differences(
            [json.dumps(r, sort_keys=True) for r in written_json],
            [json.dumps(r, sort_keys=True) for r in expected_json],
        )
    assert {path: where for path, where in wrong.items() if where} == {}
