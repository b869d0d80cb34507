"""`tinyinterp rig`: the MLPerf Tiny test set-up of one mode, on pseudo-terminals, on one emulated clock.

- Accuracy and performance: the device alone (the performance firmware, m-lap-us timestamps), as the
  runner finds a DUT on its USB serial port.
- Energy: the device (the energy firmware: timestamps are pulses) behind a virtual interface board, which
  forwards `dut CMD` to it at the DUT link's baud rate, and powered by a virtual LPM01A, which samples its
  energy on the same clock and sees its timestamp pulses.
- sww01 (streaming wake word): the device runs the streaming firmware (`tinyinterp.rig.streaming`) and
  listens to the interface board's audio; in performance mode too the board is there (the runner's
  `stream` step plays the wav on it), next to the device on its own port, on the same clock.

The device time of every inference is the cost model's and its power is the cost model's energy per
inference over its latency, so the runner's results equal `tinyinterp suite`'s: throughput from the same
m-lap-us timestamps, energy per inference to within one 1 ms sample of the timed run.

`write_devices_file` writes the runner's devices file (`devices.yaml`) for the set-up, each entry with the
USB ids of the real device and the pty that stands for it (`port`); `tinyinterp.rig.launch` runs the
unmodified runner with its port discovery answered from that file.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import struct
import termios
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tinyinterp.rig.interface import InterfaceBoard
from tinyinterp.rig.power import PowerMonitor
from tinyinterp.rig.streaming import StreamingDut, firmware_for
from tinyinterp.suite.device import EmulatedDevice
from tinyinterp.suite.dut import DeviceClock
from tinyinterp.suite.host import LocalLink
from tinyinterp.suite.protocol import READY
from tinyinterp.suite.transport import READ_SIZE, _Output

POLL_S = 0.2
GATE_POLL_S = 0.005
# After the monitor's last byte of a timestamp pulse has left the pty, how long the host's reader thread
# gets to queue it before the device's reply (on another port) reaches the host: the runner reads the
# samples and pulses of an `infer` as soon as its reply arrives.
DELIVERY_GRACE_S = 0.05
# While the board plays a long wav, the monitor's samples wait for the host beyond this many bytes (about
# 10 s of samples), so a 20-minute file does not pile up its 1.2 million samples in memory.
MONITOR_BACKLOG_BYTES = 100_000
HOST_BAUD = 115200
LPM_BAUD = 3686400
LPM_VOLTS = 3.3
# The real devices' USB ids, as the runner's devices files list them.
INTERFACE_USB = (0x0483, 0x374E)  # STM32H573I-DK
LPM_USB = (0x0483, 0x5740)
DUT_USB = (0x0483, 0x374B)  # NUCLEO-L4R5ZI's ST-LINK


class _HeldOutput(_Output):
    """Output flushed by the serving loop only (so one port can wait for another), never dropped."""

    def write(self, text: str) -> None:
        self.pending += text.encode("latin-1")


@dataclass
class Pty:
    """One pseudo-terminal: the rig reads and writes its master; a host opens `path`."""

    master: int
    slave: int  # kept open, so hosts may open and close the port without the master seeing end of file
    output: _HeldOutput
    feed: Callable[[bytes], None] = field(default=lambda _: None)

    @classmethod
    def open(cls) -> Pty:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        return cls(master, slave, _HeldOutput(master))

    @property
    def path(self) -> str:
        return os.ttyname(self.slave)

    def unread(self) -> int:
        """Bytes written that the host has not read yet."""
        queued = fcntl.ioctl(self.slave, termios.FIONREAD, struct.pack("i", 0))
        return len(self.output.pending) + struct.unpack("i", queued)[0]

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


class EnergyRig:
    """Interface board, power monitor and device on one clock (no ports: see `serve_energy_rig`)."""

    def __init__(
        self,
        device: EmulatedDevice,
        write_board: Callable[[str], None],
        write_monitor: Callable[[str], None],
        sd_card: Path | None = None,
        drain_monitor: Callable[[], None] | None = None,
    ) -> None:
        self.device = device
        self.clock = DeviceClock()
        self.link: LocalLink | None = None  # the device, while powered
        self.pulses = 0  # timestamp pulses seen by the monitor
        self.monitor = PowerMonitor(
            write_monitor, device.cost.energy_uj / device.cost.latency_us, self._power
        )
        self._drain_monitor = drain_monitor or (lambda: None)
        self.board = InterfaceBoard(self.clock, write_board, self._to_dut, sd_card, progress=self._playing)

    def feed_board(self, data: bytes) -> None:
        self.board.feed(data)
        self.monitor.advance(self.clock.now())

    def feed_monitor(self, data: bytes) -> None:
        self.monitor.advance(self.clock.now())
        self.monitor.feed(data)

    def _power(self, on: bool) -> None:
        """Switched on, the device boots (its banner goes nowhere: the board reads it only after a
        command); switched off, it forgets everything. A streaming device listens to the board's audio."""
        self.link = LocalLink(self.device, self.clock, True, firmware_for(self.device)) if on else None
        if self.link is not None:
            self.link.take()
        listener = self.link.dut if self.link is not None else None
        self.board.listener = listener if isinstance(listener, StreamingDut) else None

    def _playing(self) -> None:
        self.monitor.advance(self.clock.now())
        self._drain_monitor()

    def _to_dut(self, command: str) -> list[str]:
        if self.link is None:
            return ["e-[the device has no power: the power monitor has not switched it on (pwr on)]", READY]
        pulses = len(self.link.dut.pulses)
        reply = self.link.send(command)
        for pulse_us in self.link.dut.pulses[pulses:]:
            self.monitor.pulse(pulse_us)
            self.pulses += 1
        return reply


