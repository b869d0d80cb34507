"""`tinyinterp dut` as a separate process: a real pseudo-terminal opened with pyserial, TCP and stdio."""

from __future__ import annotations

import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conftest import import_required
from test_dut import HAND_PAYLOADS, random_load, zoo_device

from tinyinterp.cli import main
from tinyinterp.suite.host import Host
from tinyinterp.suite.protocol import READY, parse_results_line, requantize

START_TIMEOUT_S = 120  # a cold numba cache compiles the kernels first
REPLY_TIMEOUT_S = 30


@contextmanager
def dut_process(*args: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """`tinyinterp dut ARGS` running; yields it and the first line it prints (pty path or address)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tinyinterp.cli", "dut", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
        assert ready, "the DUT did not say where it listens"
        yield process, process.stdout.readline().strip()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def read_reply(read_line: Callable[[], bytes]) -> list[str]:
    """Lines up to m-ready, as the runner's SerialDevice collects them (bounded in time)."""
    lines: list[str] = []
    deadline = time.monotonic() + REPLY_TIMEOUT_S
    while time.monotonic() < deadline:
        line = read_line().decode("latin-1").strip()
        if line:
            lines.append(line)
        if line == READY:
            return lines
    raise AssertionError(f"no {READY} within {REPLY_TIMEOUT_S} s; got {lines}")


def runner_send(
    write: Callable[[bytes], object], read_line: Callable[[], bytes]
) -> Callable[[str], list[str]]:
    """The runner's send_command: the command and `%`, then the reply."""

    def send(command: str) -> list[str]:
        write(command.encode("latin-1") + b"%")
        return read_reply(read_line)

    return send


@pytest.fixture(scope="module")
def serial() -> ModuleType:
    return import_required("serial")


def cli_run_ints(model: str, x: np.ndarray, folder: Path, capsys: pytest.CaptureFixture[str]) -> np.ndarray:
    """The int8 outputs `tinyinterp run MODEL --input x.npy` prints."""
    np.save(folder / "x.npy", x)
    assert main(["run", model, "--input", str(folder / "x.npy")]) == 0
    printed = re.search(r"int: \[([^\]]*)\]", capsys.readouterr().out)
    assert printed is not None
    return np.array([int(v) for v in printed.group(1).split(",")])


def pty_session_line(serial: ModuleType, path: str, benchmark: str, load: bytes) -> str:
    """Open the pty as the runner does, check garbage is answered, load in 31-byte chunks, infer: the
    m-results line."""
    assert path.startswith("/dev/"), path
    with serial.Serial(path, 115200, timeout=0.5) as port:
        send = runner_send(port.write, port.readline)
        for garbage in ["db 1", "infer -3", "x" * 300, "\x00\xff", "db load 99999999"]:
            assert send(garbage)[0].startswith("e-[")
        host = Host(send)
        assert host.model() == benchmark
        host.load(load)
        return f"m-results-[{host.infer(1, 0).payload}]"


def test_pty_session_on_a_stand_in(
    serial: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The values printed over the pty are the int8 outputs `tinyinterp run` prints for the same input."""
    device = zoo_device("ic01")
    load = random_load(device, 7)
    with dut_process("--model", "zoo:ic", "--benchmark", "ic01", "--pty") as (_, path):
        ints = cli_run_ints("zoo:ic", device.inputs([load]), tmp_path, capsys)
        line = pty_session_line(serial, path, "ic01", load)
    quant = device.output_quant
    np.testing.assert_array_equal(requantize(parse_results_line(line), quant.scale, quant.zero_point), ints)


def test_pty_session_on_the_reference_model(serial: ModuleType, data_dir: Path) -> None:
    model = data_dir / "models" / "kws_ref_model.tflite"
    load = (data_dir / "datasets" / "kws01" / "tst_000001_Left_2.bin").read_bytes()
    with dut_process("--model", str(model), "--benchmark", "kws01", "--pty") as (_, path):
        line = pty_session_line(serial, path, "kws01", load)
    assert line == "m-results-[" + HAND_PAYLOADS["kws01", "tst_000001_Left_2.bin"] + "]"  # written by hand


def test_tcp_connections_each_get_a_booted_device() -> None:
    with dut_process("--model", "zoo:kws", "--benchmark", "kws01", "--tcp", "0") as (_, address):
        host, port = address.split(":")
        for _ in range(2):
            connection = socket.create_connection((host, int(port)), timeout=REPLY_TIMEOUT_S)
            with connection, connection.makefile("rb") as stream:  # both closed: the DUT sees end of file
                banner = read_reply(stream.readline)
                assert banner == ["m-timestamp-mode-performance", "m-lap-us-0", "m-init-done", READY]
                send = runner_send(connection.sendall, stream.readline)
                assert send("name") == ["m-name-dut-[tinyinterp]", READY]
                assert send("profile")[-2:] == ["m-model-[kws01]", READY]


def test_stdio_answers_every_command_and_exits_at_end_of_input() -> None:
    commands = b"name%profile%db load 2%db 00%db zz%infer 1 0%"
    done = subprocess.run(
        [sys.executable, "-m", "tinyinterp.cli", "dut", "--model", "zoo:kws", "--benchmark", "kws01"],
        input=commands,
        capture_output=True,
        timeout=START_TIMEOUT_S,
    )
    lines = done.stdout.decode().split("\r\n")
    assert done.returncode == 0
    assert lines.count(READY) == commands.count(b"%") + 1  # and the boot banner's
    assert "e-[Invalid hex digit 'zz']" in lines and "e-[Input db has 1 bytes, expected 490]" in lines


def test_realtime_replies_take_the_emulated_device_time() -> None:
    device = zoo_device("ad01")
    iterations = 60
    with dut_process("--model", "zoo:ad", "--benchmark", "ad01", "--tcp", "0", "--realtime") as (_, address):
        host, port = address.split(":")
        connection = socket.create_connection((host, int(port)), timeout=REPLY_TIMEOUT_S)
        with connection, connection.makefile("rb") as stream:
            read_reply(stream.readline)
            runner = Host(runner_send(connection.sendall, stream.readline))
            runner.load(random_load(device, 8))
            start = time.monotonic()
            reply = runner.infer(iterations, 0)
            wall = time.monotonic() - start
    assert reply.start_us is not None and reply.end_us is not None
    assert reply.end_us - reply.start_us == pytest.approx(iterations * device.cost.latency_us, abs=1)
    assert wall >= iterations * device.cost.latency_us / 1e6
