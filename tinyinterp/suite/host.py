"""The host side of the serial protocol, driving a DUT as the MLPerf Tiny runner does.

Mirrors `benchmark/runner/device_under_test.py`: inputs go as `db load N` then `db <hex>` commands of
31 bytes each (26 behind an energy monitor's interface board), inference as `infer N W`, and replies
are read up to `m-ready`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tinyinterp.errors import TinyInterpError
from tinyinterp.suite.device import EmulatedDevice
from tinyinterp.suite.dut import DeviceClock, VirtualDut
from tinyinterp.suite.protocol import LAP_RE, RESULTS_RE, TERMINATOR

RUNNER_CHUNK = 31  # DUT._max_bytes without a power manager

Send = Callable[[str], list[str]]  # one command -> its reply lines, up to and including m-ready


class ProtocolError(TinyInterpError):
    """The DUT answered with an error or not as the protocol expects."""


@dataclass(frozen=True)
class InferReply:
    payload: str  # inside m-results-[...]
    start_us: int | None  # the m-lap-us-N around the timed loop (None in energy mode)
    end_us: int | None


class Host:
    def __init__(self, send: Send, chunk: int = RUNNER_CHUNK) -> None:
        self._send = send
        self.chunk = chunk

    def command(self, text: str) -> list[str]:
        lines = self._send(text)
        errors = [line for line in lines if line.startswith("e-[")]
        if errors:
            raise ProtocolError(f"the DUT answered {text!r} with {errors[0]}")
        return lines

    def model(self) -> str:
        for line in self.command("profile"):
            if line.startswith("m-model-[") and line.endswith("]"):
                return line[len("m-model-[") : -1]
        raise ProtocolError("the DUT's profile reply has no m-model-[...] line")

    def load(self, data: bytes) -> None:
        self.command(f"db load {len(data)}")
        lines: list[str] = []
        for start in range(0, len(data), self.chunk):
            lines = self.command("db " + data[start : start + self.chunk].hex())
        if "m-load-done" not in lines:
            raise ProtocolError(f"the DUT did not confirm the load of {len(data)} bytes")

    def infer(self, iterations: int, warmups: int) -> InferReply:
        lines = self.command(f"infer {iterations} {warmups}")
        payloads = [m.group(1) for m in map(RESULTS_RE.match, lines) if m]
        laps = [int(m.group(1)) for m in map(LAP_RE.match, lines) if m]
        if len(payloads) != 1 or len(laps) not in (0, 2):
            raise ProtocolError(f"unexpected reply to infer: {lines}")
        return InferReply(payloads[0], *(laps or (None, None)))


class LocalLink:
    """A virtual DUT in this process, booted, as a host sees it over a wire: bytes in, reply lines out."""

    def __init__(
        self,
        device: EmulatedDevice,
        clock: DeviceClock | None = None,
        energy_mode: bool = False,
        firmware: type[VirtualDut] = VirtualDut,
    ) -> None:
        self._pending: list[str] = []
        self.dut = firmware(device, self._pending.append, clock, energy_mode)
        self.dut.boot()

    def take(self) -> list[str]:
        """The reply lines written since the last call."""
        lines = [line for line in "".join(self._pending).split("\r\n") if line]
        self._pending.clear()
        return lines

    def send(self, command: str) -> list[str]:
        self.dut.feed(command.encode("latin-1") + TERMINATOR)
        return self.take()


def connect(
    device: EmulatedDevice, clock: DeviceClock | None = None, energy_mode: bool = False
) -> tuple[Host, VirtualDut]:
    """A host wired to a virtual DUT in this process, its boot banner already read (as on opening a port)."""
    link = LocalLink(device, clock, energy_mode)
    link.take()
    return Host(link.send), link.dut
