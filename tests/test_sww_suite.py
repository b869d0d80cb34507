"""`tinyinterp suite --benchmarks sww01`: detections per test json, the v1.3 streaming run rules from the
cost model (front end + model per frame), the runner's sww result formats, --trace and --json."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_suite_cli import fresh_install, summary_rows  # noqa: F401 (fixture)

from tinyinterp.cli import main
from tinyinterp.cost import estimate
from tinyinterp.cost.frontend import FLOAT_COSTS, frontend_cost
from tinyinterp.errors import CostModelError
from tinyinterp.interpreter import Interpreter
from tinyinterp.suite.results import RunInfo
from tinyinterp.suite.runner import default_benchmarks
from tinyinterp.suite.sww import stream_wav
from tinyinterp.suite.sww.detection import DetectionScore, StreamTest
from tinyinterp.suite.sww.results import write_run
from tinyinterp.suite.sww.run import (
    DutyCycle,
    FrameCost,
    Played,
    SwwOutcome,
    duty_cycle,
    energy_window_s,
    scored_test,
    write_trace,
)
from tinyinterp.suite.sww.stream import StreamResult
from tinyinterp.suite.sww.validate import find_test, parse_sww_log, ranges
from tinyinterp.suite.validate import LogFormatError

# The submission checker's sww patterns (tools/submission/submission_checker.py) and the runner's lines.
POWER = r"Power\s+: ([\d\.]+) mW"
THROUGHPUT = r"Estimated throughput: ([\d\.]+) inf\./sec\."
ACCURACY = r"Accuracy: (\d+) True positives, (\d+) False negatives, (\d+) False positives"
DUTY = r"Average duty cycle: ([\d\.]+)"


def suite(capsys: pytest.CaptureFixture[str], data_dir: Path, out: Path, *extra: str) -> dict:
    args = ["suite", "--benchmarks", "sww01", "--out", str(out), "--system", "emulated", "--json"]
    args += ["--models-dir", str(data_dir / "models"), "--datasets-dir", str(data_dir / "datasets")]
    assert main([*args, *extra]) == 0
    return json.loads(capsys.readouterr().out)


def found(pattern: str, path: Path) -> tuple[str, ...]:
    match = re.search(pattern, path.read_text())
    assert match, f"{pattern} not in {path}"
    return match.groups()


def test_sww01_counts_detections_and_writes_the_runners_formats(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = suite(capsys, data_dir, tmp_path, "--trace", str(tmp_path / "trace"))
    sww = summary["benchmarks"]["sww01"]
    assert sww["model"] == "reference"
    metrics = sww["metrics"]
    assert (metrics["true_positives"], metrics["false_negatives"], metrics["false_positives"]) == (2, 1, 0)
    # The dataset's one test json (windows at 1, 4 and 7 s): its counts are the totals; 7 s is missed.
    assert metrics["tests"] == {
        "sww_short_test.json": {
            "true_positives": 2,
            "false_negatives": 1,
            "false_positives": 0,
            "missed_windows_s": [7.0],
            "false_positives_s": [],
        }
    }
    folder = tmp_path / "results" / "emulated" / "sww"
    for mode in ("accuracy", "performance", "energy"):
        assert found(ACCURACY, folder / mode / "results.txt") == ("2", "1", "0")
    record = json.loads((folder / "energy" / "results.json").read_text())[0]
    assert list(record) == ["infer", "dutycycle", "activations", "power", "mode"]
    detections = record["infer"]["detections"]
    assert [t - detections[0] for t in detections] == [32 * k for k in [0, *range(43, 67), 156]]
    assert record["infer"]["detection_windows"][0] == [1.0, 1.6476250000000001]
    assert len(record["activations"]) == 312 and len(record["dutycycle"]["start_times_s"]) == 100
    interpreter = Interpreter(model_path=str(data_dir / "models" / "str_ww_ref_model.tflite"))
    expected = stream_wav(data_dir / "datasets" / "sww01" / "short_wav_easy10s.wav", interpreter)
    assert record["activations"] == expected.outputs[:, 0].tolist()
    np.testing.assert_array_equal(
        np.load(tmp_path / "trace" / "short_wav_easy10s.features.npy"), expected.features
    )
    np.testing.assert_array_equal(
        np.load(tmp_path / "trace" / "short_wav_easy10s.outputs.npy"), expected.outputs
    )


def test_sww01_timing_and_energy_come_from_the_front_end_and_model_costs(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = suite(capsys, data_dir, tmp_path, "--board", "nucleo-h7a3zi-q", "--mode", "energy")
    sww = summary["benchmarks"]["sww01"]
    model = estimate(data_dir / "models" / "str_ww_ref_model.tflite", board="nucleo-h7a3zi-q")
    frontend_ms = frontend_cost("cortex-m7").cycles / 280e3
    assert sww["frame"] == {
        "frontend_ms": pytest.approx(frontend_ms, rel=1e-9),
        "model_ms": pytest.approx(model.totals.latency_ms, rel=1e-9),
        "frame_ms": pytest.approx(model.totals.latency_ms + frontend_ms, rel=1e-9),
        "over_budget": False,
    }
    folder = tmp_path / "results" / "emulated" / "sww" / "energy"
    frame_s = sww["frame"]["frame_ms"] / 1e3
    # The board timestamps the processing pin in 10 us ticks: the period is within one tick of the model's.
    period_s = 1 / float(found(THROUGHPUT, folder / "results.txt")[0])
    assert period_s == pytest.approx(frame_s, abs=10e-6)
    assert float(found(DUTY, folder / "results.txt")[0]) == pytest.approx(frame_s / 0.032, abs=1e-3)
    assert float(found(POWER, folder / "results.txt")[0]) == pytest.approx(model.totals.power_mw)
    # The duty cycle's period is the 32 ms hop between frames.
    assert (sww["period_s"], sww["duty_cycle"]) == (0.032, pytest.approx(frame_s / 0.032, abs=1e-3))
    assert sww["power_mw"] == pytest.approx(model.totals.power_mw)
    # The summary's figures: one frame's processing, the runner's estimated throughput (1 / that) and the
    # energy of a 32 ms frame at the average power.
    assert (sww["latency_ms"], sww["throughput"], sww["energy_uj"]) == (
        pytest.approx(period_s * 1e3, abs=10e-3),
        pytest.approx(1 / period_s, rel=1e-3),
        pytest.approx(model.totals.power_mw * 32),
    )
    assert sww["latency_ms"] * sww["throughput"] == pytest.approx(1000, rel=1e-12)
    elapsed = float(found(r"Elapsed time  : ([\d\.]+)", folder / "results.txt")[0])
    assert 10.0 < elapsed < 10.5  # the 10 s wav, playback start and the runner's 0.25 s before `stop`
    total_uj = float(found(r"Total Energy  : ([\d\.]+) uJ", folder / "results.txt")[0])
    assert total_uj == pytest.approx(model.totals.power_mw * elapsed * 1e3)
    # The JSON's stream figures are the results file's unrounded (elapsed printed whole, energy to 1e-3 uJ).
    assert (sww["energy_window_s"], sww["stream_energy_uj"]) == (elapsed, pytest.approx(total_uj, abs=5e-4))
    assert not (folder.parent / "accuracy").exists()


def test_a_frame_over_32_ms_is_flagged(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = suite(capsys, data_dir, tmp_path, "--mode", "performance")  # nucleo-l4r5zi, TFLM: ~47 ms
    assert summary["benchmarks"]["sww01"]["frame"]["over_budget"]
    log = (tmp_path / "results" / "emulated" / "sww" / "performance" / "log.txt").read_text()
    frame_ms = summary["benchmarks"]["sww01"]["frame"]["frame_ms"]
    warning = f"tinyinterp: frame time {frame_ms:.3f} ms exceeds the 32 ms hop: a board would lose audio"
    assert warning in log.splitlines()
    data = ["--models-dir", str(data_dir / "models"), "--datasets-dir", str(data_dir / "datasets")]
    assert main(["suite", "--benchmarks", "sww01", "--out", str(tmp_path), *data]) == 0  # every mode: a table
    lines = capsys.readouterr().out.splitlines()
    assert summary_rows("\n".join(lines))["sww01"][:2] == ("reference", "2 TP, 1 FN, 0 FP")  # README's counts
    power_mw = estimate(
        data_dir / "models" / "str_ww_ref_model.tflite", board="nucleo-l4r5zi"
    ).totals.power_mw
    notes = lines[next(k for k, line in enumerate(lines) if line.startswith("└")) + 2 :]
    assert notes[:3] == [
        "sww01 (streaming): ms is one 32 ms frame's processing (front end + model), inf./sec. the runner's "
        "estimated throughput (1 / that), uJ/inf. the average power over a frame",
        f"sww01: average power {power_mw:.4f} mW over the energy window",
        f"sww01: warning: a frame takes {frame_ms:.2f} ms, over the 32 ms budget",
    ]
    assert not any(line.startswith("Real models:") for line in lines)  # nothing is missing: no note on it


def test_sww01_is_in_the_default_set_only_with_its_dataset(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "sww01" in default_benchmarks(data_dir / "datasets")
    (tmp_path / "sww01").mkdir()
    assert default_benchmarks(tmp_path) == ("kws01", "vww01", "ic01", "ad01")
    args = ["suite", "--datasets-dir", str(tmp_path), "--trace", str(tmp_path / "trace")]
    assert main(args) == 2  # refused rather than ignored
    assert "--trace writes the features and outputs of sww01, which this run does not include" in (
        capsys.readouterr().err
    )


def test_without_data_the_stand_in_plays_silence_and_reports_no_accuracy(
    fresh_install: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["suite", "--benchmarks", "sww01"]) == 0
    out = capsys.readouterr().out
    assert summary_rows(out)["sww01"][:2] == ("stand-in", "needs the real model")
    silence = "no dataset or real model for sww01: its timed runs played digital silence (same cost)."
    assert silence in out.splitlines()
    results = next((fresh_install / "tinyinterp-results" / "results").glob("*/sww/energy/results.txt"))
    assert "Accuracy" not in results.read_text() and "Power Edition Output" in results.read_text()
    # the stand-in's play is named by what it plays (SILENCE_S = 10 s) in the log and in results.json
    log = (results.parent / "log.txt").read_text()
    assert "tinyinterp: 10 s of silence played (no dataset or no real model): no accuracy" in log
    record = json.loads((results.parent / "results.json").read_text())[0]
    assert record["infer"]["wav_file"] == "10 s of silence"


def test_a_bad_test_json_or_missing_wav_is_named(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    datasets = tmp_path / "datasets"
    (datasets / "sww01").mkdir(parents=True)
    test = datasets / "sww01" / "sww_short_test.json"
    shutil.copy(data_dir / "datasets" / "sww01" / "sww_short_test.json", test)
    args = ["suite", "--benchmarks", "sww01", "--datasets-dir", str(datasets), "--out", str(tmp_path / "o")]
    args += ["--models-dir", str(data_dir / "models"), "--mode", "accuracy"]
    assert main(args) == 2
    assert f"{datasets / 'sww01' / 'short_wav_easy10s.wav'}: cannot read wav" in capsys.readouterr().err
    test.write_text("{}")
    assert main(args) == 2
    assert f"{test}: not an sww test json" in capsys.readouterr().err


def test_front_end_cost_per_core() -> None:
    cycles = {core: frontend_cost(core).cycles for core in FLOAT_COSTS}
    # Spec 6.3: on single-precision FPUs the 40 double log10 dominate, 0.1-0.2 M cycles per frame.
    assert 100_000 < cycles["cortex-m4"] < 250_000
    assert cycles["cortex-m33"] == pytest.approx(cycles["cortex-m4"], rel=0.01)
    assert cycles["cortex-m7"] < cycles["cortex-m4"] / 2  # double-precision FPU
    assert cycles["cortex-m0plus"] > cycles["cortex-m3"] > 5 * cycles["cortex-m4"]  # soft-float
    with pytest.raises(CostModelError, match="unknown core 'cortex-a53'"):
        frontend_cost("cortex-a53")


@pytest.fixture(scope="module")
def sww_log(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The log.txt of an emulated sww01 performance run."""
    out = tmp_path_factory.mktemp("sww")
    args = ["suite", "--benchmarks", "sww01", "--mode", "performance", "--out", str(out), "--system", "e"]
    args += ["--models-dir", str(data_dir / "models"), "--datasets-dir", str(data_dir / "datasets")]
    assert main(args) == 0
    return (out / "results" / "e" / "sww" / "performance" / "log.txt").read_text()


