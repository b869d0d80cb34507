"""A virtual enhanced interface board (the STM32H573I-DK of MLPerf Tiny's energy and streaming set-ups).

It answers the host as `benchmark/interface/Application/CLI/InterfaceMenu.cpp` and `Menu.cpp` of
mlcommons/tiny do: commands end with `%`, a command matches by prefix (`dut`, `name`, `ls`, `play`,
`setbaud`, `checkbaud`, `record_detections`, `print_detections`, `print_dutycycle`), anything else gets a
bare `m-ready`, and `dut CMD` forwards CMD to the device: `m-dut-passthrough(CMD)`, `m-ready`, then the
device's reply lines prefixed with `[dut]: ` (its last one `[dut]: m-ready`). Its timer counts 10 us ticks
of the rig's clock from `record_detections`; detections (falling edges of the wake-word pin, recorded in
ms, not within 10 ms of the previous one, at most 10,000) and duty-cycle edges (the first 100 of each)
come from whatever plays the audio.

Audio is a hook: `play FILE` hands the file of the board's SD-card folder to a `Listener` (the streaming
wake-word device, `tinyinterp.rig.streaming.StreamingDut`), which runs it on the rig's clock, reports pin
edges back through `detection` and `duty_cycle`, and calls `playing` as the audio advances (so the rig's
other devices, the power monitor, keep up with a long file). Without a listener the file plays to nobody:
the clock advances by its length.
"""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from tinyinterp.errors import TinyInterpError
from tinyinterp.suite.dut import DeviceClock
from tinyinterp.suite.protocol import READY, TERMINATOR
from tinyinterp.suite.sww.stream import WavError

NAME = "tinyML Enhanced Interface Board"
PREFIX = "[dut]: "
BITS_PER_BYTE = 10  # a UART frame: start bit, 8 data bits, stop bit
TICK_US = 10  # htim2's period
DEDUP_MS = 10  # RecordDetection ignores a detection within 10 ms of the previous one
EDGES_PER_LINE = 8
MAX_DETECTIONS = 10_000  # RecordDetection's array
MAX_DUTY_EDGES = 100  # MAX_FRAMES: the processing pin's edges recorded
DEFAULT_DUT_BAUD = 115200
PLAY_ERROR = "Error playing file. Check that the file exists and is a 2-channel wav file.\n"


class RigError(TinyInterpError):
    """The rig cannot do what it was asked (a missing audio file, a bad baud rate)."""


class Listener(Protocol):
    """What hears the audio the board plays: the streaming device. It runs the whole file on the board's
    clock, calling `board.detection()` on each falling edge of its detection pin and
    `board.duty_cycle(rising)` on each edge of its processing pin."""

    def hear(self, wav: Path, board: InterfaceBoard) -> None: ...


def wav_seconds(path: Path) -> float:
    try:
        with wave.open(str(path), "rb") as audio:
            return audio.getnframes() / audio.getframerate()
    except (OSError, EOFError, wave.Error) as error:
        raise RigError(f"{path}: not a playable wav file ({error})") from error


