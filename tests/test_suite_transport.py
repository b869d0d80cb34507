"""The virtual DUT's transports in this process, on pipes, a pseudo-terminal and a TCP port, against
replies written by hand (test_dut_pty.py runs `tinyinterp dut` as a separate process, with pyserial)."""

from __future__ import annotations

import contextlib
import os
import queue
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
from test_dut import zoo_device

import tinyinterp.suite.transport as transport
from tinyinterp.suite.dut import VirtualDut

BANNER = b"m-timestamp-mode-performance\r\nm-lap-us-0\r\nm-init-done\r\nm-ready\r\n"
NAME_REPLY = b"m-name-dut-[tinyinterp]\r\nm-ready\r\n"
TIMEOUT_S = 10  # each exchange takes well under a second, also on a loaded machine
FLOOD_TIMEOUT_S = 120  # 20,000 commands: about 9 s on a loaded machine, more under mutmut's tracing


def make_dut(write: Callable[[str], None]) -> VirtualDut:
    return VirtualDut(zoo_device("kws01"), write)


class EnergyDuts:
    """A DUT factory in energy mode (a timestamp is a pulse, not a line) that keeps the DUTs it made."""

    def __init__(self) -> None:
        self.made: list[VirtualDut] = []

    def __call__(self, write: Callable[[str], None]) -> VirtualDut:
        self.made.append(VirtualDut(zoo_device("kws01"), write, energy_mode=True))
        return self.made[-1]

    def wait_for_pulses(self, count: int, timeout_s: float = TIMEOUT_S) -> None:
        """Until the first DUT has `count` pulses, or `timeout_s` has passed."""
        deadline = time.monotonic() + timeout_s
        while not (self.made and len(self.made[0].pulses) >= count) and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    yield read_fd, write_fd
    for fd in (read_fd, write_fd):
        with contextlib.suppress(OSError):  # closed by the test
            os.close(fd)


def read_exactly(fd: int, size: int) -> bytes:
    """Up to `size` bytes from `fd`, as they come within TIMEOUT_S (fewer if the DUT stops answering)."""
    data = b""
    deadline = time.monotonic() + TIMEOUT_S
    while len(data) < size:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, size - len(data)) if ready else b""
        if not chunk:
            break
        data += chunk
    return data


def unread(fd: int) -> bytes:
    """Everything a non-blocking pipe holds."""
    data = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


