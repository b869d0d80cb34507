"""`tinyinterp suite` on a fresh install (stand-ins), the results folder's formats, and `models download`."""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
from test_dut import random_load, zoo_device
from test_dut_pty import read_reply, runner_send
from test_suite_transport import BANNER, NAME_REPLY, ask_name_over_pty

import tinyinterp.suite.models as models_module
import tinyinterp.suite.transport as transport
from tinyinterp import ModelBuilder
from tinyinterp.cli import main
from tinyinterp.cost import estimate
from tinyinterp.model import save_model
from tinyinterp.suite.datasets import BENCHMARKS
from tinyinterp.suite.host import Host
from tinyinterp.suite.models import MD5
from tinyinterp.suite.protocol import READY
from tinyinterp.zoo import stand_in

# The official tools' regular expressions (mlcommons/tiny tools/submission/submission_checker.py).
THROUGHPUT = r".* Median throughput is\s+([\d\.]+) inf\./sec\..*"  # re.match
ENERGY = r"Median energy cost is ([\d\.]+) uJ/inf"  # re.search
TOP1 = r".* Top[- ]1%?\s?[:=] ([\d\.]+).*"  # re.match
AUC = r".* AUC\s?[:=] ([\d\.]+).*"  # re.match
SUMMARY_ROW = re.compile(
    r"│ (\w+)\s+│ (\S[^│]*?)\s+│ (\S[^│]*?)\s+│\s+([\d.]+|-) │\s+([\d.]+|-) │\s+([\d.]+|-) │"
)


def official_number(path: Path, pattern: str, search: bool = False) -> float:
    """The last value the official regex finds in a results.txt, as the checker reads it."""
    values = []
    for line in path.read_text().splitlines():
        match = re.search(pattern, line) if search else re.match(pattern, line)
        if match:
            values.append(float(match.group(1)))
    assert values, f"{path}: no line matches {pattern}"
    return values[-1]