def validate(data_dir: Path, tmp_path: Path, text: str) -> int:
    (tmp_path / "log.txt").write_text(text)
    args = ["validate-log", str(tmp_path / "log.txt"), "--benchmark", "sww01"]
    return main(
        [*args, "--models-dir", str(data_dir / "models"), "--datasets-dir", str(data_dir / "datasets")]
    )


def detection_list(text: str) -> list[int]:
    return json.loads(next(line for line in text.splitlines() if re.fullmatch(r"\[[\d, ]*\]", line)))


def test_validate_log_recomputes_the_detections_of_a_sww_log(
    sww_log: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert validate(data_dir, tmp_path, sww_log) == 0
    log = tmp_path / "log.txt"
    head = "MLPerf Tiny runner streaming log, sww01, short_wav_easy10s.wav, recomputed with "
    head += "str_ww_ref_model.tflite"
    # spec Appendix B: the short file's 312 frames detect at 43-66 and 156, plus the sync pulse of frame 0
    assert capsys.readouterr().out == (
        f"{log}: {head}\nrecomputed  detections at frames 0, 43-66, 156 of 312\n"
        "match       detection frames (26 logged)\n"
        "match       counts: logged 2 TP, 1 FN, 0 FP, tinyinterp 2 TP, 1 FN, 0 FP\n"
    )
    unnamed = "\n".join(line for line in sww_log.splitlines() if "== File" not in line)
    assert validate(data_dir, tmp_path, unnamed) == 1
    head = head.replace("short_wav_easy10s.wav", "no wav named")
    assert capsys.readouterr().out == (
        f"{log}: {head}\nproblem     no `== File` line: which wav was played is unknown\n"
    )
    no_models = tmp_path / "no-models"
    no_models.mkdir()  # a log is validated with the reference model, never a stand-in
    args = ["validate-log", str(log), "--benchmark", "sww01", "--models-dir", str(no_models)]
    assert main([*args, "--datasets-dir", str(data_dir / "datasets")]) == 2
    no_model = "no reference model for sww01 found: give --model, or `tinyinterp models download`"
    assert capsys.readouterr().err == f"tinyinterp validate-log: error: {no_model}\n"


def test_detections_are_aligned_with_the_logged_period(
    sww_log: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    detections = detection_list(sww_log)
    drifted = [round(detections[0] + (t - detections[0]) * 1.01) for t in detections]  # frame 156: +50 ms
    text = sww_log.replace(str(detections), str(drifted))
    assert validate(data_dir, tmp_path, text) == 1  # at the ideal 32 ms the last detection is frame 158
    assert "only in the log 67, 158; only recomputed 49, 51, 156" in capsys.readouterr().out
    slow = text.replace("Average period: 0.032 s", "Average period: 0.03232 s")
    assert validate(data_dir, tmp_path, slow) == 0, capsys.readouterr().out
    unmeasured = "\n".join(line for line in sww_log.splitlines() if "Average period" not in line)
    assert validate(data_dir, tmp_path, unmeasured) == 0, capsys.readouterr().out  # the ideal 32 ms


def test_a_missing_detection_or_wrong_counts_fail(
    sww_log: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    detections = detection_list(sww_log)
    assert validate(data_dir, tmp_path, sww_log.replace(str(detections), str(detections[:-1]))) == 1
    out = capsys.readouterr().out
    assert "mismatch    detection frames (25 logged): only in the log none; only recomputed 156" in out
    assert "mismatch    the logged detections score 1 TP, 2 FN, 0 FP, the log says 2 TP, 1 FN, 0 FP" in out
    wrong = sww_log.replace("Accuracy: 2 True positives, 1", "Accuracy: 3 True positives, 0")
    assert validate(data_dir, tmp_path, wrong) == 1
    assert (
        "mismatch    counts: logged 3 TP, 0 FN, 0 FP, tinyinterp 2 TP, 1 FN, 0 FP" in capsys.readouterr().out
    )


def test_a_truncated_or_foreign_log_is_refused(
    sww_log: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truncated = sww_log[: sww_log.index("== File")] + "== File short_wav_easy10s.wav (10.0 s) ==\n"
    assert validate(data_dir, tmp_path, truncated) == 1
    assert "no `Accuracy:` line (truncated log?)" in capsys.readouterr().out
    assert validate(data_dir, tmp_path, "Device model retrieved: ic01\n") == 2
    assert "the log is for ic01, not sww01" in capsys.readouterr().err
    assert validate(data_dir, tmp_path, "m-results-[0.1,0.9]\n") == 2
    assert "not a streaming wake-word runner log" in capsys.readouterr().err


def test_a_sww_log_is_parsed_line_by_line() -> None:
    # an empty detection list `[]` (no sync pulse: nothing was played) is a list of no detections
    log = parse_sww_log("[]\n== File a.wav (1.0 s) ==\n", "sww01")
    assert (log.detections_ms, log.wav_file) == ([], "a.wav")
    assert log.problems == ["no `Accuracy:` line (truncated log?)"]
    log = parse_sww_log(
        "== File a.wav (1.0 s) ==\nAccuracy: 1 True positives, 0 False negatives, 2 False positives\n",
        "sww01",
    )
    assert (log.detections_ms, log.counts) == (None, (1, 0, 2))
    assert log.problems == ["no detection list (truncated log?)"]
    foreign = "not a streaming wake-word runner log: no detection list and no `== File` line"
    with pytest.raises(LogFormatError, match=f"^{re.escape(foreign)}$"):
        parse_sww_log("m-results-[0.1,0.9]\n", "sww01")


def test_a_wav_no_test_json_plays_is_named(data_dir: Path) -> None:
    dataset = data_dir / "datasets" / "sww01"
    with pytest.raises(LogFormatError, match=f"^{re.escape(f'no test json in {dataset} plays nope.wav')}$"):
        find_test(dataset, "nope.wav")


def test_duty_cycle_edges_are_the_chunk_completions_in_tim2_counts() -> None:
    # spec 4.2: frame k's chunk completes at play start (45 ms) + 32 (k + 1) ms, the pin stays high for the
    # frame's work (1 ms here); TIM2 counts 10 us: frame 0 rises at 77 ms = 7700 counts, falls at 7800
    duty = duty_cycle(3, frame_us=1000.0)
    assert duty.start_counts == (7700, 10900, 14100)
    assert duty.stop_counts == (7800, 11000, 14200)
    assert len(duty_cycle(150, frame_us=1000.0).start_counts) == 100  # MAX_FRAMES edges recorded


def test_traces_of_several_wavs_go_to_one_new_nested_folder(tmp_path: Path) -> None:
    # the accuracy run writes every test json's trace into the same --trace folder, created with its parents
    features = np.arange(80, dtype=np.int8).reshape(2, 40)
    outputs = np.array([[1, 2, 3], [-4, -5, -6]], np.int8)
    result = StreamResult(features, outputs, np.array([0]))
    folder = tmp_path / "runs" / "trace"
    write_trace(folder, "a", result)
    write_trace(folder, "b", result)
    for stem in ("a", "b"):
        assert np.array_equal(np.load(folder / f"{stem}.features.npy"), features)
        assert np.array_equal(np.load(folder / f"{stem}.outputs.npy"), outputs)


def test_the_scored_test_is_the_runners_truth_file(tmp_path: Path) -> None:
    # sww01's tests_*.yaml score sww_long_test.json; a dataset without it is scored on its first test json (by
    # name), and a folder without any on none.
    assert scored_test(tmp_path) is None
    for name in ("sww_a_test.json", "sww_long_test.json", "sww_short_test.json"):
        (tmp_path / name).write_text("{}")
    assert scored_test(tmp_path) == tmp_path / "sww_long_test.json"
    (tmp_path / "sww_long_test.json").unlink()
    assert scored_test(tmp_path) == tmp_path / "sww_a_test.json"


def test_the_energy_window_is_whole_milliseconds() -> None:
    # 45 ms to playback start, the audio, the runner's 0.25 s before `stop`: a wav of 16,001 samples
    # (1.0000625 s) makes 1.2950625 s, which the LPM01A's 1 kHz samples read as 1.295.
    result = StreamResult(np.zeros((0, 40), np.int8), np.zeros((0, 3), np.int8), np.array([], np.int64))
    assert energy_window_s(Played(None, "a.wav", 16001 / 16000, result, (), None)) == 1.295


PERIOD_32_MS = DutyCycle((7700, 10900), (9700, 12900))  # TIM2 counts: high 20 ms, period 32 ms


def energy_run(
    folder: Path, window_s: float, mode: str = "e", duty: DutyCycle = PERIOD_32_MS
) -> tuple[str, str]:
    """write_run on a hand-made play: 20 ms frames (32 ms apart unless `duty` says otherwise) at 30 mW,
    `window_s` of energy window, one window hit and one false positive at 1.23456 s."""
    test = StreamTest("a.wav", 16000, 9.5, ((1.0, 1.5),), {"wav_file": "a.wav"})
    outputs = np.array([[120, 0, 0], [0, 0, 0]], np.int8)
    result = StreamResult(np.zeros((2, 40), np.int8), outputs, np.array([0]))
    played = Played(test, "a.wav", 9.5, result, (97, 1097), DetectionScore(1, 0, 1, (), (1.23456,)))
    outcome = SwwOutcome(FrameCost(2000.0, 18000.0, 30.0), [], played, duty, window_s, 30.0 * window_s * 1e3)
    write_run(folder, RunInfo("sww01", mode, ()), outcome, [played])
    return (folder / "results.txt").read_text(), (folder / "log.txt").read_text()


def test_energy_results_have_the_runners_layout(tmp_path: Path) -> None:
    # spec 5.5, the ST energy results.txt layout and format strings: E = 30 mW x 9.795 s = 293850 uJ,
    # power 1e3 E / elapsed = 30 mW, duty 20 / 32 ms = 0.625, throughput 1 / 20 ms = 50 inf./sec.
    results, log = energy_run(tmp_path / "short", 9.795)
    assert results.splitlines() == [
        "Power Edition Output",
        "Energy data for trial 0",
        "  Elapsed time  : 9.795  <<<< below minimum duration",
        "  Inferences    : 1",
        "  Power         : 30.0000 mW.",
        "  Total Energy  : 293850.000 uJ",
        "  Energy/Inf    : 293850.000 uJ/inf",
        "-" * 57,
        "Median energy cost is 293850.0000 uJ/inf.",
        "-" * 57,
        "Accuracy: 1 True positives, 0 False negatives, 1 False positives",
        "Average duty cycle: 0.625",
        "Average period: 0.032 s",
        "Estimated throughput: 50.0 inf./sec.",
    ]
    # log.txt (spec 5.5): the detection list, the duty line, the LPM's sample count (1 kHz) and 3 events
    assert "[97, 1097]\nDuty cycle = 0.625, Period = 32.0 ms\nsamples:9795 timestamps:3\n" in log
    # the frame's cost in ms (2000 + 18000 us), the play's score, false positives as NumPy prints them
    frame_line = "tinyinterp: per 32 ms frame: front end 2.000 ms + model 18.000 ms = 20.000 ms at 30.000 mW"
    assert frame_line in log.splitlines()
    assert "== File a.wav (9.5 s) ==\nAccuracy: 1 True positives, 0 False negatives, 1 False positives" in log
    assert "False negatives: []\nFalse positives: [1.235]\n" in log
    # results.json (spec 5.5): keys in order, the test entry's keys, TIM2 counts x 10e-6, 9795 samples of
    # 30 mW x 1 ms = 30e-6 J, events 2 and 3 at samples 0 and 9795
    (record,) = json.loads((tmp_path / "short" / "results.json").read_text())
    assert list(record) == ["infer", "dutycycle", "activations", "power", "mode"]
    assert record["infer"] == {"wav_file": "a.wav", "detections": [97, 1097], "iterations": 1, "warmups": 0}
    assert record["dutycycle"] == {
        "duty_cycle": pytest.approx(0.625),
        "period": pytest.approx(0.032),
        "processing_time": pytest.approx(0.02),
        "start_times_s": [7700 * 10e-6, 10900 * 10e-6],
        "stop_times_s": [9700 * 10e-6, 12900 * 10e-6],
    }
    assert record["activations"] == [120, 0]
    assert all(type(value) is int for value in record["activations"])  # the int8 outputs, not floats
    assert record["power"] == {
        "samples": pytest.approx([30e-6] * 9795),
        "timestamps": [["2", 0], ["3", 9795]],
        "extracted_power": None,
        "voltage": None,
    }
    assert record["mode"] == "e"
    # a window of exactly 10 s is not below the minimum ("< 10 s" flags)
    results, _ = energy_run(tmp_path / "ten", 10.0)
    assert "  Elapsed time  : 10.0\n" in results
    # frames over the hop: 20 ms high every 100 ms (TIM2 counts 10,000 apart)
    _, log = energy_run(tmp_path / "slow", 10.0, duty=DutyCycle((0, 10000), (2000, 12000)))
    assert "\nDuty cycle = 0.200, Period = 100.0 ms\n" in log


def test_an_accuracy_run_has_no_duty_cycle_or_energy(tmp_path: Path) -> None:
    # the runner's accuracy mode reports detections only (spec 5.5: duty cycle in performance and energy)
    results, log = energy_run(tmp_path / "a", 9.795, mode="a")
    assert results == "Accuracy: 1 True positives, 0 False negatives, 1 False positives\n"
    assert "Duty cycle" not in log and "samples:" not in log
    (record,) = json.loads((tmp_path / "a" / "results.json").read_text())
    assert list(record) == ["infer", "activations", "mode"]


def test_detection_frames_are_shown_as_runs() -> None:
    # consecutive frames fold into first-last, single frames stay alone, in order; none is "none"
    assert ranges([156, 0, 43, 44, 45, 47, 48]) == "0, 43-45, 47-48, 156"
    assert ranges([]) == "none"
