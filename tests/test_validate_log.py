"""`tinyinterp validate-log` on logs made with the virtual DUT, in both runners' formats, and on bad logs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_dut import random_load, zoo_device

from tinyinterp.cli import main
from tinyinterp.suite.device import EmulatedDevice
from tinyinterp.suite.host import Host, LocalLink
from tinyinterp.suite.protocol import parse_payload, requantize
from tinyinterp.suite.runner import Setup, run_accuracy

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
    log: str, root: Path, device: EmulatedDevice, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    (root / "log.txt").write_text(log)
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
    assert f"{FILES} match, 0 mismatch" in out
    edited, line = edit_one_result(log, device)
    code, out = validate(edited, tmp_path, device, capsys)
    assert code == 1
    assert re.search(rf"^mismatch\s+stimulus_2\.bin: line {line}\b", out, re.MULTILINE), out
    assert f"{FILES - 1} match, 1 mismatch" in out


def test_truncated_and_unparseable_logs_fail_with_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device = zoo_device("ic01")
    log = eembc_log(make_dataset(tmp_path, device), device)
    cut = log[: log.rindex('parser: Command "bload')] + 'parser: Command "bload dut "x/stimulus_5.bin""\n'
    code, out = validate(cut, tmp_path, device, capsys)
    assert code == 1 and "truncated: the log ends after loading stimulus_5.bin" in out
    garbled = re.sub(r"m-results-\[[^\]]*\]", "m-results-[0.1,zz]", log, count=1)
    code, out = validate(garbled, tmp_path, device, capsys)
    assert code == 1 and re.search(r"^unparseable\s+stimulus_0\.bin", out, re.MULTILINE)


def test_a_log_cut_between_two_files_fails_on_the_announced_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device = zoo_device("ic01")
    log = mlperf_tiny_log(tmp_path, make_dataset(tmp_path, device), device)
    assert f"Using full set ({FILES} test files)" in log
    cut = log[: log.index("ulp-mlperf: Loading file stimulus_2.bin")]
    cut = cut[: cut.rindex("\n") + 1]  # the whole lines before the third file's load
    code, out = validate(cut, tmp_path, device, capsys)
    assert code == 1
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