def _pump(ports: list[Pty], held: Callable[[Pty], bool]) -> None:
    """Serve `ports` until interrupted: read and feed what hosts send, write what the rig answers
    (except, for now, the ports `held` says to hold)."""
    while True:
        holding = [p for p in ports if p.output.pending and held(p)]
        writers = [p.master for p in ports if p.output.pending and p not in holding]
        readable, _, _ = select.select(
            [p.master for p in ports], writers, [], GATE_POLL_S if holding else POLL_S
        )
        for port in ports:
            if port not in holding:
                port.output.flush()
        for port in ports:
            if port.master in readable:
                try:
                    data = os.read(port.master, READ_SIZE)
                except BlockingIOError:
                    continue
                except OSError as error:
                    if error.errno != errno.EIO:  # EIO: no host has the port open
                        raise
                    continue
                port.feed(data)


class _DeliveryGate:
    """Holds the interface board's replies until the host has read everything the monitor sent before,
    and, after a timestamp pulse, for DELIVERY_GRACE_S more."""

    def __init__(self, monitor: Pty, pulses: Callable[[], int]) -> None:
        self.monitor = monitor
        self._pulses = pulses
        self._released_pulses = 0
        self._delivered_at: float | None = None

    def held(self) -> bool:
        if self.monitor.unread():
            self._delivered_at = None
            return True
        if self._pulses() == self._released_pulses:
            return False
        now = time.monotonic()
        if self._delivered_at is None:
            self._delivered_at = now
        if now - self._delivered_at < DELIVERY_GRACE_S:
            return True
        self._released_pulses = self._pulses()
        return False


def _drain(port: Pty) -> None:
    """Write `port`'s output until at most MONITOR_BACKLOG_BYTES wait, or until the host stops reading."""
    port.output.flush()
    while len(port.output.pending) > MONITOR_BACKLOG_BYTES:
        _, writable, _ = select.select([], [port.master], [], POLL_S)
        if not writable:
            return  # nobody reads the monitor: keep its samples rather than stall the rig
        port.output.flush()


def serve_streaming_rig(
    device: EmulatedDevice, announce: Callable[[RigPorts], None], sd_card: Path | None = None
) -> None:
    """The performance set-up of sww01: the device on its own port (performance firmware) and the
    interface board, which plays the audio to it, on one clock. The board's `dut` passthrough has no
    device behind it: the device's UART is the host's here."""
    board_port, dut_port = Pty.open(), Pty.open()
    clock = DeviceClock()
    dut = StreamingDut(device, dut_port.output.write, clock)
    board = InterfaceBoard(clock, board_port.output.write, _no_passthrough, sd_card, dut)
    board_port.feed, dut_port.feed = board.feed, dut.feed
    dut.boot()
    try:
        announce(RigPorts(board_port.path, None, dut_port.path))
        _pump([board_port, dut_port], lambda _: False)
    finally:
        board_port.close()
        dut_port.close()


def _no_passthrough(command: str) -> list[str]:
    return [f"e-[dut {command}: in the performance set-up the device is on its own port]", READY]


@dataclass(frozen=True)
class RigPorts:
    interface: str | None
    power: str | None
    dut: str | None


def serve_energy_rig(
    device: EmulatedDevice, announce: Callable[[RigPorts], None], sd_card: Path | None = None
) -> None:
    board, monitor = Pty.open(), Pty.open()
    rig = EnergyRig(device, board.output.write, monitor.output.write, sd_card, lambda: _drain(monitor))
    board.feed, monitor.feed = rig.feed_board, rig.feed_monitor
    gate = _DeliveryGate(monitor, lambda: rig.pulses)
    try:
        announce(RigPorts(board.path, monitor.path, None))
        _pump([board, monitor], lambda port: port is board and gate.held())
    finally:
        board.close()
        monitor.close()


def devices_yaml(ports: RigPorts, dut_name: str, dut_energy_baud: int) -> str:
    """The runner's devices file for these ports (its `devices_*.yaml` format). The DUT is always listed,
    as the runner takes its baud rates from it; in energy mode it has no port of its own."""
    entries = []
    if ports.interface:
        entries.append(_entry("stm32h573i-dk", "interface", HOST_BAUD, INTERFACE_USB, ports.interface))
    if ports.power:
        power = _entry("lpm01a", "power", LPM_BAUD, LPM_USB, ports.power)
        entries.append(power + f"  echo: False\n  voltage: {LPM_VOLTS}\n")
    bauds = f"{{energy: {dut_energy_baud}, performance: {HOST_BAUD}, accuracy: {HOST_BAUD}}}"
    entries.append(_entry(dut_name, "dut", bauds, DUT_USB, ports.dut))
    return "".join(entries)


def _entry(name: str, kind: str, baud: int | str, usb: tuple[int, int], port: str | None) -> str:
    text = f"- name: {name}\n  type: {kind}\n  preference: 2\n  baud: {baud}\n"
    text += f"  usb:\n    0x{usb[0]:04X}: 0x{usb[1]:04X}\n"
    return text + (f"  port: {port}\n" if port else "")


def write_devices_file(path: Path, ports: RigPorts, dut_name: str, dut_energy_baud: int) -> None:
    path.write_text(devices_yaml(ports, dut_name, dut_energy_baud))
