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
from dataclasses import replace
from pathlib import Path

import pytest
from test_dut import reference_device

from tinyinterp.suite.datasets import DatasetError
from tinyinterp.suite.results import RunInfo, Window, write_energy, write_performance
from tinyinterp.suite.runner import Setup, SuiteOptions, no_progress, run_benchmark

EXPECTED = Path(__file__).parent / "data" / "suite-kws01"
FILES = ("tst_000000_Stop_7.bin", "tst_000001_Left_2.bin", "tst_000002_Right_6.bin", "tst_000003_Up_8.bin")
FILES += ("tst_000004_On_5.bin",)
STAMP = re.compile(r"^\d{4}\.\d{6} ", re.MULTILINE)


def small_dataset(data_dir: Path, benchmark: str, labels: list[str], folder: Path) -> Path:
    """A dataset folder with the given rows of the benchmark's y_labels.csv and their files."""
    (folder / "y_labels.csv").write_text("".join(f"{row}\n" for row in labels))
    for row in labels:
        shutil.copy(data_dir / "datasets" / benchmark / row.split(",")[0], folder)
    return folder


def run(data_dir: Path, benchmark: str, dataset: Path, out: Path, modes: tuple[str, ...]) -> Path:
    """The benchmark's results folder after a suite run of `modes` on the hand-timed device."""
    device = reference_device(data_dir, benchmark)
    setup = Setup(benchmark, device, device.model_name, False, dataset)
    run_benchmark(setup, SuiteOptions(out=out, modes=modes), "emulated", no_progress)
    return out / "results" / "emulated" / benchmark[:-2]


@pytest.fixture(scope="module")
def run_folders(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The suite's kws01 folder (accuracy/, performance/, energy/) after one run of every mode."""
    labels = (data_dir / "datasets" / "kws01" / "y_labels.csv").read_text().splitlines()[: len(FILES)]
    dataset = small_dataset(data_dir, "kws01", labels, tmp_path_factory.mktemp("kws01"))
    return run(data_dir, "kws01", dataset, tmp_path_factory.mktemp("out"), ("a", "p", "e"))


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


def test_ad01_accuracy_has_a_record_and_a_log_entry_per_window(data_dir: Path, tmp_path: Path) -> None:
    # Two 102,400-byte files cut as their y_labels.csv rows say, 2,560-byte windows every 512 bytes:
    # (102,400 - 2,560) / 512 + 1 = 196 windows each, 0.25 s apiece back to back.
    labels = ["normal_id_01_00000003_hist_librosa.bin,2,0,2560,512"]
    labels += ["anomaly_id_01_00000003_hist_librosa.bin,2,1,2560,512"]
    folder = run(
        data_dir, "ad01", small_dataset(data_dir, "ad01", labels, tmp_path), tmp_path / "out", ("a",)
    )
    records = json.loads((folder / "accuracy" / "results.json").read_text())
    expected = []
    for k in range(2 * 196):
        file, label = labels[k // 196].split(",")[:3:2]
        infer = {"start_time": 250_000 * k, "end_time": 250_000 * (k + 1), "elapsed_time": 250_000}
        infer |= {"total_inferences": 1, "iterations": 1, "warmups": 0}
        expected.append(
            {"file": file, "class": label, "bytes_to_send": 2560, "stride": 512, "infer": infer, "mode": "a"}
        )
    assert [
        r | {"infer": {k: v for k, v in r["infer"].items() if k != "results"}} for r in records
    ] == expected
    assert all(len(r["infer"]["results"]) == 1 for r in records)  # one anomaly score per window
    loading = [
        line.split("ulp-mlperf: ")[1]
        for line in (folder / "accuracy" / "log.txt").read_text().splitlines()
        if "Loading file" in line
    ]
    assert loading == [
        f"Loading file {labels[k // 196].split(',')[0]} segment {k % 196}" for k in range(2 * 196)
    ]


def test_a_stimulus_that_cannot_be_read_is_named(data_dir: Path, tmp_path: Path) -> None:
    dataset = small_dataset(data_dir, "kws01", [], tmp_path)
    (dataset / "y_labels.csv").write_text("tst_missing.bin,12,7\n")
    with pytest.raises(
        DatasetError, match=f"^{dataset / 'tst_missing.bin'}: cannot read stimulus: No such file"
    ):
        run(data_dir, "kws01", dataset, tmp_path / "out", ("a",))


@pytest.mark.parametrize(
    ("row", "windows", "stride"),
    [
        ("normal_id_01_00000003_hist_librosa.bin,2,0,2560,512", 196, 512),
        # Without window and stride in the row: one model input (2,560 bytes), back to back: 40 windows.
        ("normal_id_01_00000003_hist_librosa.bin,2,0", 40, None),
    ],
)
def test_a_one_file_ad01_dataset(
    row: str, windows: int, stride: int | None, data_dir: Path, tmp_path: Path
) -> None:
    folder = run(data_dir, "ad01", small_dataset(data_dir, "ad01", [row], tmp_path), tmp_path / "out", ("a",))
    records = json.loads((folder / "accuracy" / "results.json").read_text())
    assert len(records) == windows
    assert {(r["stride"], r["bytes_to_send"], r["class"]) for r in records} == {(stride, 2560, "0")}


def test_the_ten_second_rule_at_its_edge(tmp_path: Path) -> None:
    """A timed loop of exactly 10 s: the performance run has not "met" the rule (more than 10 s), the
    energy run is not flagged (at least 10 s); 9.999999 s is flagged."""
    info = RunInfo("kws01", "p", ())
    window = Window("a.bin", 0, 0, 40, 1, "0.5,0.5", 0, 10_000_000, energy_uj=200_000.0)
    write_performance(tmp_path / "p", info, [window], 490)
    assert "requirements have been met" not in (tmp_path / "p" / "results.txt").read_text()
    write_energy(tmp_path / "e", info, [window, replace(window, end_us=9_999_999)], 490)
    elapsed = [
        line for line in (tmp_path / "e" / "results.txt").read_text().splitlines() if "Elapsed" in line
    ]
    assert elapsed == ["  Elapsed time  : 10.0", "  Elapsed time  : 9.999999  <<<< below minimum duration"]
