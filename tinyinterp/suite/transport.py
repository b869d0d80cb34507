"""Serving a virtual DUT on a pseudo-terminal, a TCP port, or stdin/stdout.

One loop per connection: bytes read are fed to the DUT; its replies are queued and written without
blocking (a host that stops reading loses the oldest output beyond OUTPUT_LIMIT, as a UART would,
instead of stalling the device).
"""

from __future__ import annotations

import errno
import os
import select
import socket
import tty
from collections.abc import Callable

from tinyinterp.suite.dut import VirtualDut

OUTPUT_LIMIT = 1 << 20  # bytes of replies kept for a host that does not read
READ_SIZE = 4096
POLL_S = 0.2

MakeDut = Callable[[Callable[[str], None]], VirtualDut]  # write callback -> a booted-to-be DUT


class _Output:
    """Replies waiting to be written to `fd`, flushed as far as the fd accepts without blocking."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending = bytearray()

    def write(self, text: str) -> None:
        self.pending += text.encode("latin-1")
        if len(self.pending) > OUTPUT_LIMIT:
            del self.pending[: len(self.pending) - OUTPUT_LIMIT]
        self.flush()

    def flush(self) -> None:
        while self.pending:
            try:
                written = os.write(self.fd, self.pending)
            except BlockingIOError:
                return
            except OSError as error:
                if error.errno in (errno.EIO, errno.EPIPE, errno.ECONNRESET):
                    self.pending.clear()  # nobody is listening: the bytes are lost, as on a wire
                    return
                raise
            if not written:
                return
            del self.pending[:written]


def _booted(write_fd: int, make_dut: MakeDut) -> tuple[VirtualDut, _Output]:
    """A DUT that has printed its boot banner to `write_fd` (as far as the fd took it)."""
    output = _Output(write_fd)
    dut = make_dut(output.write)
    dut.boot()
    return dut, output


def _serve_fds(read_fd: int, dut: VirtualDut, output: _Output) -> None:
    """Run a booted DUT on a pair of fds until the reading side reaches end of file."""
    while True:
        writers = [output.fd] if output.pending else []
        readable, _, _ = select.select([read_fd], writers, [], POLL_S)
        output.flush()
        if not readable:
            continue
        try:
            data = os.read(read_fd, READ_SIZE)
        except BlockingIOError:
            continue
        except OSError as error:
            if error.errno in (errno.EIO, errno.ECONNRESET):
                return
            raise
        if not data:
            return
        dut.feed(data)


def serve_pty(make_dut: MakeDut, announce: Callable[[str], None]) -> None:
    """A pseudo-terminal whose path is announced; hosts may open and close it any number of times."""
    master, slave = os.openpty()
    tty.setraw(slave)  # no echo, no line editing: a UART's bytes, as pyserial will also configure
    os.set_blocking(master, False)
    # Booted before its path is known, as a board is before its host opens the port: the banner is
    # already waiting, and a host that flushes its input on opening (pyserial) never sees it.
    dut, output = _booted(master, make_dut)
    announce(os.ttyname(slave))
    # Keeping the slave open lets hosts come and go without the master seeing end of file.
    try:
        _serve_fds(master, dut, output)
    finally:
        os.close(master)
        os.close(slave)


def serve_tcp(make_dut: MakeDut, port: int, announce: Callable[[str], None], host: str = "127.0.0.1") -> None:
    """A TCP server; each connection gets a freshly booted DUT (as a board reset by its host)."""
    with socket.create_server((host, port)) as server:
        announce(f"{host}:{server.getsockname()[1]}")
        while True:
            connection, _ = server.accept()
            with connection:
                connection.setblocking(False)
                _serve_fds(connection.fileno(), *_booted(connection.fileno(), make_dut))


def serve_stdio(make_dut: MakeDut) -> None:
    """Commands on stdin, replies on stdout (for pipes and quick tries; stdout writes may block)."""
    _serve_fds(0, *_booted(1, make_dut))
