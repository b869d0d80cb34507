"""A virtual STMicroelectronics LPM01A (X-NUCLEO-LPM01A PowerShield) energy monitor.

It speaks the subset of the PowerShield's host protocol the MLPerf Tiny runner uses
(`benchmark/runner/power_manager/power_manager_lpm.py` of mlcommons/tiny): commands end with `\\r\\n`; a
command is acknowledged as `PowerShield > ack <command>`, an unknown one refused with
`PowerShield > error <command>` and an `Error detail: ...` line. After `start` it streams one line per
sample in `ascii_dec` (`dddd[+-]dd`: four digits times a power of ten), a `TimeStamp: SSSs MMMms, buff
00%` line every 1000 samples, and an `event N ris` line for every timestamp pulse of the device, placed
between the samples as it happens; `stop` ends with `Acquisition completed`.

Samples are energy (J per 1 ms sample, `output energy`, `freq 1k`) on the rig's emulated clock: the device
draws its cost-model power whenever powered (the reference firmware busy-waits on its UART between
inferences), so the energy between two pulses is exactly the device's energy for that time, to the
sample. Each printed value keeps 4 digits; the rounding error is carried into the next sample, so sums
over samples are exact to one digit.
"""

from __future__ import annotations

import math
from collections.abc import Callable

PROMPT = "PowerShield > "
SAMPLE_US = 1000.0  # freq 1k: the only rate the runner uses
SAMPLES_PER_TIMESTAMP = 1000
MANTISSA_DIGITS = 4
MIN_VOLT_MV, MAX_VOLT_MV = 1800, 3300
# The runner's set-up commands, acknowledged and otherwise ignored (their values are the only ones
# the virtual monitor implements: software trigger, energy output in ascii_dec at 1 kHz).
ACCEPTED = ("htc", "hrc", "lcd", "acqtime", "trigdelay", "trigsrc", "eventsrc", "output", "format", "freq")


def ascii_dec(value: float) -> str:
    """`value` in the PowerShield's ascii_dec format: 4 digits and a signed 2-digit power of ten."""
    if value <= 0:
        return "0000+00"
    exponent = math.floor(math.log10(value)) - (MANTISSA_DIGITS - 1)
    mantissa = round(value / 10.0**exponent)
    if mantissa >= 10**MANTISSA_DIGITS:
        mantissa, exponent = round(mantissa / 10), exponent + 1
    return f"{mantissa:04d}{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def ascii_dec_value(text: str) -> float:
    """The runner's reading of a sample (`_extract_current_values`)."""
    return float(text.replace("+", "e+").replace("-", "e-"))


class PowerMonitor:
    """Feed it the host's bytes; it writes lines through `write`. `advance(t_us)` moves it to the rig's
    clock time (emitting the samples that completed), `pulse(t_us)` records a timestamp pulse, and
    `on_power(bool)` is told when the device's supply is switched."""

    def __init__(
        self, write: Callable[[str], None], device_watts: float, on_power: Callable[[bool], None]
    ) -> None:
        self.device_watts = device_watts
        self.powered = False
        self.voltage_mv: float = MAX_VOLT_MV
        self.acquiring = False
        self._write = write
        self._on_power = on_power
        self._pending = ""
        self._now_us = 0.0
        self._sample_start_us = 0.0
        self._sample_joules = 0.0
        self._carry_joules = 0.0  # printed minus true energy so far, given back to the next sample
        self._samples = 0
        self._events = 0

    # ---- Host commands ------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        *lines, self._pending = (self._pending + data.decode("latin-1")).split("\n")
        for line in lines:
            if line.strip():
                self._handle(line.strip())

    def _handle(self, command: str) -> None:
        name, _, argument = command.partition(" ")
        if name in ACCEPTED:
            self._ack(command)
        elif name == "volt":
            self._volt(command, argument)
        elif name == "pwr":
            self._pwr(command, argument)
        elif name == "start":
            self._start(command)
        elif name == "stop":
            self._ack(command)
            self._stop()
        elif name == "powershield":
            self._ack(command)
            self._line("PowerShield present, virtual (tinyinterp rig)")
        elif name == "version":
            self._ack(command)
            self._line("tinyinterp-rig 1.0.0")
        elif name == "status":
            self._ack(command)
            self._line("ok")
        else:
            self._error(command, f"unknown command '{name}'")

    def _volt(self, command: str, argument: str) -> None:
        text = argument.strip()
        millivolts = float(text[:-1]) if text.endswith("m") and _is_number(text[:-1]) else None
        if millivolts is None and _is_number(text):
            millivolts = float(text) * 1000
        if millivolts is None or not MIN_VOLT_MV <= millivolts <= MAX_VOLT_MV:
            self._error(command, f"voltage must be {MIN_VOLT_MV}m..{MAX_VOLT_MV}m, got '{text}'")
        else:
            self.voltage_mv = millivolts
            self._ack(command)

    def _pwr(self, command: str, argument: str) -> None:
        state = argument.split()[0] if argument.split() else ""
        if state not in ("on", "off"):
            self._error(command, f"pwr takes on or off, got '{state}'")
            return
        self._ack(command)
        powered = state == "on"
        if powered != self.powered:
            self.powered = powered
            self._on_power(powered)

    def _start(self, command: str) -> None:
        self._ack(command)
        self.acquiring = True
        self._sample_start_us = self._now_us
        self._sample_joules = self._carry_joules = 0.0
        self._samples = self._events = 0

    def _stop(self) -> None:
        if self.acquiring:
            self.acquiring = False
            self._line(f"Acquisition completed, {self._samples} samples")
        else:
            self._line("Acquisition completed")

    # ---- The rig's clock and the device's pins --------------------------------------------

    def advance(self, now_us: float) -> None:
        """Integrate the device's power up to `now_us`, printing every sample that completed."""
        watts = self.device_watts if self.powered else 0.0
        integrated_to = self._now_us
        while self.acquiring and self._sample_start_us + SAMPLE_US <= now_us:
            end = self._sample_start_us + SAMPLE_US
            self._sample_joules += watts * (end - integrated_to) * 1e-6
            self._emit_sample()
            self._sample_start_us = integrated_to = end
        if self.acquiring and now_us > integrated_to:
            self._sample_joules += watts * (now_us - integrated_to) * 1e-6
        self._now_us = max(self._now_us, now_us)

    def pulse(self, now_us: float) -> None:
        self.advance(now_us)
        if self.acquiring:
            self._events += 1
            self._line(f"event {self._events} ris")

    def _emit_sample(self) -> None:
        wanted = self._sample_joules - self._carry_joules
        text = ascii_dec(wanted)
        self._carry_joules = ascii_dec_value(text) - wanted
        self._sample_joules = 0.0
        self._line(text)
        self._samples += 1
        if self._samples % SAMPLES_PER_TIMESTAMP == 0:
            seconds, milliseconds = divmod(self._samples, 1000)
            self._line(f"TimeStamp: {seconds:03d}s {milliseconds:03d}ms, buff 00%")

    # ---- Output -------------------------------------------------------------------------

    def _ack(self, command: str) -> None:
        self._line(f"{PROMPT}ack {command}")

    def _error(self, command: str, detail: str) -> None:
        self._line(f"{PROMPT}error {command}")
        self._line(f"{PROMPT}Error detail: {detail}")

    def _line(self, text: str) -> None:
        self._write(text + "\r\n")


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