def test_output_keeps_only_the_newest_bytes_for_a_host_that_does_not_read(
    pipe: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    read_fd, write_fd = pipe
    os.set_blocking(read_fd, False)
    monkeypatch.setattr(transport, "OUTPUT_LIMIT", 8)
    output = transport._Output(write_fd)
    output.write("0123456789AB")  # 12 bytes queued: the oldest 4 beyond the limit are dropped, the rest sent
    assert (output.pending, unread(read_fd)) == (b"", b"456789AB")
    for size in (65536, 1):  # fill the pipe: nothing more can be written until the host reads
        while True:
            try:
                os.write(write_fd, b"x" * size)
            except BlockingIOError:
                break
    output.write("abcdef")
    output.write("ghij")
    assert output.pending == b"cdefghij"
    unread(read_fd)  # the host reads everything the pipe holds
    output.flush()
    assert (output.pending, unread(read_fd)) == (b"", b"cdefghij")


def test_output_to_a_host_that_went_away_is_lost_and_other_errors_are_raised(pipe: tuple[int, int]) -> None:
    read_fd, write_fd = pipe
    os.close(read_fd)
    output = transport._Output(write_fd)
    output.write("m-ready\r\n")  # EPIPE: nobody listens, as on a wire
    assert output.pending == b""
    with pytest.raises(OSError):
        transport._Output(-1).write("m-ready\r\n")  # EBADF is not a host going away


def test_a_dut_on_two_pipes_answers_until_its_input_ends() -> None:
    command_read, command_write = os.pipe()
    reply_read, reply_write = os.pipe()
    try:
        dut, output = transport._booted(reply_write, make_dut)
        assert read_exactly(reply_read, len(BANNER)) == BANNER
        os.write(command_write, b"name%")
        os.close(command_write)  # end of file: the serving loop returns
        serving_thread = threading.Thread(target=transport._serve_fds, args=(command_read, dut, output))
        serving_thread.daemon = True
        serving_thread.start()
        serving_thread.join(TIMEOUT_S)
        assert not serving_thread.is_alive()
        assert read_exactly(reply_read, len(NAME_REPLY)) == NAME_REPLY
    finally:
        for fd in (command_read, reply_read, reply_write):
            os.close(fd)


@contextlib.contextmanager
def serving_on_pipes(
    monkeypatch: pytest.MonkeyPatch, select_call: Callable[..., object] = select.select
) -> Iterator[tuple[int, int]]:
    """A booted DUT served by `_serve_fds` in a thread on two non-blocking pipes, its banner read, with a poll
    period of a minute (so nothing waits for it) and `select_call` as the loop's select. Yields the command
    pipe's write end and the reply pipe's read end; closing the command pipe ends the loop."""
    monkeypatch.setattr(transport, "POLL_S", 60.0)
    monkeypatch.setattr(transport, "select", SimpleNamespace(select=select_call))
    command_read, command_write = os.pipe()
    reply_read, reply_write = os.pipe()
    for fd in (command_read, reply_write):
        os.set_blocking(fd, False)
    dut, output = transport._booted(reply_write, make_dut)
    thread = threading.Thread(target=transport._serve_fds, args=(command_read, dut, output), daemon=True)
    try:
        assert read_exactly(reply_read, len(BANNER)) == BANNER
        thread.start()
        yield command_write, reply_read
    finally:
        os.close(command_write)  # end of file: the loop returns
        thread.join(TIMEOUT_S)
        for fd in (command_read, reply_read, reply_write):
            os.close(fd)
    assert not thread.is_alive()


def test_output_the_host_cannot_take_at_once_follows_as_it_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """200 `help` replies (about 100 KB) do not fit a pipe (64 KiB): the loop waits for room to write the
    rest, not for more input or its poll period."""
    replies: list[str] = []
    dut = make_dut(replies.append)
    dut.boot()
    replies.clear()
    dut.feed(b"help%" * 200)
    expected = "".join(replies).encode("latin-1")
    assert len(expected) > 65536
    with serving_on_pipes(monkeypatch) as (command_write, reply_read):
        os.write(command_write, b"help%" * 200)
        time.sleep(1.0)  # the DUT answers all 200 before the host reads: what the pipe cannot take is pending
        assert read_exactly(reply_read, len(expected)) == expected


def test_an_idle_dut_sleeps_in_select(monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing to write, the loop waits for input only: one select per command answered, none while idle
    (waiting on a writable fd would return at once, a busy loop)."""
    calls: list[float] = []

    def counted(*args: object) -> object:
        calls.append(time.monotonic())
        return select.select(*args)

    with serving_on_pipes(monkeypatch, counted) as (command_write, reply_read):
        os.write(command_write, b"name%")
        assert read_exactly(reply_read, len(NAME_REPLY)) == NAME_REPLY
        time.sleep(0.5)
        assert len(calls) <= 2  # the one the command ended, the one waiting now (a busy loop: thousands)


def test_a_spurious_wake_up_does_not_stop_the_dut(monkeypatch: pytest.MonkeyPatch) -> None:
    """select may report input that a read then does not find (EAGAIN): the loop waits again."""
    woken = threading.Event()
    waiting_again = threading.Event()

    def spurious_first(read: list[int], write: list[int], error: list[int], timeout: float) -> object:
        if not woken.is_set():
            woken.set()
            return read, [], []
        waiting_again.set()
        return select.select(read, write, error, timeout)

    with serving_on_pipes(monkeypatch, spurious_first) as (command_write, reply_read):
        assert waiting_again.wait(TIMEOUT_S)  # the loop read nothing and waits again
        os.write(command_write, b"name%")
        assert read_exactly(reply_read, len(NAME_REPLY)) == NAME_REPLY


def serving(target: Callable[..., None], *args: object) -> str:
    """Run a transport that never returns in a daemon thread; where it listens, as it announces it."""
    announced: queue.Queue[str] = queue.Queue()
    threading.Thread(target=target, args=(make_dut, *args, announced.put), daemon=True).start()
    return announced.get(timeout=TIMEOUT_S)


def ask_name_over_pty(path: str, banner: bytes = b"") -> None:
    """Open the pseudo-terminal as a host does, read `banner` first if one is due, then ask `name`."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        assert read_exactly(fd, len(banner)) == banner
        os.write(fd, b"name%")
        assert read_exactly(fd, len(NAME_REPLY)) == NAME_REPLY
    finally:
        os.close(fd)


def test_a_pseudo_terminal_keeps_its_dut_across_hosts() -> None:
    """Booted before its path is announced; hosts open and close it, and the same DUT answers (no second
    banner)."""
    path = serving(transport.serve_pty)
    ask_name_over_pty(path, BANNER)
    time.sleep(3 * transport.POLL_S)  # no host for a while: the DUT waits
    ask_name_over_pty(path)


def test_each_tcp_connection_gets_a_freshly_booted_dut() -> None:
    host, port = serving(transport.serve_tcp, 0).rsplit(":", 1)
    assert host == "127.0.0.1"
    for _ in range(2):
        with socket.create_connection((host, int(port)), timeout=TIMEOUT_S) as connection:
            assert read_exactly(connection.fileno(), len(BANNER)) == BANNER
            time.sleep(3 * transport.POLL_S)  # a host that waits before its first command
            connection.sendall(b"name%")
            assert read_exactly(connection.fileno(), len(NAME_REPLY)) == NAME_REPLY


def test_a_tcp_host_that_resets_its_connection_leaves_the_server_serving() -> None:
    host, port = serving(transport.serve_tcp, 0).rsplit(":", 1)
    connection = socket.create_connection((host, int(port)), timeout=TIMEOUT_S)
    assert read_exactly(connection.fileno(), len(BANNER)) == BANNER
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()  # with a zero linger time: a reset (ECONNRESET on the DUT's side), not an end of file
    with socket.create_connection((host, int(port)), timeout=TIMEOUT_S) as connection:
        assert read_exactly(connection.fileno(), len(BANNER)) == BANNER


def test_a_pseudo_terminal_host_that_does_not_read_never_stalls_the_dut() -> None:
    """Replies are queued (and the oldest dropped) rather than written blocking: with 200 `help` replies
    (about 100 KB, more than a pseudo-terminal holds) unread, the DUT still takes its next command."""
    duts = EnergyDuts()
    announced: queue.Queue[str] = queue.Queue()
    threading.Thread(target=transport.serve_pty, args=(duts, announced.put), daemon=True).start()
    fd = os.open(announced.get(timeout=TIMEOUT_S), os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(fd, b"help%" * 200 + b"timestamp%")  # in energy mode a timestamp is a pulse, not a line
        duts.wait_for_pulses(2)  # the boot banner's, then this one
        assert len(duts.made[0].pulses) == 2
    finally:
        os.close(fd)


class FailingDut(VirtualDut):
    def feed(self, data: bytes) -> None:
        raise RuntimeError("the DUT failed")


def test_a_pseudo_terminal_is_closed_when_its_dut_fails() -> None:
    """The DUT's error comes out of serve_pty, and both ends of the pseudo-terminal are closed: its path is
    gone."""
    announced: queue.Queue[str] = queue.Queue()
    errors: list[Exception] = []

    def serve() -> None:
        try:
            transport.serve_pty(lambda write: FailingDut(zoo_device("kws01"), write), announced.put)
        except Exception as error:  # what the serving thread ended with
            errors.append(error)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    path = announced.get(timeout=TIMEOUT_S)
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    os.write(fd, b"name%")
    thread.join(TIMEOUT_S)
    os.close(fd)
    assert [(type(e), str(e)) for e in errors] == [(RuntimeError, "the DUT failed")]
    assert not os.path.exists(path)


def test_a_tcp_host_that_does_not_read_never_stalls_the_dut() -> None:
    """As on the pseudo-terminal: 20,000 unread `help` replies (about 10 MB, more than a small receive buffer
    and the kernel's send buffer hold) do not keep the DUT from its next command."""
    duts = EnergyDuts()
    announced: queue.Queue[str] = queue.Queue()
    threading.Thread(target=transport.serve_tcp, args=(duts, 0, announced.put), daemon=True).start()
    host, port = announced.get(timeout=TIMEOUT_S).rsplit(":", 1)
    with socket.socket() as connection:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        connection.connect((host, int(port)))
        connection.sendall(b"help%" * 20000 + b"timestamp%")
        duts.wait_for_pulses(2, FLOOD_TIMEOUT_S)
        assert len(duts.made[0].pulses) == 2  # the boot banner's, then this one
