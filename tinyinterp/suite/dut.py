"""A virtual device under test speaking the EEMBC / MLPerf Tiny serial protocol.

Commands end with `%` and are answered as the reference firmware does (`ee_serial_command_parser_callback`,
`ee_profile_parse`, `ee_buffer_parse` and `ee_infer` of mlcommons/tiny
`benchmark/api/internally_implemented.cpp`), each reply ending with `m-ready`. Where the firmware would
overflow a buffer or run on a stale input (too-long commands, bytes beyond `db load`, `infer` on a partial
load, `results` before any inference), the virtual DUT answers `e-[...]` instead and stays usable.
Tokens are split on any whitespace, so a terminal's line ends are tolerated. Inferences are computed
once per `infer` (N identical inferences give the same result) while the clock advances by N emulated
latencies.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from tinyinterp.suite.device import EmulatedDevice
from tinyinterp.suite.protocol import FIRMWARE, MAX_COMMAND, READY, TERMINATOR

INT_MAX = 2**31 - 1
VENDOR = "tinyinterp"  # TH_VENDOR_NAME_STRING, in m-name-dut-[...]
DEFAULT_WARMUPS = 10  # ee_profile_parse's default for `infer N`
_ATOI = re.compile(r"\s*([+-]?\d+)")
_HEX_PAIR = re.compile(r"[0-9A-Fa-f]{2}")
HELP = (
    FIRMWARE,
    "",
    "help         : Print this information",
    "name         : Print the name of the device",
    "timestamp    : Generate a timestamp",
    "profile      : Print the firmware profile and the model",
    "db SUBCMD    : Manipulate a generic byte buffer",
    "  load N     : Allocate N bytes and set load counter",
    "  db HH[HH]* : Load 8-bit hex byte(s) until N bytes",
    "  print      : Print the loaded bytes as hex",
    "infer N [W=10]: Load input, execute N inferences after W warmup loops",
    "results      : Return the result fp32 vector",
)


def atoi(text: str) -> int:
    """C's atoi: leading integer or 0, clamped to int (where C overflows)."""
    match = _ATOI.match(text)
    return max(-INT_MAX - 1, min(INT_MAX, int(match.group(1)))) if match else 0


def printable(text: str) -> str:
    return "".join(c if " " <= c <= "~" else "?" for c in text)


class DeviceClock:
    """The DUT's microsecond timer.

    It advances by the emulated duration of the device's work. With `realtime`, the work also takes that
    long in wall-clock time (replies are paced), and wall-clock time between commands counts as idle
    device time, as on a board, so a host's wall-clock checks (the runner's 10 s minimum) hold.
    """

    def __init__(self, realtime: bool = False) -> None:
        self.realtime = realtime
        self._us = 0.0
        self._wall = time.monotonic()

    def now(self) -> int:
        return int(self._us)

    def spend(self, microseconds: float) -> None:
        self._us += microseconds
        if self.realtime:
            time.sleep(max(0.0, self._wall + microseconds / 1e6 - time.monotonic()))
            self._wall = time.monotonic()  # the host's oversleep is not device time

    def advance_to(self, microseconds: float) -> None:
        """Spend the time until `microseconds` (nothing if it has passed)."""
        if microseconds > self._us:
            self.spend(microseconds - self._us)
            self._us = microseconds  # exactly: the sum may round

    def idle(self) -> None:
        """Count the wall-clock time since the device last worked (realtime only)."""
        if self.realtime:
            now = time.monotonic()
            self._us += (now - self._wall) * 1e6
            self._wall = now