@pytest.fixture
def fresh_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No models or datasets anywhere: an empty cache and no TINYINTERP_DATA."""
    monkeypatch.delenv("TINYINTERP_DATA", raising=False)
    monkeypatch.setenv("TINYINTERP_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def summary_rows(out: str) -> dict[str, tuple[str, ...]]:
    return {m.group(1): m.groups()[1:] for m in SUMMARY_ROW.finditer(out)}


def test_fresh_install_runs_performance_and_energy_on_stand_ins(
    fresh_install: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["suite"]) == 0
    out = capsys.readouterr().out
    rows = summary_rows(out)
    assert sorted(rows) == ["ad01", "ic01", "kws01", "vww01"]
    assert all(row[0] == "stand-in" and row[1] == "needs the real model" for row in rows.values())
    assert "tinyinterp models download" in out and "--datasets-dir" in out
    assert "no dataset for kws01, vww01, ic01, ad01: their timed runs used random inputs (same cost)." in (
        out.splitlines()
    )
    # MLPerf LoadGen's scenario name on the table; results.txt keeps the runner's wording (below)
    assert "single-stream ms" in out and "single-stream (MLPerf LoadGen scenario)" in out
    system = next((fresh_install / "tinyinterp-results" / "results").iterdir())
    for benchmark, (_, _, latency, throughput, energy) in rows.items():
        assert float(latency) == pytest.approx(1000 / float(throughput), rel=1e-3)
        folder = system / benchmark[:-2]  # the submission layout's ic, kws, vww, ad
        assert not (folder / "accuracy").exists()
        assert official_number(folder / "performance" / "results.txt", THROUGHPUT) == pytest.approx(
            float(throughput), abs=1e-3
        )
        assert official_number(folder / "energy" / "results.txt", ENERGY, search=True) == pytest.approx(
            float(energy), abs=0.06
        )
        log = (folder / "performance" / "log.txt").read_text()
        assert "stand-in model (random weights)" in log and "emulated run, no hardware" in log
        records = json.loads((folder / "performance" / "results.json").read_text())
        assert len(records) == 5 and all(r["infer"]["elapsed_time"] > 10_000_000 for r in records)
        assert all(r["infer"]["iterations"] >= 10 for r in records)


def test_a_reference_model_and_a_stand_in_summarised_as_json_and_as_a_table(
    fresh_install: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """kws01's reference model on its first 5 dataset files (all top-1 hits with TFLM's outputs, see
    test_suite_files.py; 5 of 12 classes: no AUC, and results.txt prints none), ad01's stand-in without a
    dataset. Every JSON field and table cell is checked against the results files the run wrote (the
    official regexes), or written by hand."""
    models, kws_data = fresh_install / "models", fresh_install / "datasets" / "kws01"
    models.mkdir()
    kws_data.mkdir(parents=True)
    shutil.copy(data_dir / "models" / "kws_ref_model.tflite", models)
    rows = (data_dir / "datasets" / "kws01" / "y_labels.csv").read_text().split()[:5]
    (kws_data / "y_labels.csv").write_text("".join(f"{row}\n" for row in rows))
    for row in rows:
        shutil.copy(data_dir / "datasets" / "kws01" / row.split(",")[0], kws_data)
    args = ["suite", "--benchmarks", "kws01,ad01", "--models-dir", str(models)]
    args += ["--datasets-dir", str(kws_data.parent), "--system", "emulated"]
    assert main([*args, "--json"]) == 0
    captured = capsys.readouterr()
    assert not captured.err.strip()  # the progress bars (on stderr) leave nothing behind
    assert captured.out.startswith('{\n  "system": "emulated",\n')  # indented for reading
    summary = json.loads(captured.out)
    results = fresh_install / "tinyinterp-results" / "results" / "emulated"
    throughput = {
        b: official_number(results / b[:-2] / "performance" / "results.txt", THROUGHPUT)
        for b in ("kws01", "ad01")
    }
    energy = {
        b: official_number(results / b[:-2] / "energy" / "results.txt", ENERGY, True) for b in throughput
    }
    timed = {
        b: {
            "latency_ms": pytest.approx(1000 / throughput[b], rel=1e-4),  # from a 4-digit throughput
            "throughput": pytest.approx(throughput[b], abs=5e-4),  # printed with 3 decimals
            "energy_uj": pytest.approx(energy[b], abs=5e-5),  # printed with 4 decimals
        }
        for b in throughput
    }
    device = {"board": "nucleo-l4r5zi", "core": "cortex-m4", "clock_mhz": 120.0, "stack": "tflm-cmsisnn"}
    assert summary == {
        "system": "emulated",
        "device": device,
        "results": "tinyinterp-results/results/emulated",
        "benchmarks": {
            "kws01": {
                "model": "reference",
                "model_label": "kws_ref_model.tflite",
                "dataset": str(kws_data),
                "metrics": {"top1": 100.0, "auc": None},
                **timed["kws01"],
            },
            "ad01": {
                "model": "stand-in",
                "model_label": "zoo stand-in for ad01_int8.tflite",
                "dataset": None,
                "metrics": {},
                "accuracy_skipped": "needs the real model",
                **timed["ad01"],
            },
        },
    }

    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].strip() == "MLPerf Tiny, emulated on nucleo-l4r5zi (cortex-m4 @ 120 MHz, tflm-cmsisnn)"
    header = [cell.strip() for cell in lines[2].split("┃")[1:-1]]
    assert header == ["benchmark", "model", "accuracy", "single-stream ms", "inf./sec.", "uJ/inf."]
    # The latency as the JSON gave it (checked above): from the unrounded throughput.
    latency = {b: summary["benchmarks"][b]["latency_ms"] for b in throughput}
    figures = {b: (f"{latency[b]:.2f}", f"{throughput[b]:.3f}", f"{energy[b]:.1f}") for b in throughput}
    assert summary_rows("\n".join(lines)) == {
        "kws01": ("reference", "100.0% top-1", *figures["kws01"]),
        "ad01": ("stand-in", "needs the real model", *figures["ad01"]),
    }
    # Text columns left-aligned, figures right-aligned.
    assert re.fullmatch(r"│ kws01 +│ reference │ 100.0% top-1 +│ +[\d.]+ │ +[\d.]+ │ +[\d.]+ │", lines[4])
    notes = lines[next(k for k, line in enumerate(lines) if line.startswith("└")) + 1 :]
    assert notes[:6] == [
        "single-stream (MLPerf LoadGen scenario): one inference at a time; inf./sec. is the runner's median "
        "throughput of those runs",
        "results: tinyinterp-results/results/emulated/ (log.txt, results.txt, results.json per run)",
        "stand-in: a built-in model with the reference's layers and random weights; it costs the same "
        "(latency, energy) but classifies nothing, so accuracy needs the real model.",
        "no dataset for ad01: their timed runs used random inputs (same cost).",
        "",
        "Real models: `tinyinterp models download` fetches the reference models (checked by MD5) into "
        f"{fresh_install / 'cache' / 'models'},",
    ]

    # Accuracy alone, ad01's reference model on a normal and an anomalous file: no timed figures.
    shutil.copy(data_dir / "models" / "ad01_int8.tflite", models)
    ad_data = kws_data.parent / "ad01"
    ad_data.mkdir()
    rows = [
        next(
            r for r in (data_dir / "datasets" / "ad01" / "y_labels.csv").read_text().split() if f",{k}," in r
        )
        for k in (0, 1)
    ]
    (ad_data / "y_labels.csv").write_text("".join(f"{row}\n" for row in rows))
    for row in rows:
        shutil.copy(data_dir / "datasets" / "ad01" / row.split(",")[0], ad_data)
    assert main([*args, "--mode", "accuracy"]) == 0
    auc = official_number(results / "ad" / "accuracy" / "results.txt", AUC)
    assert summary_rows(capsys.readouterr().out) == {
        "kws01": ("reference", "100.0% top-1", "-", "-", "-"),
        "ad01": ("reference", f"AUC {auc:.3f}", "-", "-", "-"),
    }
    (ad_data / "y_labels.csv").write_text(f"{rows[0]}\n")  # one class: no AUC
    (models / "ad01_int8.tflite").write_bytes(save_model(stand_in("ad01")))  # not the reference's MD5
    assert main([*args, "--benchmarks", "ad01", "--mode", "accuracy"]) == 0
    assert summary_rows(capsys.readouterr().out) == {"ad01": ("custom", "AUC undefined", "-", "-", "-")}


def test_unknown_benchmark_and_board_are_usage_errors(
    fresh_install: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["suite", "--benchmarks", "ic01,xyz01"]) == 2
    assert "unknown benchmark(s) xyz01" in capsys.readouterr().err
    assert main(["suite", "--board", "no-such-board", "--mode", "performance"]) == 2
    assert "no-such-board" in capsys.readouterr().err


def test_a_generic_core_at_a_given_clock(fresh_install: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["suite", "--benchmarks", "ad01", "--mode", "performance", "--core", "cortex-m4", "--out", "m4"]
    assert main([*args, "--mhz", "80"]) == 0
    slow = float(summary_rows(capsys.readouterr().out)["ad01"][3])
    assert main([*args, "--mhz", "160"]) == 0
    fast_row = summary_rows(capsys.readouterr().out)["ad01"]
    fast = float(fast_row[3])
    assert (fast_row[1], fast_row[4]) == ("-", "-")  # no accuracy run, no energy run
    assert fast == pytest.approx(2 * slow, rel=0.05)
    # The submission's system description, as written by hand for this run.
    system = "generic-cortex-m4_160MHz_tflm-cmsisnn_emulated"
    assert json.loads((fresh_install / "m4" / "systems" / f"{system}.json").read_text()) == {
        "system_name": system,
        "board": "generic-cortex-m4",
        "core": "cortex-m4",
        "clock_mhz": 160.0,
        "software_stack": "tflm-cmsisnn",
        "notes": "Emulated by tinyinterp: TFLM-exact int8 arithmetic; device time and energy from its cost "
        "model, not measured on hardware.",
    }


def fake_upstream(root: Path, models: dict[str, bytes]) -> Path:
    """A local folder laid out like github.com/mlcommons/tiny/raw/master/benchmark/training."""
    for benchmark, data in models.items():
        spec = BENCHMARKS[benchmark]
        folder = root / spec.upstream_dir / "trained_models"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / spec.model_file).write_bytes(data)
    return root


def test_download_refuses_a_file_with_the_wrong_md5(
    fresh_install: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream = fake_upstream(fresh_install / "upstream", {"kws01": b"not the model"})
    assert main(["models", "download", "--benchmarks", "kws01", "--from", str(upstream)]) == 1
    out = capsys.readouterr().out
    assert "failed" in out and f"expected {MD5['kws_ref_model.tflite']}" in out
    assert not (fresh_install / "cache" / "models" / "kws_ref_model.tflite").exists()
    # The same upstream as a URL (not a folder to check), and as the default upstream.
    assert main(["models", "download", "--benchmarks", "kws01", "--from", upstream.as_uri()]) == 1
    assert f"expected {MD5['kws_ref_model.tflite']}" in capsys.readouterr().out
    monkeypatch.setattr(models_module, "UPSTREAM", upstream.as_uri())
    assert main(["models", "download", "--benchmarks", "kws01"]) == 1
    assert f"expected {MD5['kws_ref_model.tflite']}" in capsys.readouterr().out
    upstream_dir = fresh_install / "nowhere"
    assert main(["models", "download", "--benchmarks", "ic01", "--from", str(upstream_dir)]) == 2
    assert f"--from {upstream_dir}: does not exist" in capsys.readouterr().err


def test_download_from_a_local_upstream_then_the_suite_finds_the_models(
    fresh_install: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = {b: (data_dir / "models" / BENCHMARKS[b].model_file).read_bytes() for b in ("kws01", "ad01")}
    upstream = fake_upstream(fresh_install / "upstream", models)
    args = ["models", "download", "--benchmarks", "kws01,ad01", "--from", str(upstream)]
    assert main(args) == 0
    assert capsys.readouterr().out.count("downloaded") == 2
    for benchmark in ("kws01", "ad01"):
        name = BENCHMARKS[benchmark].model_file
        assert hashlib.md5((fresh_install / "cache" / "models" / name).read_bytes()).hexdigest() == MD5[name]
    fake_upstream(
        upstream, dict.fromkeys(models, b"changed")
    )  # a second download finds good copies, fetches none
    assert main(args) == 0
    assert capsys.readouterr().out.count("present") == 2
    assert main(["models", "list", "--benchmarks", "kws01,ic01"]) == 0
    listing = capsys.readouterr().out
    assert re.search(r"kws01\s+kws_ref_model.tflite\s+ok", listing) and re.search(
        r"ic01\s+\S+\s+missing", listing
    )
    assert main(["suite", "--benchmarks", "kws01,ic01", "--mode", "performance"]) == 0
    rows = summary_rows(capsys.readouterr().out)
    assert rows["kws01"][0] == "reference" and rows["ic01"][0] == "stand-in"


@pytest.mark.parametrize(
    "argv",
    [
        ["suite", "--datasets-dir", "{missing}", "--mode", "accuracy"],
        ["suite", "--models-dir", "{missing}"],
        ["validate-log", "{log}", "--benchmark", "kws01", "--datasets-dir", "{missing}"],
        ["validate-log", "{log}", "--benchmark", "kws01", "--models-dir", "{missing}"],
        ["dut", "--benchmark", "kws01", "--models-dir", "{missing}"],
        ["models", "list", "--dir", "{missing}"],
    ],
)
def test_a_folder_that_does_not_exist_is_named(
    argv: list[str], fresh_install: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing, log = fresh_install / "nope", fresh_install / "log.txt"
    log.write_text("")
    option = argv[argv.index("{missing}") - 1]
    assert main([a.format(missing=missing, log=log) for a in argv]) == 2
    out, err = capsys.readouterr()
    assert err.strip().endswith(f"error: {option} {missing}: does not exist") and not out
    assert not (fresh_install / "tinyinterp-results").exists()


def test_models_list_looks_in_dir(
    fresh_install: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = fresh_install / "mine"
    folder.mkdir()
    (folder / "ad01_int8.tflite").write_bytes(b"an edited model")
    assert main(["models", "list", "--dir", str(folder), "--benchmarks", "ad01,kws01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"looked up in: {folder}\n")
    assert re.search(
        rf"ad01\s+ad01_int8.tflite\s+MD5 differs\s+{re.escape(str(folder))}/ad01_int8.tflite", out
    )
    assert re.search(r"kws01\s+kws_ref_model.tflite\s+missing", out)
    monkeypatch.setenv("TINYINTERP_DATA", str(fresh_install / "data"))
    assert main(["models", "list", "--benchmarks", "ad01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"looked up in: {fresh_install}/cache/models, {fresh_install}/data/models\n")
    assert main(["models", "list", "--force"]) == 2
    assert "--force: for `models download`, not `models list`" in capsys.readouterr().err
    assert main(["models", "list", "--benchmarks", ","]) == 2
    assert "unknown benchmark(s) (none given)" in capsys.readouterr().err


def test_a_model_the_firmware_cannot_run_is_named(
    fresh_install: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    builder = ModelBuilder()
    x = builder.input("x", (1, 490), "float32")
    y = builder.tensor("y", (1, 490), "float32")
    builder.op("RELU", [x], [y])
    builder.output(y)
    model = fresh_install / "float.tflite"
    model.write_bytes(builder.build_bytes())
    assert main(["dut", "--benchmark", "kws01", "--model", str(model)]) == 2
    assert "float.tflite: the MLPerf Tiny harness needs one int8 input tensor" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_dut_refuses_a_port_out_of_range(
    port: str, fresh_install: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dut", "--benchmark", "ad01", "--model", "zoo:ad", "--tcp", port]) == 2
    assert f"--tcp {port}: a TCP port is 0..65535" in capsys.readouterr().err


REFERENCE_BOARD = "nucleo-l4r5zi (cortex-m4 @ 120 MHz, tflm-cmsisnn)"  # the board `dut` emulates by default


def dut_line(benchmark: str, model_name: str, realtime: str = "") -> str:
    """What `tinyinterp dut` says on stderr: its device, and the latency of the benchmark's stand-in (the
    reference model's layers, so its cost) on the reference board."""
    latency_us = zoo_device(benchmark).cost.latency_us
    device = f"{benchmark} running {model_name} on {REFERENCE_BOARD}"
    return f"tinyinterp dut: {device}, {latency_us:.0f} us per inference{realtime}\n"


