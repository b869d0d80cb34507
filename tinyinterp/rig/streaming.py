"""The sww01 reference firmware on the rig: a device that listens to the interface board's audio.

`StreamingDut` is the virtual DUT (`tinyinterp.suite.dut.VirtualDut`) with the streaming firmware's `start`
and `stop` commands (`specs/sww01.md` 5.2; mlcommons/tiny `sww_ref_util.c` `ee_start_detection`,
`ee_stop_detection`), and the interface board's `Listener`: once started, it hears a wav the board plays
as the suite streams it (`tinyinterp.suite.sww`), on the rig's clock. Frame k's chunk completes 32 (k + 1)
ms after playback starts; the processing pin rises then and falls one frame time later
(`sww.run.frame_cost`), after the detection pin's pulse if the frame detects. The board's timestamps are
therefore those `tinyinterp suite` computes (`sww.detection.board_timestamps`, `sww.run.duty_cycle`).
A frame longer than the 32 ms hop still starts on its chunk (the suite flags it, a board would lose audio).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tinyinterp.rig.interface import InterfaceBoard
from tinyinterp.suite.benchmarks import BENCHMARKS
from tinyinterp.suite.device import EmulatedDevice
from tinyinterp.suite.dut import DeviceClock, VirtualDut
from tinyinterp.suite.sww.detection import HOP_US, PLAY_START_US
from tinyinterp.suite.sww.frontend import HOP
from tinyinterp.suite.sww.run import frame_cost
from tinyinterp.suite.sww.stream import read_wav, stream_blocks

MAX_ACTIVATIONS = 64_000  # g_act_buff: the class-0 outputs `stop` prints
ACTIVATIONS_PER_LINE = 16  # ee_print_vals_int8


class StreamingDut(VirtualDut):
    """The sww01 firmware: `start` arms it (a timestamp pulse), `stop` disarms it (another) and prints the
    class-0 output of every frame heard since."""

    def __init__(
        self,
        device: EmulatedDevice,
        write: Callable[[str], None],
        clock: DeviceClock | None = None,
        energy_mode: bool = False,
    ) -> None:
        super().__init__(device, write, clock, energy_mode)
        self.frame = frame_cost(device)
        self.listening = False
        self.activations: list[int] = []
        self._handlers["start"] = lambda _: self._start()
        self._handlers["stop"] = lambda _: self._stop()

    def _start(self) -> None:
        if self.listening:
            self._line("I2S Rx currently in progress. Ignoring request")
            return
        self.listening = True
        self.activations = []
        self._timestamp()
        self._line("Listening for I2S data ... ")
        self._line("DMA receive initiated.")

    def _stop(self) -> None:
        if not self.listening:
            self._line("I2S is already idle.  Ignoring stop request")
            return
        self.listening = False
        self._timestamp()
        self._line("Streaming stopped.")
        self._line("target activations: ")
        for line in activation_lines(self.activations):
            self._line(line)

    # ---- Listener ----------------------------------------------------------------------

    def hear(self, wav: Path, board: InterfaceBoard) -> None:
        """The board plays `wav` (playback starts PLAY_START_US after `play`); returns when it ends."""
        audio = read_wav(wav)
        play_start_us = self.clock.now() + PLAY_START_US
        if self.listening:
            self._process(audio.samples[: audio.played_chunks * HOP], play_start_us, board)
        self.clock.advance_to(play_start_us + audio.duration_s * 1e6)

    def _process(self, samples: np.ndarray, play_start_us: float, board: InterfaceBoard) -> None:
        processing: deque[tuple[float, bool]] = deque()  # (end time, detects) of frames being computed
        frame = 0
        for block in stream_blocks(samples, self.device.interpreter):
            detected = set(block.detections.tolist())
            for output in block.outputs[:, 0].tolist():
                completes_us = play_start_us + HOP_US * (frame + 1)
                while processing and processing[0][0] <= completes_us:
                    self._end_frame(*processing.popleft(), board)
                self.clock.advance_to(completes_us)
                board.duty_cycle(rising=True)
                if len(self.activations) < MAX_ACTIVATIONS:
                    self.activations.append(output)
                processing.append((completes_us + self.frame.frame_us, frame in detected))
                frame += 1
            board.playing()
        while processing:
            self._end_frame(*processing.popleft(), board)

    def _end_frame(self, at_us: float, detects: bool, board: InterfaceBoard) -> None:
        self.clock.advance_to(at_us)
        if detects:
            board.detection()
        board.duty_cycle(rising=False)


def activation_lines(values: list[int]) -> list[str]:
    """`[v, v, ...` 16 values a line, each line ending with a comma but the last, `v ]`."""
    if not values:
        return ["[]"]
    rows = [values[i : i + ACTIVATIONS_PER_LINE] for i in range(0, len(values), ACTIVATIONS_PER_LINE)]
    lines = [", ".join(str(v) for v in row) + "," for row in rows]
    lines[0] = "[" + lines[0]
    lines[-1] = lines[-1][:-1] + " ]"
    return lines


def firmware_for(device: EmulatedDevice) -> type[VirtualDut]:
    """The reference firmware the device runs: streaming for sww01, else the single-stream one."""
    return StreamingDut if BENCHMARKS[device.benchmark].streaming else VirtualDut