class VirtualDut:
    """Feed it the host's bytes; it writes reply lines (with `\\r\\n`) through `write`.

    In `energy_mode` (the firmware built with EE_CFG_ENERGY_MODE=1) timestamps are GPIO pulses for the
    energy monitor instead of `m-lap-us-N` lines: they are recorded in `pulses` (device microseconds).
    """

    def __init__(
        self,
        device: EmulatedDevice,
        write: Callable[[str], None],
        clock: DeviceClock | None = None,
        energy_mode: bool = False,
    ) -> None:
        self.device = device
        self.clock = clock or DeviceClock()
        self.energy_mode = energy_mode
        self.pulses: list[int] = []
        self._write = write
        self._command = bytearray()
        self._overflow = False
        self._expected = 0  # bytes announced by `db load`
        self._buffer = bytearray()
        self._payload: str | None = None
        self._handlers: dict[str, Callable[[list[str]], None]] = {
            "name": self._name,
            "timestamp": lambda _: self._timestamp(),
            "profile": self._profile,
            "help": self._help,
            "db": self._db,
            "infer": self._infer,
            "results": lambda _: self._results(),
        }

    def boot(self) -> None:
        """The banner of `ee_benchmark_initialize`."""
        self._line(f"m-timestamp-mode-{'energy' if self.energy_mode else 'performance'}")
        self._timestamp()
        self._line("m-init-done")
        self._line(READY)

    def feed(self, data: bytes) -> None:
        """Process incoming bytes: every `%` ends a command (at most MAX_COMMAND characters are kept)."""
        start = 0
        while start <= len(data):
            end = data.find(TERMINATOR, start)
            piece = data[start : len(data) if end < 0 else end]
            room = MAX_COMMAND - len(self._command)
            self._command += piece[:room]
            self._overflow |= len(piece) > room
            if end < 0:
                return
            self._dispatch()
            start = end + 1

    # ---- Commands ----------------------------------------------------------------------

    def _dispatch(self) -> None:
        text, overflow = self._command.decode("latin-1"), self._overflow
        self._command, self._overflow = bytearray(), False
        self.clock.idle()
        try:
            if overflow:
                self._error(f"Command longer than {MAX_COMMAND} characters: {printable(text[:16])}...")
            elif text.split():
                name, *args = text.split()
                handler = self._handlers.get(name)
                if handler is None:
                    self._error(f"Unknown command: {printable(name)}")
                else:
                    handler(args)
        except Exception as error:  # the device must answer and survive whatever it is sent
            self._error(f"Internal error: {printable(str(error))[:MAX_COMMAND]}")
        self._line(READY)

    def _name(self, _: list[str]) -> None:
        self._line(f"m-name-dut-[{VENDOR}]")

    def _help(self, _: list[str]) -> None:
        for text in HELP:
            self._line(text)

    def _profile(self, _: list[str]) -> None:
        self._line(f"m-profile-[{FIRMWARE}]")
        self._line(f"m-model-[{self.device.benchmark}]")

    def _timestamp(self) -> None:
        if self.energy_mode:
            self.pulses.append(self.clock.now())
        else:
            self._line(f"m-lap-us-{self.clock.now()}")

    def _db(self, args: list[str]) -> None:
        if not args:
            self._error("Command 'db' requires a subcommand")
        elif args[0] == "load":
            self._db_load(args[1:])
        elif args[0] == "print":
            self._db_print()
        else:
            self._db_bytes(args[0])

    def _db_load(self, args: list[str]) -> None:
        if not args:
            self._error("Command 'db load' requires the # of bytes")
            return
        size = atoi(args[0])
        if size <= 0:
            self._error("Command 'db load' must be >0 bytes")
        elif size > self.device.load_bytes:
            self._error(f"Supplied buffer size {size} exceeds maximum of {self.device.load_bytes}")
        else:
            self._expected, self._buffer = size, bytearray()
            self._line(f"m-[Expecting {size} bytes]")

    def _db_print(self) -> None:
        for start in range(0, len(self._buffer), 8):
            self._line("m-buffer-" + "-".join(f"{b:02x}" for b in self._buffer[start : start + 8]))

    def _db_bytes(self, digits: str) -> None:
        if len(digits) % 2:
            self._error("Insufficent number of hex digits")  # sic, the firmware's message
            return
        pairs = [digits[i : i + 2] for i in range(0, len(digits), 2)]
        bad = next((pair for pair in pairs if not _HEX_PAIR.fullmatch(pair)), None)
        if bad is not None:
            self._error(f"Invalid hex digit '{printable(bad)}'")
        elif len(self._buffer) >= self._expected:
            self._error("No bytes expected: send 'db load N' first")
        else:
            # Like the firmware, digits beyond the announced size are disregarded.
            self._buffer += bytes.fromhex(digits)[: self._expected - len(self._buffer)]
            if len(self._buffer) == self._expected:
                self._line("m-load-done")

    def _infer(self, args: list[str]) -> None:
        iterations = atoi(args[0]) if args else 1
        warmups = atoi(args[1]) if len(args) > 1 else DEFAULT_WARMUPS
        if iterations <= 0:
            self._error("Inference iterations must be >0")
        elif warmups < 0:
            self._error("Inference warmup must be >=0")
        elif len(self._buffer) != self.device.load_bytes:
            self._error(f"Input db has {len(self._buffer)} bytes, expected {self.device.load_bytes}")
        else:
            self._payload = self.device.results([bytes(self._buffer)])[0]
            latency = self.device.cost.latency_us
            self._line(f"m-warmup-start-{warmups}")
            self.clock.spend(warmups * latency)
            self._line("m-warmup-done")
            self._line(f"m-infer-start-{iterations}")
            self._timestamp()
            self.clock.spend(iterations * latency)
            self._timestamp()
            self._line("m-infer-done")
            self._results()

    def _results(self) -> None:
        if self._payload is None:
            self._error("No results yet: run 'infer' first")
        else:
            self._line(f"m-results-[{self._payload}]")

    def _error(self, message: str) -> None:
        self._line(f"e-[{message}]")

    def _line(self, text: str) -> None:
        self._write(text + "\r\n")