class InterfaceBoard:
    """Feed it the host's bytes; it writes reply lines through `write`.

    `send_to_dut(command)` delivers one command to the device and returns its reply lines (up to its
    `m-ready`); the UART time of both directions at the DUT link's baud rate is spent on `clock`.
    """

    def __init__(
        self,
        clock: DeviceClock,
        write: Callable[[str], None],
        send_to_dut: Callable[[str], list[str]],
        sd_card: Path | None = None,
        listener: Listener | None = None,
        progress: Callable[[], None] | None = None,
    ) -> None:
        self.clock = clock
        self.sd_card = sd_card
        self.listener = listener
        self.dut_baud = DEFAULT_DUT_BAUD
        self.detections_ms: list[int] = []
        self.duty_starts: list[int] = []  # in 10 us ticks
        self.duty_stops: list[int] = []
        self._timer_zero_us = 0
        self._write = write
        self._send_to_dut = send_to_dut
        self._progress = progress or (lambda: None)
        self._command = b""  # received since the last %
        self._menu: dict[str, Callable[[str], None]] = {
            "dut": self._passthrough,
            "name": self._name,
            "ls": self._list,
            "play": self._play,
            "setbaud": self._set_baud,
            "checkbaud": self._check_baud,
            "record_detections": self._record_detections,
            "print_detections": self._print_detections,
            "print_dutycycle": self._print_dutycycle,
        }

    def feed(self, data: bytes) -> None:
        """Process incoming bytes; every `%` ends a command."""
        *commands, self._command = (self._command + data).split(TERMINATOR)
        for command in commands:
            self._handle(command.decode("latin-1"))

    # ---- Pins, from the listener ---------------------------------------------------------

    def ticks(self) -> int:
        return int((self.clock.now() - self._timer_zero_us) // TICK_US)

    def detection(self) -> None:
        now_ms = self.ticks() * TICK_US // 1000
        fresh = not self.detections_ms or self.detections_ms[-1] < now_ms - DEDUP_MS
        if fresh and len(self.detections_ms) < MAX_DETECTIONS:
            self.detections_ms.append(now_ms)

    def duty_cycle(self, rising: bool) -> None:
        edges = self.duty_starts if rising else self.duty_stops
        if len(edges) < MAX_DUTY_EDGES:
            edges.append(self.ticks())

    def playing(self) -> None:
        """The listener has heard audio up to the clock's time."""
        self._progress()

    # ---- Commands (Menu::HandleCommand: the first command that prefixes the text) --------

    def _handle(self, text: str) -> None:
        for command, action in self._menu.items():
            if text.startswith(command):
                if len(text) == len(command):
                    action("")
                elif len(text) > len(command) + 1 and text[len(command)] == " ":
                    action(text[len(command) + 1 :])
                return  # like the firmware, `dutX` or `dut ` is swallowed without a reply
        self._line(READY)

    def _passthrough(self, command: str) -> None:
        self._line(f"m-dut-passthrough({command})")
        self._line(READY)
        self._uart(len(command) + len(TERMINATOR))
        reply = self._send_to_dut(command)
        self._uart(sum(len(line) + 2 for line in reply))
        for line in reply:
            self._line(PREFIX + line)

    def _name(self, _: str) -> None:
        self._line(NAME)
        self._line(READY)

    def _list(self, _: str) -> None:
        files = sorted(p.name for p in self.sd_card.iterdir() if p.is_file()) if self.sd_card else []
        for name in files:
            self._line(name)
        self._line(READY)

    def _play(self, name: str) -> None:
        path = self.sd_card / name if self.sd_card and name else None
        self._text(f"Attempting to play {name}\n")
        if path is None or not path.is_file():
            self._text(PLAY_ERROR)
        elif self.listener is not None:
            try:
                self.listener.hear(path, self)
                self._text("succeeded.\n")
            except WavError:
                self._text(PLAY_ERROR)
        else:
            self.clock.spend(wav_seconds(path) * 1e6)
            self._text("succeeded.\n")
        self._line(READY)

    def _set_baud(self, args: str) -> None:
        # The firmware saves the rate and resets itself; here the DUT link simply changes speed.
        if args.strip().isdigit() and int(args) > 0:
            self.dut_baud = int(args)
        self._text(f"set baud to: {args}\n")
        self._line(READY)

    def _check_baud(self, _: str) -> None:
        self._text(f"baud is: {self.dut_baud}\n")
        self._line(READY)

    def _record_detections(self, _: str) -> None:
        self._timer_zero_us = self.clock.now()
        self._line("Now recording detections")
        self.detections_ms.clear()
        self.duty_starts.clear()
        self.duty_stops.clear()
        self._line(READY)

    def _print_detections(self, _: str) -> None:
        self._line("Detection Timestamps (ms)")
        for stamp in self.detections_ms:
            self._line(f"{stamp},")
        self._line(READY)

    def _print_dutycycle(self, _: str) -> None:
        for title, edges in (("start", self.duty_starts), ("stop", self.duty_stops)):
            self._line(f"Duty cycle {title} times (s)")
            for start in range(0, len(edges), EDGES_PER_LINE):
                text = "".join(f"{edge}, " for edge in edges[start : start + EDGES_PER_LINE])
                if start + EDGES_PER_LINE <= len(edges) or title == "start":
                    self._line(text)
                else:
                    self._text(text)  # the stop list's last partial line runs into m-ready
            if title == "start" and len(edges) % EDGES_PER_LINE == 0:
                self._line("")
        self._line(READY)

    # ---- Output -------------------------------------------------------------------------

    def _uart(self, size: int) -> None:
        self.clock.spend(size * BITS_PER_BYTE / self.dut_baud * 1e6)

    def _text(self, text: str) -> None:
        self._write(text)

    def _line(self, text: str) -> None:
        self._write(text + "\r\n")
