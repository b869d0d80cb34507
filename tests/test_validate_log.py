"""`tinyinterp validate-log` on logs made with the virtual DUT, in both runners' formats, and on bad logs."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from test_dut import random_load, zoo_device

import tinyinterp.suite.validate as validate_module
from tinyinterp import Interpreter
from tinyinterp.cli import main
from tinyinterp.model import save_model
from tinyinterp.model.builder import ModelBuilder
from tinyinterp.numerics import TFLM_ROUNDING
from tinyinterp.suite.device import EmulatedDevice
from tinyinterp.suite.host import Host, LocalLink
from tinyinterp.suite.protocol import parse_payload, requantize
from tinyinterp.suite.replay import ArenaReplay
from tinyinterp.suite.runner import Setup, run_accuracy
from tinyinterp.zoo import stand_in

FILES = 6
LOGGED_RESULTS = re.compile(r"(?:dut: m-results-\[|m-results    : \[)([^\]]*)\]")  # EEMBC, MLPerf Tiny runner
AD_WINDOWS = 4  # windows of 2560 bytes with the runner's stride of 512 bytes


def make_dataset(root: Path, device: EmulatedDevice) -> Path:
    """A dataset folder in the runner's layout with random stimuli (ad01: several windows per file)."""
    folder = root / device.benchmark
    folder.mkdir(parents=True)
    rows = []
    for k in range(FILES):
        data = random_load(device, 100 + k)
        if device.benchmark == "ad01":
            data += b"".join(random_load(device, 200 + k)[:512] for _ in range(AD_WINDOWS - 1))
        (folder / f"stimulus_{k}.bin").write_bytes(data)
        extra = ",2560,512" if device.benchmark == "ad01" else ""
        rows.append(f"stimulus_{k}.bin,2,{k % 2}{extra}")
    (folder / "y_labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def eembc_log(folder: Path, device: EmulatedDevice) -> str:
    """An EEMBC runner log of an accuracy run on the virtual DUT: its replies, as `dut:` lines."""
    link = LocalLink(device)
    host = Host(link.send)
    lines = [f"00001.000 dut: {line}" for line in link.take() + link.send("profile")]
    for k in range(FILES):
        path = folder / f"stimulus_{k}.bin"
        data = path.read_bytes()
        ranges = (
            [(o, 2560) for o in range(0, len(data) - 2559, 512)] if device.benchmark == "ad01" else [None]
        )
        for where in ranges:
            extra = f" {where[0]} {where[1]}" if where else ""
            lines.append(f'00002.000 parser: Command "bload dut "{path}"{extra}"')
            host.load(data[where[0] : where[0] + where[1]] if where else data)
            lines.append('00003.000 parser: Command "dut infer 1 0"')
            lines += [f"00004.000 dut: {line}" for line in link.send("infer 1 0")]
    return "\n".join(lines) + "\n"


def mlperf_tiny_log(root: Path, folder: Path, device: EmulatedDevice) -> str:
    """The log.txt of the suite's accuracy run (the MLPerf Tiny runner's format) on the dataset."""
    run_accuracy(Setup(device.benchmark, device, "zoo", True, folder), root / "run")
    return (root / "run" / "log.txt").read_text()


def validate(
    log: str | bytes, root: Path, device: EmulatedDevice, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    (root / "log.txt").write_bytes(log if isinstance(log, bytes) else log.encode())
    model = {"ic01": "zoo:ic", "ad01": "zoo:ad"}[device.benchmark]
    code = main(
        [
            "validate-log",
            str(root / "log.txt"),
            "--benchmark",
            device.benchmark,
            "--model",
            model,
            "--datasets-dir",
            str(root),
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def edit_one_result(log: str, device: EmulatedDevice) -> tuple[str, int]:
    """The log with the first result of the third file changed to values that requantize differently."""
    lines = log.splitlines()
    seen = 0
    for number, line in enumerate(lines):
        match = LOGGED_RESULTS.search(line)
        if not match:
            continue
        seen += 1
        if seen == 1 + (2 * AD_WINDOWS if device.benchmark == "ad01" else 2):
            values = parse_payload(match.group(1))
            assert values
            quant = device.output_quant
            q = requantize(values, quant.scale, quant.zero_point)
            values[0] = values[0] + 1.0 if device.benchmark == "ad01" else float(q[0] < 0) * 0.5
            assert device.benchmark == "ad01" or requantize(values, quant.scale, quant.zero_point)[0] != q[0]
            text = ",".join(f"{v:.3f}" for v in values)
            lines[number] = line[: match.start(1)] + text + line[match.end(1) :]
            return "\n".join(lines) + "\n", number + 1
    raise AssertionError("no result to edit")


@pytest.mark.parametrize("benchmark_name", ["ic01", "ad01"])
@pytest.mark.parametrize("runner", ["EEMBC", "MLPerf Tiny"])
def test_logs_of_the_virtual_dut_validate_and_an_edited_result_is_named(
    benchmark_name: str, runner: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device = zoo_device(benchmark_name)
    folder = make_dataset(tmp_path, device)
    log = eembc_log(folder, device) if runner == "EEMBC" else mlperf_tiny_log(tmp_path, folder, device)
    code, out = validate(log, tmp_path, device, capsys)
    assert code == 0, out
    assert all(f"\nmatch       stimulus_{k}.bin\n" in out for k in range(FILES)), out  # no details: the name
    assert f"{FILES} match, 0 mismatch" in out
    # The runner's own summary lines (the MLPerf Tiny runner's top-1 and AUC), each as logged.
    logged = [line.strip() for line in log.splitlines() if re.search(r"ulp-mlperf: (Top 1%|AUC) =", line)]
    assert bool(logged) == (runner == "MLPerf Tiny")
    assert [line for line in out.splitlines() if line.startswith("logged summary: ")] == [
        f"logged summary: {line}" for line in logged
    ]
    # Top-1 in percent, AUC without a unit; all files in the dataset: no stimulus set named.
    score = r"AUC over 6 files \(scored [^)]+\): logged [\d.]+, tinyinterp [\d.]+"
    if benchmark_name == "ic01":
        score = r"top-1 over 6 files \(scored [^)]+\): logged [\d.]+%, tinyinterp [\d.]+%"
    assert re.search(rf"^{score}$", out, re.MULTILINE), out
    assert "\ncoverage: 6 of 6 logged files in the dataset (100%)\n" in out
    edited, line = edit_one_result(log, device)
    code, out = validate(edited, tmp_path, device, capsys)
    assert code == 1
    assert re.search(rf"^mismatch\s+stimulus_2\.bin: line {line}\b", out, re.MULTILINE), out
    assert f"{FILES - 1} match, 1 mismatch" in out


def test_bytes_that_are_not_utf8_are_read_past(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A serial line's noise (0xff 0xfe, not UTF-8) between the runner's lines: replaced, not fatal."""
    device = zoo_device("ic01")
    log = eembc_log(make_dataset(tmp_path, device), device).replace("\n", "\nnoise \udcff\udcfe\n", 1)
    code, out = validate(log.encode("utf-8", "surrogateescape"), tmp_path, device, capsys)
    assert code == 0, out
    assert f"{FILES} match, 0 mismatch" in out


def test_an_auc_over_one_class_is_reported_as_undefined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The AUC needs both classes: on a dataset whose files are all normal, the logged and the recomputed AUC
    are both undefined, and the report says so."""
    device = zoo_device("ad01")
    folder = make_dataset(tmp_path, device)
    labels = folder / "y_labels.csv"
    labels.write_text(labels.read_text().replace(",2,1,", ",2,0,"))
    code, out = validate(eembc_log(folder, device), tmp_path, device, capsys)
    score = r"AUC over 6 files \(scored [^)]+\): logged undefined, tinyinterp undefined"
    assert code == 0 and re.search(rf"^{score}$", out, re.MULTILINE), out


def test_truncated_and_unparseable_logs_of_the_virtual_dut_give_exit_4_with_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device = zoo_device("ic01")
    log = eembc_log(make_dataset(tmp_path, device), device)
    cut = log[: log.rindex('parser: Command "bload')] + 'parser: Command "bload dut "x/stimulus_5.bin""\n'
    code, out = validate(cut, tmp_path, device, capsys)
    assert code == 4 and "truncated: the log ends after loading stimulus_5.bin" in out
    garbled = re.sub(r"m-results-\[[^\]]*\]", "m-results-[0.1,zz]", log, count=1)
    code, out = validate(garbled, tmp_path, device, capsys)
    assert code == 4 and re.search(r"^unparseable\s+stimulus_0\.bin", out, re.MULTILINE)


def test_a_log_cut_between_two_files_fails_on_the_announced_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device = zoo_device("ic01")
    log = mlperf_tiny_log(tmp_path, make_dataset(tmp_path, device), device)
    assert f"Using full set ({FILES} test files)" in log
    cut = log[: log.index("ulp-mlperf: Loading file stimulus_2.bin")]
    cut = cut[: cut.rindex("\n") + 1]  # the whole lines before the third file's load
    code, out = validate(cut, tmp_path, device, capsys)
    assert code == 4
    assert re.search(
        rf"^problem\s+line \d+: the log announces {FILES} test files, it has results for 2 \(truncated\)",
        out,
        re.MULTILINE,
    ), out
    assert "2 match, 0 mismatch" in out


def test_foreign_and_mismatched_logs_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    device = zoo_device("ic01")
    folder = make_dataset(tmp_path, device)
    code, out = validate("hello\nthis is a build log\n", tmp_path, device, capsys)
    assert code == 2 and "not an EEMBC or MLPerf Tiny runner log" in out
    other = eembc_log(folder, device).replace("m-model-[ic01]", "m-model-[kws01]")
    code, out = validate(other, tmp_path, device, capsys)
    assert code == 2 and "the log is for kws01, not ic01" in out
    # A firmware this does not know, and the streaming one (its logs are validated with --benchmark sww01).
    for model, hint in (("foo01", ""), ("sww01", " (a streaming log: give --benchmark sww01)")):
        code, out = validate(other.replace("m-model-[kws01]", f"m-model-[{model}]"), tmp_path, device, capsys)
        reads = "this reads kws01, vww01, ic01, ad01 result logs"
        assert code == 2 and f"a {model} log: {reads}, not {model}{hint}\n" in out
    # Without its m-model line and without --benchmark, the log's benchmark is unknown.
    (tmp_path / "log.txt").write_text(other.replace("m-model-[kws01]", ""))
    assert main(["validate-log", str(tmp_path / "log.txt"), "--datasets-dir", str(tmp_path)]) == 2
    unnamed = f"{tmp_path / 'log.txt'}: the log does not name its benchmark (m-model-[...]): give --benchmark"
    assert capsys.readouterr().err == f"tinyinterp validate-log: error: {unnamed}\n"


def test_accuracy_is_recomputed_from_the_logged_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device = zoo_device("ic01")
    folder = make_dataset(tmp_path, device)
    score = run_accuracy(Setup("ic01", device, "zoo", True, folder), tmp_path / "run")
    code, out = validate((tmp_path / "run" / "log.txt").read_text(), tmp_path, device, capsys)
    assert code == 0
    expected = f"{score.top1:.4g}"
    scored = "scored normalised to sum 1, as the MLPerf Tiny runner"
    assert f"top-1 over {FILES} files ({scored}): logged {expected}%, tinyinterp {expected}%" in out


def test_an_accuracy_run_reports_its_progress_in_stimuli(tmp_path: Path) -> None:
    device = zoo_device("ic01")
    folder = make_dataset(tmp_path, device)
    calls: list[tuple[str, int]] = []
    steps: list[int] = []

    def progress(description: str, total: int) -> Callable[[int], None]:
        calls.append((description, total))
        return steps.append

    run_accuracy(Setup("ic01", device, "zoo", True, folder), tmp_path / "run", progress)
    assert calls == [("ic01 accuracy", FILES)] and sum(steps) == FILES


def test_carriage_returns_inside_result_lines_are_not_line_breaks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Andes' v0.7 logs print `dut: \\rm-results-[...]\\r\\n`: every result must still be read."""
    device = zoo_device("ic01")
    folder = make_dataset(tmp_path, device)
    log = eembc_log(folder, device).replace("dut: m-results-", "dut: \rm-results-").replace("\n", "\r\n")
    (tmp_path / "log.txt").write_bytes(log.encode())
    code = main(["validate-log", str(tmp_path / "log.txt"), "--benchmark", "ic01", "--model", "zoo:ic",
                 "--datasets-dir", str(tmp_path)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"{FILES} match, 0 mismatch" in out


def test_raw_scores_of_an_eembc_log_are_scored_as_that_runner_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model printing raw pre-softmax scores: normalising a vector that sums to -2 would turn its
    argmax over; the EEMBC runner took the raw argmax, so every file here is right."""
    device = zoo_device("ic01")
    folder = make_dataset(tmp_path, device)
    labels = iter(k % 2 for k in range(FILES))

    def raw(_: re.Match[str]) -> str:
        label = next(labels)
        values = [1.0 if c == label else -3.0 if c == label + 1 else 0.0 for c in range(10)]
        return "dut: m-results-[" + ",".join(f"{v:.3f}" for v in values) + "]"

    log = LOGGED_RESULTS.sub(raw, eembc_log(folder, device))
    code, out = validate(log, tmp_path, device, capsys)
    assert code == 1  # the values are not the model's
    assert f"top-1 over {FILES} files (scored raw, as the EEMBC runner): logged 100%" in out


# ---- hand-written logs in the published EEMBC runner format, results computed by TFLM ----------------------

EEMBC_HEAD = """00001.001 session: m-session-start-id[20220301103012]
00001.002 parser: m-bmark-run-name[ML Performance 1.0.1]-code[ulp-mlperf]
00001.003 parser: Command "dut profile"
00001.004 dut: m-profile-[ULPMark for tinyML Firmware V0.0.1]
00001.005 dut: m-model-[{model}]
"""
DATASET_PATH = r"C:\Users\eembc\runner\benchmarks\ulp-mlperf\datasets\ic01"  # as in Renesas' v0.7 logs
EEMBC_STIMULUS = """00002.{k:03d} sequencer: m-sequencing-i[{k}]-command[bload dut "{path}\\{file}"]-ack[\
/parser: m-ready/]-ms[3072]-acc[0]-total_ms[0]
00002.{k:03d} parser: Command "bload dut "{path}\\{file}""
00002.{k:03d} parser: File size is 3072, loading...
00002.{k:03d} parser: m-bload-done
00003.{k:03d} parser: Command "dut infer 1 0"
00003.{k:03d} dut: m-warmup-start-0
00003.{k:03d} dut: m-warmup-done
00003.{k:03d} dut: m-infer-start-1
00003.{k:03d} dut: m-lap-us-1000
00003.{k:03d} dut: m-lap-us-2000
00003.{k:03d} dut: m-infer-done
00003.{k:03d} dut: m-results-[{results}]
00003.{k:03d} dut: m-ready
"""


def tflm_int8_outputs(tflm: ModuleType, model: bytes, loads: list[bytes]) -> list[np.ndarray]:
    """TFLM's int8 outputs for ic01 loads (uint8 RGB, each byte - 128 as th_load_tensor does)."""
    interpreter = tflm.Interpreter.from_bytes(model)
    outputs = []
    for load in loads:
        image = (np.frombuffer(load, np.uint8).astype(np.int16) - 128).astype(np.int8)
        interpreter.set_input(image.reshape(1, 32, 32, 3), 0)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0).reshape(-1).copy())
    return outputs


def printed(q: np.ndarray, device: EmulatedDevice) -> list[float]:
    """The values th_results prints for int8 outputs: float32 (q - zero point) * scale."""
    quant = device.output_quant
    return [float(np.float32(int(v) - quant.zero_point) * np.float32(quant.scale)) for v in q]


def hand_written_log(files: list[str], results: list[list[float]], model: str = "ic01") -> str:
    stimuli = [
        EEMBC_STIMULUS.format(k=k, path=DATASET_PATH, file=file, results=",".join(f"{v:.3f}" for v in values))
        for k, (file, values) in enumerate(zip(files, results))
    ]
    return EEMBC_HEAD.format(model=model) + "".join(stimuli)


@pytest.fixture
def ic01_case(tmp_path: Path, tflm: ModuleType) -> tuple[EmulatedDevice, list[str], list[np.ndarray]]:
    """The zoo ic01 stand-in, a dataset of FILES random images, and TFLM's outputs for them."""
    device = zoo_device("ic01")
    folder = make_dataset(tmp_path, device)
    files = [f"stimulus_{k}.bin" for k in range(FILES)]
    model = save_model(stand_in("ic01"))
    return device, files, tflm_int8_outputs(tflm, model, [(folder / f).read_bytes() for f in files])


def run_cli(log: str, root: Path, capsys: pytest.CaptureFixture[str], *options: str) -> tuple[int, str]:
    (root / "log.txt").write_bytes(log.encode())
    code = main(
        ["validate-log", str(root / "log.txt"), "--model", "zoo:ic", "--datasets-dir", str(root), *options]
    )
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_hand_written_eembc_log_of_tflm_results_is_reproduced(
    ic01_case: tuple[EmulatedDevice, list[str], list[np.ndarray]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    device, files, outputs = ic01_case
    log = hand_written_log(files, [printed(q, device) for q in outputs])
    code, out = run_cli(log, tmp_path, capsys)  # no --benchmark: the log's m-model-[ic01] names it
    assert code == 0, out
    assert f"verdict: reproduced: all {FILES} logged results equal tinyinterp's" in out
    assert f"results: {FILES} equal, 0 different, 0 unreadable, 0 missing" in out
    # Andes' layout (a carriage return before m-results, CRLF line ends) and lines without the runner's
    # `dut: ` prefix read the same.
    andes = log.replace("dut: m-results-", "dut: \rm-results-").replace("\n", "\r\n")
    unprefixed = re.sub(r"^(\d+\.\d+) dut: (m-results-)", r"\1 \2", log, flags=re.MULTILINE)
    for variant in (andes, unprefixed):
        assert run_cli(variant, tmp_path, capsys)[0] == 0


@pytest.mark.parametrize("changed_class", range(10))
def test_a_hand_edited_result_is_caught_whichever_class_it_changes(
    changed_class: int,
    ic01_case: tuple[EmulatedDevice, list[str], list[np.ndarray]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One output LSB added to (or taken from) one class of one result: exit 1, 1 LSB, no flip unless the
    edit made another class the top one."""
    device, files, outputs = ic01_case
    edited = [q.astype(np.int16) for q in outputs]
    step = 1 if edited[2][changed_class] < 127 else -1
    edited[2][changed_class] += step
    flipped = int(np.argmax(edited[2]) != np.argmax(outputs[2]))
    log = hand_written_log(files, [printed(q, device) for q in edited])
    code, out = run_cli(log, tmp_path, capsys)
    assert code == 1, out
    assert re.search(rf"^mismatch\s+stimulus_2\.bin: line \d+: class {changed_class}: ", out, re.MULTILINE)
    assert (
        f"verdict: outputs differ: 1 of {FILES} checked results differ (up to 1 LSB, {flipped} top-class"
        in out
    )


def test_a_result_that_changes_the_top_class_is_counted_as_a_flip(
    ic01_case: tuple[EmulatedDevice, list[str], list[np.ndarray]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    device, files, outputs = ic01_case
    edited = [q.astype(np.int16) for q in outputs]
    top = int(np.argmax(edited[0]))
    other = (top + 1) % 10
    edited[0][other], edited[0][top] = edited[0][top], edited[0][other]
    log = hand_written_log(files, [printed(q, device) for q in edited])
    code, out = run_cli(log, tmp_path, capsys, "--json")
    assert code == 1
    summary = json.loads(out)
    lsb = abs(int(outputs[0][top]) - int(outputs[0][other]))
    assert (summary["results_different"], summary["flips"], summary["max_lsb"]) == (1, 1, lsb)
    assert summary["exit_code"] == 1 and summary["verdict"].startswith("outputs differ")


def test_stimuli_outside_the_dataset_give_exit_3_and_a_known_set_is_named(
    ic01_case: tuple[EmulatedDevice, list[str], list[np.ndarray]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    device, files, outputs = ic01_case
    renamed = [*files[:-2], "emu_s_002009.bin", "taxi_s_001241.bin"]
    log = hand_written_log(renamed, [printed(q, device) for q in outputs])
    code, out = run_cli(log, tmp_path, capsys, "--quiet")
    assert code == 3
    assert out.strip().endswith(
        f"stimuli not in the dataset: 2 of {FILES} logged files are not in {tmp_path / 'ic01'} "
        f"(the {FILES - 2} results checked are equal)"
    )
    digest = hashlib.sha256("\n".join(sorted(renamed)).encode()).hexdigest()
    monkeypatch.setitem(validate_module.KNOWN_STIMULUS_SETS, digest, "a set for this test")
    code, out = run_cli(log, tmp_path, capsys)
    assert code == 3
    coverage = f"coverage: {FILES - 2} of {FILES} logged files in the dataset (67%)"  # 4 of 6
    assert f"{coverage}; the log's files are a set for this test\n" in out
    assert out.endswith(
        f"verdict: stimuli not in the dataset: 2 of {FILES} logged files are not in {tmp_path / 'ic01'}; the "
        f"log's files are a set for this test (the {FILES - 2} results checked are equal)\n"
    )
    assert f"top-1 over only {FILES - 2} of {FILES} files" in out


def test_truncated_and_unreadable_logs_give_exit_4(
    ic01_case: tuple[EmulatedDevice, list[str], list[np.ndarray]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    device, files, outputs = ic01_case
    log = hand_written_log(files, [printed(q, device) for q in outputs])
    cut = log[: log.rindex("dut: m-warmup-start-0")]
    code, out = run_cli(cut, tmp_path, capsys, "--quiet")
    assert code == 4
    assert "unreadable or truncated: truncated: the log ends after loading stimulus_5.bin" in out
    garbled = log.replace("dut: m-results-[", "dut: m-results-[zz,", 1)
    code, out = run_cli(garbled, tmp_path, capsys)
    assert code == 4 and "verdict: unreadable or truncated: 1 results cannot be read" in out


def test_a_benchmark_not_validated_is_named(
    ic01_case: tuple[EmulatedDevice, list[str], list[np.ndarray]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    device, files, outputs = ic01_case
    log = hand_written_log(files, [printed(q, device) for q in outputs], model="sww01")
    code, out = run_cli(log, tmp_path, capsys, "--benchmark", "ic01")
    assert code == 2
    assert "a sww01 log: this reads kws01, vww01, ic01, ad01 result logs, not sww01" in out
    assert "give --benchmark sww01" in out
    assert "not an EEMBC or MLPerf Tiny runner log" not in out


def test_a_results_tree_gets_one_row_per_log_and_a_markdown_report(
    ic01_case: tuple[EmulatedDevice, list[str], list[np.ndarray]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    device, files, outputs = ic01_case
    models = tmp_path / "models"
    models.mkdir()
    (models / "pretrainedResnet_quant.tflite").write_bytes(save_model(stand_in("ic01")))  # as the reference
    edited = [q.astype(np.int16) for q in outputs]
    edited[1][0] += 1 if edited[1][0] < 127 else -1
    tree = tmp_path / "tree"
    logs = {"board_a": outputs, "board_b": edited}
    for system, results in logs.items():
        folder = tree / "closed" / "org" / "results" / system / "ic" / "accuracy"
        folder.mkdir(parents=True)
        (folder / "log.txt").write_text(hand_written_log(files, [printed(q, device) for q in results]))
    report = tmp_path / "report.md"
    options = ["--datasets-dir", str(tmp_path), "--models-dir", str(models), "--out", str(report)]
    code = main(["validate-log", str(tree), *options])
    out = capsys.readouterr().out
    assert code == 1, out
    assert re.search(
        rf"^org/board_a\s+ic01\s+reproduced\s+{FILES}/{FILES}\s+0\s+0\s+0\s+tflm$", out, re.MULTILINE
    )
    assert re.search(
        rf"^org/board_b\s+ic01\s+outputs differ\s+{FILES}/{FILES}\s+1\s+1\s+\d\s+tflm$", out, re.MULTILINE
    )
    assert f"| org/board_a | ic01 | reproduced | {FILES}/{FILES} | 0 | 0 | 0 | tflm |" in report.read_text()


def test_a_results_tree_reviews_past_a_log_it_cannot_validate(
    ic01_case: tuple[EmulatedDevice, list[str], list[np.ndarray]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A log whose benchmark has no model in --models-dir is a row saying why, the next log is still
    validated (bytes that are not UTF-8 in it read as a replacement character), and the exit code is 2: the
    other log reproduces (alone, 0). --model, --benchmark and a tree without logs are refused."""
    device, files, outputs = ic01_case
    models = tmp_path / "models"
    models.mkdir()
    (models / "pretrainedResnet_quant.tflite").write_bytes(save_model(stand_in("ic01")))  # as the reference
    results = tmp_path / "tree" / "closed" / "org" / "results"
    log = hand_written_log(files, [printed(q, device) for q in outputs])
    for system, benchmark, text in (("board_a", "kws", log.replace("ic01", "kws01")), ("board_b", "ic", log)):
        folder = results / system / benchmark / "accuracy"
        folder.mkdir(parents=True)
        (folder / "log.txt").write_bytes(b"\xff\n" + text.encode())
    options = ["--datasets-dir", str(tmp_path), "--models-dir", str(models)]
    assert main(["validate-log", str(tmp_path / "tree"), *options]) == 2
    rows = capsys.readouterr().out.splitlines()[1:]
    no_model = "no reference model for kws01 found: give --model, or `tinyinterp models download`"
    assert re.fullmatch(rf"org/board_a\s+kws01\s+not validated: {re.escape(no_model)}", rows[0])
    assert re.fullmatch(rf"org/board_b\s+ic01\s+reproduced\s+{FILES}/{FILES}\s+0\s+0\s+0\s+tflm", rows[1])
    assert len(rows) == 2
    shutil.rmtree(results / "board_a")  # every log left reproduces: exit 0
    report = tmp_path / "report.md"
    assert main(["validate-log", str(tmp_path / "tree"), *options, "--out", str(report)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"report: {report}"
    refused = "a results tree is validated with each benchmark's reference model: drop --model/--benchmark"
    for option in (["--model", "zoo:ic"], ["--benchmark", "ic01"]):
        assert main(["validate-log", str(tmp_path / "tree"), *option]) == 2
        assert capsys.readouterr().err == f"tinyinterp validate-log: error: {refused}\n"
    assert main(["validate-log", str(models)]) == 2
    no_logs = "no <system>/<benchmark>/accuracy/log.txt below it"
    assert capsys.readouterr().err == f"tinyinterp validate-log: error: {models}: {no_logs}\n"


def test_out_is_refused_for_one_log_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--out writes a results tree's Markdown table (its help says so): with one log it is refused before the
    log is read, and nothing is written."""
    log = tmp_path / "log.txt"
    log.write_text("not even a runner log\n")
    report = tmp_path / "report.md"
    assert main(["validate-log", str(log), "--out", str(report)]) == 2
    refused = "--out writes the report over a results tree: give a folder, not a log file"
    assert capsys.readouterr().err == f"tinyinterp validate-log: error: {refused}\n"
    assert not report.exists()


def test_numerics_auto_names_the_profile_that_reproduces_the_log(
    ic01_case: tuple[EmulatedDevice, list[str], list[np.ndarray]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A log printed by a stack that rounds requantization once: TFLM's arithmetic does not reproduce it,
    `--numerics auto` finds the profile that does and says how far the other is."""
    device, files, tflm_outputs = ic01_case
    single = Interpreter(model=stand_in("ic01"), numerics="single-rounding")
    outputs = single.run(device.inputs([(tmp_path / "ic01" / f).read_bytes() for f in files]))[0]
    differing = sum(not np.array_equal(a, b) for a, b in zip(outputs, tflm_outputs))
    assert differing > 0  # the stand-in's outputs tell the two profiles apart
    log = hand_written_log(files, [printed(q, device) for q in outputs])
    code, out = run_cli(log, tmp_path, capsys)
    assert code == 1
    code, out = run_cli(log, tmp_path, capsys, "--numerics", "auto", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["numerics"] == "single-rounding"
    assert [name for name, _, _ in summary["candidates"]] == ["tflm", "single-rounding"]
    assert summary["candidates"][0][1] == differing and summary["candidates"][1][1:] == [0, 0]
    code, out = run_cli(log, tmp_path, capsys, "--numerics", "auto")
    tried = f"tflm: {differing} differ, max {summary['candidates'][0][2]} LSB; "
    tried += "single-rounding: 0 differ, max 0 LSB"
    assert f"\nnumerics: single-rounding explains the log best ({tried})\n" in out


# ---- performance logs: `infer N W` replayed on one arena (tinyinterp.suite.replay) -----------------------


def test_infer_n_w_counts_the_invocations_with_the_firmwares_defaults() -> None:
    """`infer N W` runs W warm-ups then N inferences; the firmware's defaults are N = 1, W = 10."""
    lines = []
    for k, command in enumerate(["dut infer 100 1", "dut infer 3", "dut infer", "dut infer 1 0"]):
        lines += [
            f'00001.000 parser: Command "bload dut "d/s_{k}.bin""',
            f'00002.000 parser: Command "{command}"',
            "00003.000 dut: m-results-[0.500,0.500]",
        ]
    parsed = validate_module.parse_log("\n".join(lines) + "\n")
    assert [e.invocations for e in parsed.entries] == [101, 13, 11, 1]


def test_a_replay_runs_each_invocation_on_what_the_last_left_on_the_input() -> None:
    """x -> t1 = x + 1 -> t2 = 2 t1 -> y = t2 + 1: the greedy plan puts t2 on x's bytes, so the second
    invocation reads t2 = 2x + 2 as its input and prints 2 (2x + 2) + 3 = 4x + 7."""
    b = ModelBuilder()
    x = b.input("x", [1, 16], np.float32)
    one, two = (b.constant(n, np.full((1, 16), v, np.float32)) for n, v in (("one", 1), ("two", 2)))
    t1, t2, y = (b.tensor(name, [1, 16], np.float32) for name in ("t1", "t2", "y"))
    b.op("ADD", [x, one], [t1])
    b.op("MUL", [t1, two], [t2])
    b.op("ADD", [t2, one], [y])
    b.output(y)
    replay = ArenaReplay(b.build(), "tflm", TFLM_ROUNDING)
    values = np.arange(16, dtype=np.float32).reshape(1, 16)
    replay.load(values)
    np.testing.assert_array_equal(replay.invoke(), 2 * values + 3)
    np.testing.assert_array_equal(replay.invoke(), 4 * values + 7)
    replay.load(values)  # th_load_tensor of the next `infer` starts over
    np.testing.assert_array_equal(replay.invoke(), 2 * values + 3)


def eembc_lines(*lines: str) -> str:
    return "\n".join(lines) + "\n"


# Published performance logs (mlcommons/tiny_results_v0.5), cut to the lines validate-log reads; long lines
# are split in two strings. closed/PengChengLaboratory/results/dividiti-closed-pcl-scepu02/kws/performance/
# performance_log.txt, lines 8, 20, 30, 38, 41, 51, 59: TFLM with reference kernels on a RISC-V board.
PCL = "/root/eembc/runner/benchmarks/ulp-mlperf/datasets"
PCL_KWS_PERFORMANCE = eembc_lines(
    "00039.024 dut: m-model-[kws01]",
    f'00039.531 parser: Command "bload dut "{PCL}/kws01/tst_000000_Stop_7.bin""',
    '00039.669 parser: Command "dut infer 40 1"',
    "00053.036 dut: m-results-[0.000,0.000,0.000,0.000,0.000,0.929,0.000,0.000,0.000,0.000,0.000,0.070]",
    f'00053.037 parser: Command "bload dut "{PCL}/kws01/tst_000001_Left_2.bin""',
    '00053.175 parser: Command "dut infer 40 1"',
    "00066.542 dut: m-results-[0.000,0.000,0.000,0.000,0.000,0.921,0.000,0.000,0.000,0.000,0.000,0.078]",
)
# closed/reference/results/Nucleo-L4R5ZI/vww/performance/log.txt, lines 21, 71, 81, 89, 113, 123, 131, and
# .../ic/performance/log.txt, lines 21, 29, 39, 47, 50, 60, 68: the MLPerf Tiny v0.5 reference submission
# (TF v2.3.1 with CMSIS-NN on a NUCLEO-L4R5ZI).
REFERENCE = "/Users/ckiraly/eembc/runner/benchmarks/ulp-mlperf/datasets"
REFERENCE_VWW_PERFORMANCE = eembc_lines(
    "00121.979 dut: m-model-[vww01]",
    f'00257.239 parser: Command "bload dut "{REFERENCE}/vww01/000000352684.bin""',
    '00264.193 parser: Command "dut infer 100 1"',
    "00324.857 dut: m-results-[0.945313,0.054688,]",
    f'00324.859 parser: Command "bload dut "{REFERENCE}/vww01/000000003934.bin""',
    '00331.812 parser: Command "dut infer 100 1"',
    "00392.484 dut: m-results-[0.945313,0.054688,]",
)
REFERENCE_IC_PERFORMANCE = eembc_lines(
    "00102.152 dut: m-model-[ic01]",
    f'00102.158 parser: Command "bload dut "{REFERENCE}/ic01/lippizaner_s_000613.bin""',
    '00102.936 parser: Command "dut infer 100 1"',
    "00174.075 dut: m-results-[0.000000,0.000000,0.789063,0.167969,0.042969,0.000000,0.000000,0.000000,"
    "0.000000,0.000000]",
    f'00174.075 parser: Command "bload dut "{REFERENCE}/ic01/toy_spaniel_s_000285.bin""',
    '00174.852 parser: Command "dut infer 100 1"',
    "00245.992 dut: m-results-[0.000000,0.000000,0.859375,0.109375,0.027344,0.000000,0.000000,0.000000,"
    "0.000000,0.000000]",
)


# closed/renesas/results/EK-RA6M4/kws/performance/log.txt (mlcommons/tiny_results_v0.7), lines 21, 29, 39,
# 47, 50, 60, 68: TFLM with CMSIS-NN of 2021 on a Cortex-M33 (the runner on Windows).
RENESAS = "C:\\Users\\a5095317\\eembc\\runner\\benchmarks\\ulp-mlperf\\datasets"
RENESAS_KWS_PERFORMANCE = eembc_lines(
    "00089.268 dut: m-model-[kws01]",
    f'00089.284 parser: Command "bload dut "{RENESAS}\\kws01\\tst_000000_Stop_7.bin""',
    '00089.555 parser: Command "dut infer 200 1"',
    "00099.752 dut: m-results-[0.000,0.000,0.000,0.000,0.000,0.003,0.000,0.000,0.000,0.000,0.000,0.996]",
    f'00099.753 parser: Command "bload dut "{RENESAS}\\kws01\\tst_000001_Left_2.bin""',
    '00100.024 parser: Command "dut infer 200 1"',
    "00110.220 dut: m-results-[0.000,0.000,0.000,0.000,0.000,0.191,0.000,0.000,0.000,0.000,0.000,0.808]",
)


def validate_published(
    log: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], *options: str
) -> tuple[int, str]:
    (tmp_path / "log.txt").write_text(log)
    data = ["--models-dir", str(data_dir / "models"), "--datasets-dir", str(data_dir / "datasets")]
    code = main(["validate-log", str(tmp_path / "log.txt"), *data, *options])
    return code, capsys.readouterr().out


@pytest.mark.parametrize(
    ("log", "arena", "other"),
    [
        (PCL_KWS_PERFORMANCE, "tflm", "none"),
        (REFERENCE_IC_PERFORMANCE, "tflm", "none"),
        (REFERENCE_VWW_PERFORMANCE, "tflm-2020", "tflm"),
        (RENESAS_KWS_PERFORMANCE, "tflm-2021", "tflm-2020"),
    ],
    ids=["pcl-kws", "reference-ic", "reference-vww", "renesas-kws"],
)
def test_published_performance_logs_validate_on_the_arena_of_their_build(
    log: str, arena: str, other: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The board printed the last of N + W invocations on an input that later tensors (and, with CMSIS-NN,
    kernels' scratch buffers) overwrite: replayed on its build's arena layout the logged results are
    reproduced, on another layout (or without the overwrite) they are not."""
    code, out = validate_published(log, data_dir, tmp_path, capsys, "--arena", arena)
    assert code == 0, out
    assert "replayed: 2 results as the last of their `infer N W` invocations" in out
    assert f"on one arena laid out as {arena} (--arena)" in out
    code, out = validate_published(log, data_dir, tmp_path, capsys, "--arena", other)
    assert code == 1, out
    assert "2 of 2 checked results differ" in out


def test_the_logs_of_a_results_tree_are_found_where_each_layout_puts_them(tmp_path: Path) -> None:
    """A submission's tree (closed/<org>/results/<system>/<benchmark>/accuracy/log.txt), the suite's own
    (results/<system>/<benchmark>/accuracy/accuracy_log.txt); other files and folders too shallow to name a
    system and benchmark are left out; a benchmark folder we do not map keeps its name."""
    files = [
        "acme2/results/board_c/ic/accuracy/log.txt",  # a tree cut below closed/: the organisation is first
        "closed/acme/results/board_b/vww/accuracy/log.txt",
        "closed/acme/results/board_a/kws/accuracy/log.txt",
        "closed/acme/results/board_a/kws/accuracy/notes.txt",
        "results/mine/sww/accuracy/accuracy_log.txt",
        "kws/accuracy/log.txt",
        "accuracy/log.txt",
    ]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    found = [
        (log.system, log.benchmark, log.path.relative_to(tmp_path).as_posix())
        for log in validate_module.tree_logs(tmp_path)
    ]
    assert found == [
        ("acme2/board_c", "ic01", "acme2/results/board_c/ic/accuracy/log.txt"),
        ("acme/board_a", "kws01", "closed/acme/results/board_a/kws/accuracy/log.txt"),
        ("acme/board_b", "vww01", "closed/acme/results/board_b/vww/accuracy/log.txt"),
        (".", "kws01", "kws/accuracy/log.txt"),
        ("mine", "sww", "results/mine/sww/accuracy/accuracy_log.txt"),
    ]


def test_the_reviewers_tables_as_written_by_hand() -> None:
    log = validate_module.TreeLog("acme/board_a", "kws01", Path("log.txt"))
    unread = validate_module.report_row(log, None, 0, "no results")
    assert unread == ["acme/board_a", "kws01", "not validated: no results", "", "", "", "", ""]
    rows = [unread, ["x|y", "ic01", "reproduced", "3/3", "0", "0", "0", "tflm"]]
    assert validate_module.markdown_table(rows) == (
        "| system | benchmark | verdict | coverage | differing files | max LSB | flips | profile |\n"
        "|---|---|---|---|---|---|---|---|\n"
        "| acme/board_a | kws01 | not validated: no results |  |  |  |  |  |\n"
        "| x\\|y | ic01 | reproduced | 3/3 | 0 | 0 | 0 | tflm |\n"
    )
    assert validate_module.text_table(rows) == (
        "system        benchmark  verdict                    coverage  differing files  max LSB  flips  "
        "profile\n"
        "acme/board_a  kws01      not validated: no results\n"
        "x|y           ic01       reproduced                 3/3       0                0        0      tflm"
    )


def test_a_runner_result_needs_both_brackets() -> None:
    """The MLPerf Tiny runner prints `m-results : [a, b]`; a line cut before its `]` (or missing its `[`)
    cannot be read, rather than read without its last value."""
    line = "00012.345 ulp-mlperf:   m-results    : {}"
    assert validate_module._result_of(line.format("[0.25,0.75]")) == ("[0.25,0.75]", [0.25, 0.75])
    assert validate_module._result_of(line.format("[0.25,0.75")) == ("[0.25,0.75", None)
    assert validate_module._result_of(line.format("0.25,0.75]")) == ("0.25,0.75]", None)


AD01_FILE = "normal_id_01_00000003_hist_librosa.bin"  # 102,400 bytes: 40 loads of 2,560 without a window


def details_of(log: str, benchmark_name: str, dataset: Path, status: str = "unparseable") -> list[str]:
    parsed = validate_module.parse_log(log)
    report = validate_module.validate(parsed, zoo_device(benchmark_name), dataset).files[0]
    assert report.status == status
    return report.details


def test_loads_that_cannot_be_cut_are_named(data_dir: Path, tmp_path: Path) -> None:
    """Log lines written by hand: an ad01 row without window or stride gives 40 back-to-back loads of
    2,560 bytes (segments 0-39); a kws01 load cut to 100 bytes is not one 490-byte input."""
    shutil.copy(data_dir / "datasets" / "ad01" / AD01_FILE, tmp_path)
    (tmp_path / "y_labels.csv").write_text(f"{AD01_FILE},2,0\n")
    log = f"ulp-mlperf: Loading file {AD01_FILE} segment 40\nulp-mlperf:   m-results    : [0.500]\n"
    assert details_of(log, "ad01", tmp_path) == ["line 2: segment 40 is beyond the file's 40 loads"]
    log = log.replace("segment 40", "segment 1").replace("[0.500]", "[9.999]")
    (detail,) = details_of(log, "ad01", tmp_path, "mismatch")
    assert detail.startswith("line 2 (segment 1): anomaly score logged 9.999, tinyinterp ")
    kws = tmp_path / "kws"
    kws.mkdir()
    shutil.copy(data_dir / "datasets" / "kws01" / "tst_000000_Stop_7.bin", kws)
    (kws / "y_labels.csv").write_text("tst_000000_Stop_7.bin,12,7\n")
    cut = 'parser: Command "bload dut "d/tst_000000_Stop_7.bin" 0 100"\ndut: m-results-[0.500,0.500]\n'
    assert details_of(cut, "kws01", kws) == ["line 2: a load of 100 bytes; the model takes 490"]
    three = 'parser: Command "bload dut "d/tst_000000_Stop_7.bin""\ndut: m-results-[0.1,0.2,0.7]\n'
    assert details_of(three, "kws01", kws, "mismatch") == ["line 2: 3 values logged, tinyinterp prints 12"]


# ---- a FULLY_CONNECTED whose two roundings differ, in hand-written EEMBC logs ------------------------------
# ic01 loads are uint8 RGB, each byte - 128 the int8 input. x [1, 3072] (scale 1) -> FULLY_CONNECTED, filter
# row c = [c, 0, ...] (scale 1) -> y [1, 10] (scale 4): on a load whose first byte is 129 (x = [1, 0, ...]),
# class c sums c, and the multiplier 1 x 1 / 4 = 0.25 is 2^30 with a right shift of 1. TFLM rounds twice:
# (c 2^30 + 2^30) >> 31 = (c + 1) // 2, then a rounding halving (half away from zero): 0,1,1,1,1,2,2,2,2,3.
# Rounded once (CMSIS-NN's single rounding): (c 2^30 + 2^31) >> 32 = (c + 2) // 4: 0,0,1,1,1,1,2,2,2,2.
# th_results prints each as q x 4 with 3 decimals. Nothing overwrites the input (the only operator reads it
# while it writes y), so any number of invocations prints the same.
TFLM_ROUNDED = [0, 1, 1, 1, 1, 2, 2, 2, 2, 3]
SINGLE_ROUNDED = [0, 0, 1, 1, 1, 1, 2, 2, 2, 2]


def rounding_case(root: Path) -> Path:
    """The model above as a file, and an ic01 dataset folder with one load, bytes [129, 128, ..., 128]."""
    b = ModelBuilder()
    x = b.input("x", (1, 3072), "int8", scale=1.0, zero_point=0)
    filter_ = np.zeros((10, 3072), np.int8)
    filter_[:, 0] = np.arange(10)
    w = b.constant("w", filter_, "int8", scale=1.0, zero_point=0)
    y = b.tensor("y", (1, 10), "int8", scale=4.0, zero_point=0)
    b.op("FULLY_CONNECTED", [x, w, -1], [y])
    b.output(y)
    model = root / "fc.tflite"
    model.write_bytes(save_model(b.build()))
    folder = root / "ic01"
    folder.mkdir()
    (folder / "one.bin").write_bytes(bytes([129]) + bytes([128]) * 3071)
    (folder / "y_labels.csv").write_text("one.bin,10,0\n")
    return model


def rounding_log(*results: tuple[str, list[int]]) -> str:
    """An EEMBC runner log: per (infer command, int8 outputs), a load of one.bin and the printed outputs."""
    lines = ["00001.000 dut: m-model-[ic01]"]
    for k, (infer, q) in enumerate(results):
        lines += [
            f'00002.{k:03d} parser: Command "bload dut "d/one.bin""',
            f'00003.{k:03d} parser: Command "dut {infer}"',
            f"00004.{k:03d} dut: m-results-[{','.join(f'{4 * v:.3f}' for v in q)}]",
        ]
    return eembc_lines(*lines)


def validate_rounding(
    log: str, root: Path, capsys: pytest.CaptureFixture[str], numerics: str = "single-rounding", *options: str
) -> tuple[int, str]:
    model = root / "fc.tflite" if (root / "fc.tflite").exists() else rounding_case(root)
    (root / "log.txt").write_text(log)
    args = ["--model", str(model), "--datasets-dir", str(root), "--numerics", numerics, *options]
    code = main(["validate-log", str(root / "log.txt"), *args])
    return code, capsys.readouterr().out


def test_only_results_of_several_invocations_are_replayed_with_the_rounding_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`infer 1 0` is one invocation, computed once; `infer 1 1` is two, replayed on one arena, with the
    single rounding too."""
    log = rounding_log(("infer 1 0", SINGLE_ROUNDED), ("infer 1 1", SINGLE_ROUNDED))
    code, out = validate_rounding(log, tmp_path, capsys)
    assert code == 0, out
    results = "results: 2 equal, 0 different, 0 unreadable, 0 missing; max 0 LSB, mean 0.00 LSB over"
    assert f"{results} differing values, 0 top-class flips\n" in out
    assert "replayed: 1 results as the last of their `infer N W` invocations on an input loaded once, " in out


def test_every_differing_class_of_a_result_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """TFLM's results validated as single rounding: classes 1, 5 and 9 differ, each by one LSB (as TFLM's
    rounding, they are reproduced)."""
    log = rounding_log(("infer 1 0", TFLM_ROUNDED))
    assert validate_rounding(log, tmp_path, capsys, "tflm")[0] == 0
    code, out = validate_rounding(log, tmp_path, capsys)
    assert code == 1, out
    assert out.startswith(f"{tmp_path / 'log.txt'}: EEMBC runner log, ic01, 1 files logged\n")
    # Class 9 was the top one (3); rounded once, the first of the classes 6 to 9 (2) is: a flip.
    results = "results: 0 equal, 1 different, 0 unreadable, 0 missing; max 1 LSB, mean 1.00 LSB over"
    assert f"{results} differing values, 1 top-class flips\n" in out
    differences = "; ".join(
        f"class {c}: logged {4 * TFLM_ROUNDED[c]:.3f} (int8 {TFLM_ROUNDED[c]}), "
        f"tinyinterp {4 * SINGLE_ROUNDED[c]:.3f} (int8 {SINGLE_ROUNDED[c]})"
        for c in (1, 5, 9)
    )
    assert f"mismatch    one.bin: line 4: {differences}\n" in out


def test_a_result_with_another_value_count_differs_by_no_lsb(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = validate_rounding(rounding_log(("infer 1 0", [0, 0, 1])), tmp_path, capsys)
    assert code == 1
    assert "mismatch    one.bin: line 4: 3 values logged, tinyinterp prints 10\n" in out
    assert out.endswith(
        "verdict: outputs differ: 1 of 1 checked results differ (in value count or anomaly score, "
        "0 top-class flips)\n"
    )


def test_results_of_files_without_a_label_are_checked_but_not_scored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rounding_case(tmp_path)
    (tmp_path / "ic01" / "two.bin").write_bytes((tmp_path / "ic01" / "one.bin").read_bytes())  # no label row
    log = rounding_log(("infer 1 0", SINGLE_ROUNDED), ("infer 1 0", SINGLE_ROUNDED))
    code, out = validate_rounding(log.replace('one.bin""\n', 'two.bin""\n', 1), tmp_path, capsys)
    assert code == 0, out
    # one.bin, labelled class 0: the top value (2, first at class 6) is not class 0.
    assert "top-1 over only 1 of 2 files (scored raw, as the EEMBC runner): logged 0%, tinyinterp 0%\n" in out


def test_an_ad01_result_replayed_on_one_arena_is_scored_against_its_float_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """x [1, 640] (scale 1) -> RESHAPE -> y: a window of 640 float32 values 0.5 is quantized to 1 (half away
    from zero) and comes back as 1.0: the anomaly score is the mean of 0.5^2 = 0.250, also as the last of
    `infer 1 1`'s two invocations."""
    b = ModelBuilder()
    x = b.input("x", (1, 640), "int8", scale=1.0, zero_point=0)
    y = b.tensor("y", (1, 640), "int8", scale=1.0, zero_point=0)
    b.op("RESHAPE", [x, b.constant("shape", np.array([1, 640], np.int32))], [y])
    b.output(y)
    (tmp_path / "ad.tflite").write_bytes(save_model(b.build()))
    folder = tmp_path / "ad01"
    folder.mkdir()
    (folder / "w.bin").write_bytes(np.full(640, 0.5, "<f4").tobytes())
    (folder / "y_labels.csv").write_text("w.bin,2,0\n")
    log = eembc_lines(
        "00001.000 dut: m-model-[ad01]",
        '00002.000 parser: Command "bload dut "d/w.bin""',
        '00003.000 parser: Command "dut infer 1 1"',
        "00004.000 dut: m-results-[0.250]",
    )
    (tmp_path / "log.txt").write_text(log)
    args = ["--model", str(tmp_path / "ad.tflite"), "--datasets-dir", str(tmp_path)]
    code = main(["validate-log", str(tmp_path / "log.txt"), *args])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "replayed: 1 results as the last of their `infer N W` invocations" in out


def test_a_log_of_files_without_labels_scores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rounding_case(tmp_path)
    (tmp_path / "ic01" / "two.bin").write_bytes((tmp_path / "ic01" / "one.bin").read_bytes())  # no label row
    log = rounding_log(("infer 1 0", SINGLE_ROUNDED)).replace("one.bin", "two.bin")
    code, out = validate_rounding(log, tmp_path, capsys, "single-rounding", "--json")
    summary = json.loads(out)
    assert code == 0
    assert (summary["score_name"], summary["logged_score"], summary["scored_files"]) == (None, None, 0)


def test_the_mlperf_tiny_runner_normalises_each_logged_result_before_averaging_a_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """one.bin (label 0) logged twice by the MLPerf Tiny runner: as tinyinterp prints it (A: 4 x 0,0,1,1,1,1,
    2,2,2,2, sum 48) and edited (B: class 0 at 40, class 9 at 32, sum 72). Each normalised to sum 1 first,
    class 9 gets (8 / 48 + 32 / 72) / 2 = 0.306 and class 0 (0 + 40 / 72) / 2 = 0.278: class 9, top-1 0%.
    Averaged raw, classes 0 and 9 tie at 20 and the first, class 0, would be right."""
    a = [4.0 * v for v in SINGLE_ROUNDED]
    b = [40.0] + [0.0] * 8 + [32.0]
    lines = ["Device model retrieved: ic01"]
    for values in (a, b):
        lines += [
            "00002.000 ulp-mlperf: Loading file one.bin segment 0",
            f"00003.000 ulp-mlperf:   m-results    : [{', '.join(f'{v:.3f}' for v in values)}]",
        ]
    code, out = validate_rounding(eembc_lines(*lines), tmp_path, capsys)
    assert code == 1, out  # B is not tinyinterp's
    normalised = "(scored normalised to sum 1, as the MLPerf Tiny runner)"
    assert f"top-1 over 1 files {normalised}: logged 0%, tinyinterp 0%\n" in out


@pytest.mark.parametrize(
    ("runner", "scored"),
    [
        (
            "MLPerf Tiny",
            "(scored normalised to sum 1, as the MLPerf Tiny runner): logged 100%, tinyinterp 100%",
        ),
        ("EEMBC", "(scored raw, as the EEMBC runner): logged 0%, tinyinterp 0%"),
    ],
)
def test_printed_scores_of_a_negative_sum_are_scored_as_each_runner_does(
    runner: str, scored: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """x [1, 3072] -> FULLY_CONNECTED, filter column 0 = [-1, -3, 0, ...], all scales 1 (multiplier 1: exact)
    -> y [1, 10]: on x = [1, 0, ...] the DUT prints -1, -3, 0, ..., 0 (sum -4). Normalised to sum 1 (MLPerf
    Tiny runner): 0.25, 0.75, -0, ...: class 1, the label. Raw (EEMBC runner): class 2, the first 0."""
    b = ModelBuilder()
    x = b.input("x", (1, 3072), "int8", scale=1.0, zero_point=0)
    filter_ = np.zeros((10, 3072), np.int8)
    filter_[:2, 0] = [-1, -3]
    w = b.constant("w", filter_, "int8", scale=1.0, zero_point=0)
    y = b.tensor("y", (1, 10), "int8", scale=1.0, zero_point=0)
    b.op("FULLY_CONNECTED", [x, w, -1], [y])
    b.output(y)
    (tmp_path / "fc.tflite").write_bytes(save_model(b.build()))
    folder = tmp_path / "ic01"
    folder.mkdir()
    (folder / "one.bin").write_bytes(bytes([129]) + bytes([128]) * 3071)
    (folder / "y_labels.csv").write_text("one.bin,10,1\n")
    printed = ",".join(f"{v:.3f}" for v in [-1, -3, *[0] * 8])
    if runner == "EEMBC":
        log = rounding_log(("infer 1 0", [0] * 10)).replace(",".join(["0.000"] * 10), printed)
    else:
        log = eembc_lines(
            "Device model retrieved: ic01",
            "00002.000 ulp-mlperf: Loading file one.bin segment 0",
            f"00003.000 ulp-mlperf:   m-results    : [{printed}]",
        )
    code, out = validate_rounding(log, tmp_path, capsys, "tflm")
    assert code == 0, out
    assert f"top-1 over 1 files {scored}\n" in out


def test_results_of_different_lengths_score_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = rounding_log(("infer 1 0", SINGLE_ROUNDED), ("infer 1 0", SINGLE_ROUNDED[:3]))
    code, out = validate_rounding(log, tmp_path, capsys, "single-rounding", "--json")
    summary = json.loads(out)
    assert code == 1  # 3 values logged, tinyinterp prints 10
    assert (summary["score_name"], summary["logged_score"], summary["scored_files"]) == (None, None, 0)


def test_validate_replays_on_todays_tflm_arena_by_default(tmp_path: Path) -> None:
    rounding_case(tmp_path)
    parsed = validate_module.parse_log(rounding_log(("infer 1 1", SINGLE_ROUNDED)))
    result = validate_module.validate(parsed, zoo_device("ic01"), tmp_path / "ic01")
    assert (result.arena, result.replayed) == ("tflm", 1)


def test_results_of_a_missing_file_and_an_unreadable_result_are_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """gone.bin (not in the dataset) logged twice: 2 results missing; a result of 70 x's is named by its first
    60 characters."""
    garbage = "x" * 70
    log = rounding_log(
        ("infer 1 0", SINGLE_ROUNDED), ("infer 1 0", SINGLE_ROUNDED), ("infer 1 0", SINGLE_ROUNDED)
    )
    log = log.replace('d/one.bin""\n', 'd/gone.bin""\n', 2) + 'parser: Command "bload dut "d/one.bin""\n'
    code, out = validate_rounding(log + f"dut: m-results-[{garbage}]\n", tmp_path, capsys)
    assert code == 4, out
    assert "results: 1 equal, 0 different, 1 unreadable, 2 missing;" in out
    assert "\n0 match, 0 mismatch, 1 unparseable, 1 missing\n" in out  # per file: one.bin, gone.bin
    assert "\ncoverage: 1 of 2 logged files in the dataset (50%)\n" in out
    assert f"line 12: cannot parse {('m-results-[' + garbage)[:60]!r}" in out


def test_a_file_reports_its_first_three_differences_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """TFLM's results for one.bin four times, validated as single rounding: all 4 differ, lines 4 to 13."""
    log = rounding_log(*[("infer 1 0", TFLM_ROUNDED)] * 4)
    code, out = validate_rounding(log, tmp_path, capsys, "single-rounding", "--json")
    assert code == 1
    summary = json.loads(out)
    assert summary["log"] == str(tmp_path / "log.txt")
    (report,) = summary["files"]
    assert [d.split(":")[0] for d in report["details"]] == ["line 4", "line 7", "line 10"]
    assert report["results"] == 4
    code, out = validate_rounding(log, tmp_path, capsys, "single-rounding")
    differences = (
        "class 1: logged 4.000 (int8 1), tinyinterp 0.000 (int8 0); class 5: logged 8.000 (int8 2), "
    )
    differences += "tinyinterp 4.000 (int8 1); class 9: logged 12.000 (int8 3), tinyinterp 8.000 (int8 2)"
    line = "; ".join(f"line {k}: {differences}" for k in (4, 7, 10))
    assert f"\nmismatch    one.bin: {line}\n0 match, 1 mismatch, 0 unparseable, 0 missing\n" in out


def test_a_log_with_more_files_than_announced_is_not_called_truncated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rounding_case(tmp_path)
    (tmp_path / "ic01" / "two.bin").write_bytes((tmp_path / "ic01" / "one.bin").read_bytes())
    printed = ",".join(f"{4 * v:.3f}" for v in SINGLE_ROUNDED)
    lines = ["Device model retrieved: ic01", "No loop count specified.  Using full set (1 test files)"]
    for file in ("one.bin", "two.bin"):
        lines += [
            f"00002.000 ulp-mlperf: Loading file {file} segment 0",
            f"00003.000 ulp-mlperf:   m-results    : [{printed}]",
        ]
    code, out = validate_rounding(eembc_lines(*lines), tmp_path, capsys)
    assert code == 4
    assert "problem     line 2: the log announces 1 test files, it has results for 2\n" in out


def test_an_mlperf_tiny_runner_log_parsed_line_by_line() -> None:
    log = eembc_lines(
        "Device model retrieved: ic01",
        "ulp-mlperf:   m-results    : [0.500,0.500]",
        "ulp-mlperf: Loading file a.bin segment 0",
        "ulp-mlperf: Loading file b.bin segment 1",
        "ulp-mlperf:   m-results    : [0.250,0.750]",
        "00010.000 ulp-mlperf: Top 1% = 50.0",
        "Top 1% = 99.0",  # not the runner's line
        "No loop count specified.  Using full set (3 test files)",
    )
    parsed = validate_module.parse_log(log)
    assert (parsed.runner, parsed.model, parsed.announced_files) == ("MLPerf Tiny runner", "ic01", 3)
    assert parsed.entries == [
        validate_module.Entry(validate_module.Load("b.bin", 4, 1), "[0.250,0.750]", [0.25, 0.75], 5, 1)
    ]
    assert parsed.summary == ["00010.000 ulp-mlperf: Top 1% = 50.0"]
    assert parsed.problems == [
        "line 2: a result with no stimulus loaded before it",
        "line 3: a.bin was loaded but no result followed",
        "line 8: the log announces 3 test files, it has results for 1 (truncated)",
    ]
    with pytest.raises(validate_module.LogFormatError) as refused:
        validate_module.parse_log("hello\n")
    assert str(refused.value) == (
        "not an EEMBC or MLPerf Tiny runner log: no loaded stimuli ('bload dut' or 'Loading file') "
        "and no m-results found"
    )