def dut_in_a_thread(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """`tinyinterp dut ARGV` serving in a daemon thread (it serves until the process ends), its stdout a
    pipe as when a host starts it and reads where it listens (block-buffered: the line must be flushed);
    that line, and what it printed on stderr."""
    read_fd, write_fd = os.pipe()
    # A process's stdout on a pipe: not line-buffered.
    with open(write_fd, "w") as piped_stdout, pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdout", piped_stdout)
        threading.Thread(target=main, args=(["dut", *argv],), daemon=True).start()
        line = b""
        while not line.endswith(b"\n") and select.select([read_fd], [], [], 60)[0]:
            line += os.read(read_fd, 4096)
    os.close(read_fd)
    return line.decode(), capsys.readouterr().err


def test_dut_serves_tcp_and_a_pseudo_terminal_in_real_time_or_not(
    fresh_install: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No reference model anywhere: the stand-in. --tcp 0 (any free port) is a port; --realtime paces the
    replies to the device time."""
    out, err = dut_in_a_thread(["--benchmark", "ad01", "--tcp", "0", "--realtime"], capsys)
    assert err == dut_line("ad01", "zoo stand-in for ad01", " (real time)")
    host, port = out.strip().split(":")
    assert host == "127.0.0.1"
    iterations, latency_us = 60, zoo_device("ad01").cost.latency_us
    connection = socket.create_connection((host, int(port)), timeout=30)
    with connection, connection.makefile("rb") as stream:
        assert read_reply(stream.readline) == [
            "m-timestamp-mode-performance",
            "m-lap-us-0",
            "m-init-done",
            READY,
        ]
        runner = Host(runner_send(connection.sendall, stream.readline))
        runner.load(random_load(zoo_device("ad01"), 8))
        start = time.monotonic()
        reply = runner.infer(iterations, 0)
        assert time.monotonic() - start >= iterations * latency_us / 1e6
    assert reply.start_us is not None and reply.end_us is not None
    assert reply.end_us - reply.start_us == pytest.approx(iterations * latency_us, abs=1)

    out, err = dut_in_a_thread(["--benchmark", "kws01", "--model", "zoo:kws", "--pty"], capsys)
    assert err == dut_line("kws01", "zoo:kws")
    ask_name_over_pty(out.strip(), BANNER)


def dut_on_stdin(argv: list[str], capfd: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """`tinyinterp dut ARGV` with `name%` then end of file on stdin: its stdout and stderr."""
    command_read, command_write = os.pipe()
    os.write(command_write, b"name%")
    os.close(command_write)
    stdin = os.dup(0)
    os.dup2(command_read, 0)
    try:
        assert main(["dut", *argv]) == 0
    finally:
        os.dup2(stdin, 0)
        os.close(stdin)
        os.close(command_read)
    return capfd.readouterr()


def test_dut_serves_stdin_and_stdout_until_end_of_input(capfd: pytest.CaptureFixture[str]) -> None:
    out, err = dut_on_stdin(["--benchmark", "kws01", "--model", "zoo:kws"], capfd)
    assert out == (BANNER + NAME_REPLY).decode()
    assert err == dut_line("kws01", "zoo:kws")


def test_dut_runs_on_the_stack_given(capfd: pytest.CaptureFixture[str]) -> None:
    _, err = dut_on_stdin(["--benchmark", "kws01", "--model", "zoo:kws", "--stack", "tflm-reference"], capfd)
    latency_us = estimate(stand_in("kws01"), "nucleo-l4r5zi", stack="tflm-reference").totals.latency_ms * 1e3
    device = "kws01 running zoo:kws on nucleo-l4r5zi (cortex-m4 @ 120 MHz, tflm-reference)"
    assert err == f"tinyinterp dut: {device}, {latency_us:.0f} us per inference\n"
    assert err != dut_line("kws01", "zoo:kws")  # not CMSIS-NN's


@pytest.mark.parametrize("port", [0, 65535])
def test_dut_takes_the_first_and_last_tcp_ports_and_stops_on_ctrl_c(
    port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served = []

    def interrupted_server(make_dut: transport.MakeDut, port: int, announce: object) -> None:
        served.append(port)
        raise KeyboardInterrupt

    monkeypatch.setattr(transport, "serve_tcp", interrupted_server)
    assert main(["dut", "--benchmark", "ad01", "--model", "zoo:ad", "--tcp", str(port)]) == 0
    assert served == [port]
    assert capsys.readouterr().err == dut_line("ad01", "zoo:ad")


def test_a_stimulus_of_the_wrong_size_is_named(
    fresh_install: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = fresh_install / "datasets" / "kws01"
    folder.mkdir(parents=True)
    (folder / "short.bin").write_bytes(bytes(100))
    (folder / "y_labels.csv").write_text("short.bin,12,3\n")
    argv = ["suite", "--benchmarks", "kws01", "--mode", "performance", "--datasets-dir", str(folder.parent)]
    assert main(argv) == 2
    expected = f"{folder / 'short.bin'}: 100 bytes, expected 490 bytes (int8 bytes) per kws01 input"
    assert expected in capsys.readouterr().err


def test_suite_help_and_gitignore_name_the_default_results_folder(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["suite", "--help"])
    assert "default: tinyinterp-results/ in the current folder" in " ".join(capsys.readouterr().out.split())
    gitignore = Path(__file__).resolve().parent.parent / ".gitignore"
    assert "tinyinterp-results/" in gitignore.read_text().splitlines()


def test_a_what_if_on_the_board_memory_system(
    fresh_install: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ad01 reads every weight once from flash: copying the weights to SRAM removes the flash stalls."""
    args = ["suite", "--benchmarks", "ad01", "--mode", "performance", "--board", "ek-ra8d1", "--out", "ra8"]
    assert main(args) == 0
    as_submitted = float(summary_rows(capsys.readouterr().out)["ad01"][3])
    assert main([*args, "--set", "weights_in=sram"]) == 0
    output = capsys.readouterr().out
    assert float(summary_rows(output)["ad01"][3]) > 1.5 * as_submitted
    assert "ek-ra8d1+weights_in=sram" in output
    assert main([*args, "--set", "weights_in=rom"]) == 2


def test_validate_log_without_a_dataset_names_where_it_looked(
    fresh_install: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = fresh_install / "log.txt"
    log.write_text(
        'parser: Command "bload dut "d/one.bin""\ndut: m-results-[0.5]\n'
    )  # one stimulus, one result
    assert main(["validate-log", str(log), "--benchmark", "kws01", "--model", "zoo:kws"]) == 2
    where = "the default places ($TINYINTERP_DATA/datasets, the cache's datasets/)"
    expected = f"no kws01 dataset folder (with y_labels.csv) in {where}: give --datasets-dir"
    assert capsys.readouterr().err == f"tinyinterp validate-log: error: {expected}\n"


def test_validate_log_of_a_stream_looks_in_the_datasets_dir_given(
    fresh_install: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sww01 log is validated against --datasets-dir: a folder without sww01/ in it is named."""
    log, empty = fresh_install / "log.txt", fresh_install / "empty"
    log.write_text("")
    empty.mkdir()
    assert main(["validate-log", str(log), "--benchmark", "sww01", "--datasets-dir", str(empty)]) == 2
    expected = f"no sww01 dataset folder (with test json files) in {empty}: give --datasets-dir"
    assert capsys.readouterr().err == f"tinyinterp validate-log: error: {expected}\n"


SET_OPTION = (
    "--set KEY=VALUE what-if: change a field of the board, e.g. dcache=false, weights_in=sram, "
    "flash_bus_mhz=120 (repeatable; the fields are documented in tinyinterp/cost/README.md)"
)
DEVICE_OPTIONS = (
    "--board BOARD board to emulate (see `tinyinterp boards`; default nucleo-l4r5zi) --core CORE a generic "
    "board with this core (e.g. cortex-m4); needs --mhz --mhz MHZ clock in MHz (default: the board's) "
    f"--stack STACK software stack (default tflm-cmsisnn) {SET_OPTION}"
)
SUITE_HELP = [
    "usage: tinyinterp suite [-h] [--board BOARD | --core CORE] [--mhz MHZ] [--stack STACK] [--set "
    "KEY=VALUE] [--models-dir MODELS_DIR] [--datasets-dir DATASETS_DIR] [--benchmarks BENCHMARKS] [--trace "
    "DIR] [--json] [--mode {accuracy,performance,energy,all}] [--out OUT] [--system SYSTEM]",
    "Run kws01, vww01, ic01, ad01 and sww01 as the MLPerf Tiny runner would on a board, with bit-exact "
    "inference and device time and energy from the cost model. Without the reference models, runs "
    "performance and energy on built-in stand-ins and says how to get the real ones.",
    f"options: -h, --help show this help message and exit {DEVICE_OPTIONS} --models-dir MODELS_DIR folder "
    "with the reference .tflite files --datasets-dir DATASETS_DIR folder of the runner's dataset folders "
    "--benchmarks BENCHMARKS comma list of kws01,vww01,ic01,ad01,sww01 (default: all; sww01 only when its "
    "dataset is found) --trace DIR sww01: write per wav its features and outputs (.npy) --json print the "
    "run's summary as JSON --mode {accuracy,performance,energy,all} which runs (default all) --out OUT "
    "results folder, created if needed (default: tinyinterp-results/ in the current folder) --system "
    "SYSTEM system name in results/<system>/ (default: board, clock and stack)",
    "Exit codes: 0 the suite ran and wrote its results; 2 bad usage or input.",
]
MODELS_HELP = [
    "usage: tinyinterp models [-h] [--dir DIR] [--from BASE] [--benchmarks BENCHMARKS] [--force] "
    "{list,download}",
    "positional arguments: {list,download}",
    "options: -h, --help show this help message and exit --dir DIR list: the folder to look in; download: "
    "where to save (default: the cache, see `models list`) --from BASE download: upstream base URL or local "
    "folder laid out like it --benchmarks BENCHMARKS comma list --force download: even when a good copy is "
    "present",
    "Exit codes: 0 ok; 1 a download failed or its MD5 was wrong; 2 bad usage.",
]
DUT_HELP = [
    "usage: tinyinterp dut [-h] [--model MODEL] --benchmark {kws01,vww01,ic01,ad01} [--board BOARD | --core "
    "CORE] [--mhz MHZ] [--stack STACK] [--set KEY=VALUE] [--models-dir MODELS_DIR] [--pty | --tcp PORT] "
    "[--realtime]",
    "A virtual DUT: answers name, profile, timestamp, help, db load N, db HEX, db print, infer N [W] and "
    "results (each ending with %) as the reference firmware does, with m-lap-us timestamps in emulated "
    "device time. Serves stdin/stdout, a pseudo-terminal (--pty, its path printed on stdout) or a TCP port.",
    "options: -h, --help show this help message and exit --model MODEL .tflite file or zoo:NAME (default: "
    f"reference model, else stand-in) --benchmark {{kws01,vww01,ic01,ad01}} {DEVICE_OPTIONS} --models-dir "
    "MODELS_DIR where to look for the reference model --pty serve a pseudo-terminal and print its path "
    "--tcp PORT serve TCP on 127.0.0.1:PORT (0..65535; 0: any free) --realtime pace replies to the "
    "emulated device time",
    "Exit codes: 0 stopped (Ctrl-C or end of input); 2 bad usage or input.",
]
VALIDATE_LOG_HELP = [
    "usage: tinyinterp validate-log [-h] [--benchmark {kws01,vww01,ic01,ad01,sww01}] [--json | --quiet] "
    "[--numerics {tflm,single-rounding,auto}] [--arena {tflm,tflm-2020,tflm-2021,none}] [--out OUT] "
    "[--model MODEL] [--models-dir MODELS_DIR] [--datasets-dir DATASETS_DIR] log",
    "positional arguments: log log.txt of an accuracy or performance run (sww01: or energy), or a results "
    "tree (<system>/<benchmark>/accuracy/log.txt below it) for a reviewer's table",
    "options: -h, --help show this help message and exit --benchmark {kws01,vww01,ic01,ad01,sww01} default: "
    "the one the log names (m-model-[...]) --json the summary and per-file reports as JSON --quiet print "
    "the verdict line only --numerics {tflm,single-rounding,auto} recompute with this numerics profile "
    "(tinyinterp.numerics; default tflm), or with each and keep the one that explains the log best (auto) "
    "--arena {tflm,tflm-2020,tflm-2021,none} a result after `infer N W` (N + W > 1: performance runs) is "
    "the last of N + W invocations on an input loaded once, replayed on one tensor arena laid out as: tflm "
    "(today's TFLM, reference kernels; the default), tflm-2020 (TF v2.3.1 with CMSIS-NN of 2020, as the "
    "MLPerf Tiny v0.5 reference submission), tflm-2021 (TFLM with CMSIS-NN of 2021, as Renesas' EK-RA6M4 of "
    "v0.7), none (each invocation on the loaded input) --out OUT with a results tree: also write the table "
    "as Markdown here --model MODEL the model the log was made with (default: the reference model) "
    "--models-dir MODELS_DIR where to look for the reference model --datasets-dir DATASETS_DIR folder with "
    "the runner's dataset folders",
    "Exit codes (the first that holds): 1 logged outputs differ from tinyinterp's; 4 the log is unreadable "
    "or truncated; 3 some of the log's stimuli are not in the dataset given; 0 every logged result "
    "reproduced; 2 not a runner log, a benchmark not validated, or bad usage or input.",
]


@pytest.mark.parametrize(
    ("command", "blocks"),
    [("suite", SUITE_HELP), ("models", MODELS_HELP), ("dut", DUT_HELP), ("validate-log", VALIDATE_LOG_HELP)],
)
def test_each_suite_command_help_word_for_word(
    command: str, blocks: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every block of `COMMAND --help` whole (usage, description, options with their help, epilog), words
    as in the help= strings, and the command's line in `tinyinterp --help`."""
    monkeypatch.setenv("COLUMNS", "400")  # argparse wraps at COLUMNS
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert [" ".join(block.split()) for block in capsys.readouterr().out.split("\n\n")] == blocks
    one_liners = {
        "suite": "run the MLPerf Tiny benchmarks on an emulated board (accuracy, performance, energy)",
        "models": "list or download the MLPerf Tiny reference models",
        "dut": "emulate a device under test on the EEMBC / MLPerf Tiny serial protocol",
        "validate-log": "recompute the results of an EEMBC or MLPerf Tiny runner log with tinyinterp",
    }
    with pytest.raises(SystemExit):
        main(["--help"])
    assert f"{command} {one_liners[command]}" in [
        " ".join(line.split()) for line in capsys.readouterr().out.splitlines()
    ]


def test_a_file_for_models_dir_and_both_model_options_are_refused(
    fresh_install: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--models-dir naming a file says so (not "does not exist"); --model with --models-dir is ambiguous."""
    a_file = fresh_install / "kws.tflite"
    a_file.write_bytes(save_model(stand_in("kws01")))
    for command in (["dut", "--benchmark", "kws01"], ["validate-log", str(a_file), "--benchmark", "kws01"]):
        assert main([*command, "--models-dir", str(a_file)]) == 2
        error = f"tinyinterp {command[0]}: error:"
        assert capsys.readouterr().err == f"{error} --models-dir {a_file}: is not a folder\n"
        assert main([*command, "--model", str(a_file), "--models-dir", str(fresh_install)]) == 2
        both = "give --model or --models-dir (where to find the reference model), not both"
        assert capsys.readouterr().err == f"{error} {both}\n"


def test_a_what_if_on_a_generic_core_keeps_the_clock_given(
    fresh_install: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--set changes the generic board's profile (memory sizes, 0 on a generic board, given), and that board
    still needs --mhz, which is its clock (100 MHz) in the system description."""
    args = ["suite", "--benchmarks", "ad01", "--mode", "performance", "--core", "cortex-m4", "--mhz", "100"]
    assert main([*args, "--set", "flash_kb=2048", "--set", "sram_kb=640"]) == 0
    capsys.readouterr()
    system = "generic-cortex-m4+flash_kb=2048+sram_kb=640_100MHz_tflm-cmsisnn_emulated"
    description = json.loads(
        (fresh_install / "tinyinterp-results" / "systems" / f"{system}.json").read_text()
    )
    assert description["clock_mhz"] == 100.0


def test_dut_emulates_the_core_and_clock_given(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--core and --mhz reach the device `dut` serves: its stderr line names a generic M7 at 200 MHz."""
    monkeypatch.setattr(transport, "serve_tcp", lambda *_: None)
    argv = [
        "dut",
        "--benchmark",
        "ad01",
        "--model",
        "zoo:ad",
        "--core",
        "cortex-m7",
        "--mhz",
        "200",
        "--tcp",
        "0",
    ]
    assert main(argv) == 0
    device = "generic-cortex-m7 (cortex-m7 @ 200 MHz, tflm-cmsisnn)"
    assert capsys.readouterr().err.startswith(f"tinyinterp dut: ad01 running zoo:ad on {device}, ")


def test_the_summary_takes_a_terminals_width_and_never_wraps_in_a_file(
    fresh_install: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal the table fits its width (COLUMNS here); written to a file or a pipe it is 120 columns
    wide, so that no cell wraps."""
    monkeypatch.setenv("COLUMNS", "60")
    monkeypatch.setenv("NO_COLOR", "1")
    args = ["suite", "--benchmarks", "ad01", "--mode", "performance"]

    def table_width() -> int:
        out = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)
        return max(len(line) for line in out.splitlines() if line[:1] in "┏┃┡│└")

    assert main(args) == 0
    in_a_file = table_width()
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(args) == 0
    assert table_width() <= 60 < in_a_file


def test_a_real_model_without_its_dataset_gets_the_note_on_data(
    fresh_install: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "suite",
        "--benchmarks",
        "ad01",
        "--mode",
        "performance",
        "--models-dir",
        str(data_dir / "models"),
    ]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert summary_rows("\n".join(lines))["ad01"][0] == "reference"
    assert "no dataset for ad01: their timed runs used random inputs (same cost)." in lines
    assert any(line.startswith("Real models: `tinyinterp models download` fetches") for line in lines)


def test_the_stack_option_reaches_the_cost_model(
    fresh_install: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--stack tflm-reference: the device names it, and the stand-in's latency is what the cost model gives
    for that stack (from a throughput printed with 4 digits)."""
    args = ["suite", "--benchmarks", "ad01", "--mode", "performance", "--json", "--stack", "tflm-reference"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["device"]["stack"] == "tflm-reference"
    expected = estimate(stand_in("ad01"), "nucleo-l4r5zi", stack="tflm-reference").totals.latency_ms
    assert summary["benchmarks"]["ad01"]["latency_ms"] == pytest.approx(expected, rel=1e-4)
    assert expected > 1.5 * estimate(stand_in("ad01"), "nucleo-l4r5zi").totals.latency_ms  # not CMSIS-NN's


def test_a_terminal_shows_each_runs_progress_to_the_end(
    fresh_install: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal, stderr shows a bar per run, named by benchmark and mode, that reaches 100%."""
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["suite", "--benchmarks", "ad01", "--mode", "performance"]) == 0
    frames = re.split(r"[\r\n]", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", capsys.readouterr().err))
    last = [frame for frame in frames if frame.strip()][-1]
    assert re.fullmatch(r"ad01 performance ━+ 100% 0:00:00", last.strip()), last
