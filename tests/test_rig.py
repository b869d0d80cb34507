"""The virtual rig's protocols against transcripts written by hand from their sources in mlcommons/tiny:
the enhanced interface board (`benchmark/interface/Application/CLI/InterfaceMenu.cpp`, `Menu.cpp`,
`Test/DeviceUnderTest.cpp`), the sww01 firmware listening to it (`sww_ref_util.c`, `specs/sww01.md` 5.2)
and the LPM01A as the runner drives and parses it (`benchmark/runner/power_manager/power_manager_lpm.py`,
`script.py`, `main.py`). Then the energy set-up in one process, read as the runner reads it."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import numpy as np
import pytest
from conftest import import_required
from test_dut import random_load, zoo_device

from tinyinterp.cli import main
from tinyinterp.rig.interface import InterfaceBoard, RigError
from tinyinterp.rig.launch import main as launch_main
from tinyinterp.rig.launch import rig_ports
from tinyinterp.rig.power import PowerMonitor, ascii_dec, ascii_dec_value
from tinyinterp.rig.rig import EnergyRig, RigPorts, devices_yaml
from tinyinterp.rig.streaming import StreamingDut, activation_lines
from tinyinterp.suite.dut import DeviceClock
from tinyinterp.suite.sww.run import FrameCost
from tinyinterp.suite.sww.stream import stream_blocks, stream_samples

# ---- Interface board -----------------------------------------------------------------------


class Board:
    """A board with a scripted DUT; `said` holds what the board wrote."""

    def __init__(self, dut_reply: list[str] | None = None, sd_card: Path | None = None) -> None:
        self.said = ""
        self.sent: list[str] = []
        self.clock = DeviceClock()
        self.board = InterfaceBoard(self.clock, self._write, self._dut, sd_card)
        self._reply = dut_reply or ["m-ready"]

    def _write(self, text: str) -> None:
        self.said += text

    def _dut(self, command: str) -> list[str]:
        self.sent.append(command)
        return self._reply

    def ask(self, text: str) -> str:
        self.said = ""
        self.board.feed(text.encode())
        return self.said


def test_board_passes_commands_to_the_dut_and_prefixes_its_reply() -> None:
    board = Board(["m-name-dut-[tinyinterp]", "m-ready"])
    assert board.ask("dut name%") == (
        "m-dut-passthrough(name)\r\nm-ready\r\n[dut]: m-name-dut-[tinyinterp]\r\n[dut]: m-ready\r\n"
    )
    assert board.sent == ["name"]


def test_board_menu_matches_by_prefix_and_answers_anything_else_with_ready() -> None:
    board = Board()
    assert board.ask("name%") == "tinyML Enhanced Interface Board\r\nm-ready\r\n"
    assert board.ask("bogus%") == "m-ready\r\n"
    assert board.ask("") == ""  # nothing until the %
    assert board.ask("dutx%") == ""  # a known prefix without a space: the firmware says nothing
    assert board.ask("checkbaud%") == "baud is: 115200\nm-ready\r\n"
    assert board.sent == []


def test_setbaud_sets_the_dut_link_whose_uart_time_the_clock_spends() -> None:
    board = Board(["m-ready"])
    assert board.ask("setbaud 9600%") == "set baud to: 9600\nm-ready\r\n"
    board.ask("dut db 00%")
    # "db 00%" out, "m-ready\r\n" back: 15 bytes of 10 bits at 9600 baud
    assert board.clock.now() == int(15 * 10 / 9600 * 1e6)


def test_detections_are_recorded_in_ms_without_repeats_within_10_ms() -> None:
    board = Board()
    board.clock.spend(5e6)  # the timer restarts at record_detections
    assert board.ask("record_detections%") == "Now recording detections\r\nm-ready\r\n"
    for at_ms in (120, 125, 130, 131, 2000):
        board.clock.spend(at_ms * 1000 - (board.clock.now() - 5_000_000))
        board.board.detection()
    assert (
        board.ask("print_detections%") == "Detection Timestamps (ms)\r\n120,\r\n131,\r\n2000,\r\nm-ready\r\n"
    )


def test_duty_cycle_edges_print_in_10_us_ticks_eight_to_a_line() -> None:
    board = Board()
    board.ask("record_detections%")
    for _ in range(9):
        board.board.duty_cycle(rising=True)
        board.clock.spend(50)
        board.board.duty_cycle(rising=False)
        board.clock.spend(32_000 - 50)
    starts = "".join(f"{3200 * i}, " for i in range(8))
    stops = "".join(f"{3200 * i + 5}, " for i in range(8))
    assert board.ask("print_dutycycle%") == (
        f"Duty cycle start times (s)\r\n{starts}\r\n25600, \r\n"
        f"Duty cycle stop times (s)\r\n{stops}\r\n25605, m-ready\r\n"
    )
    assert board.ask("record_detections%") and board.ask("print_dutycycle%") == (
        "Duty cycle start times (s)\r\n\r\nDuty cycle stop times (s)\r\nm-ready\r\n"
    )


def write_wav(path: Path, seconds: float, rate: int = 16000) -> None:
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(2)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(b"\0\0\0\0" * int(seconds * rate))


def test_play_hands_the_file_to_the_listener_or_spends_its_length(tmp_path: Path) -> None:
    write_wav(tmp_path / "ww.wav", 1.5)
    board = Board(sd_card=tmp_path)
    assert board.ask("ls%") == "ww.wav\r\nm-ready\r\n"
    assert board.ask("play ww.wav%") == "Attempting to play ww.wav\nsucceeded.\nm-ready\r\n"
    assert board.clock.now() == 1_500_000
    assert board.ask("play nope.wav%") == (
        "Attempting to play nope.wav\n"
        "Error playing file. Check that the file exists and is a 2-channel wav file.\nm-ready\r\n"
    )

    class Detector:
        def hear(self, wav: Path, interface: InterfaceBoard) -> None:
            interface.clock.spend(700_000)
            interface.detection()

    board.board.listener = Detector()
    board.ask("record_detections%")
    board.ask("play ww.wav%")
    assert board.ask("print_detections%") == "Detection Timestamps (ms)\r\n700,\r\nm-ready\r\n"


# ---- The streaming device (sww01) as the board's listener -----------------------------------


class ScriptedModel:
    """The sww01 model's interface with class-0 outputs given per frame (the rest of the stream: -128)."""

    def __init__(self, interpreter: object, class0: dict[int, int]) -> None:
        self.get_input_details = interpreter.get_input_details  # type: ignore[attr-defined]
        self.class0 = class0
        self.frames = 0

    def run(self, windows: np.ndarray) -> list[np.ndarray]:
        outputs = np.full((len(windows), 3), -128, np.int8)
        for row in range(len(windows)):
            outputs[row, 0] = self.class0.get(self.frames + row, -128)
        self.frames += len(windows)
        return [outputs]


def streaming_board(
    tmp_path: Path, frame_us: float, class0: dict[int, int]
) -> tuple[Board, StreamingDut, list[str]]:
    """A board whose listener is a started sww01 device with the given frame time and outputs; its SD card
    holds `ww.wav`: 5 blocks of 4096 bytes, so the device hears 8 chunks (the last block never reaches it)."""
    with wave.open(str(tmp_path / "ww.wav"), "wb") as audio:
        audio.setnchannels(2)
        audio.setsampwidth(2)
        audio.setframerate(16000)
        audio.writeframes(bytes(5 * 4096))
    board = Board(sd_card=tmp_path)
    said: list[str] = []
    device = zoo_device("sww01")
    device.interpreter = ScriptedModel(device.interpreter, class0)  # type: ignore[assignment]
    dut = StreamingDut(device, said.append, board.clock)
    dut.frame = FrameCost(frontend_us=2_000.0, model_us=frame_us - 2_000.0, power_mw=40.0)
    board.board.listener = dut
    return board, dut, said


@pytest.mark.parametrize(
    ("frame_us", "detections_ms", "stop_ticks_after_start"),
    [
        (10_000.0, "87,\r\n183,\r\n215,", 1000),  # frame k completes at 45 + 32 (k + 1) ms
        (40_000.0, "117,\r\n213,\r\n245,", 4000),  # longer than the hop: the next frame starts anyway
    ],
)
def test_listener_pulses_the_boards_pins_on_the_stream_schedule(
    tmp_path: Path, frame_us: float, detections_ms: str, stop_ticks_after_start: int
) -> None:
    board, dut, said = streaming_board(tmp_path, frame_us, {3: 120, 4: 116, 5: 115})  # above 115 detects
    dut.feed(b"start%")
    board.ask("record_detections%")
    assert board.ask("play ww.wav%") == "Attempting to play ww.wav\nsucceeded.\nm-ready\r\n"
    assert board.clock.now() == 45_000 + 320_000  # playback start, then 5 x 1024 frames at 16 kHz
    # frame 0 (the sync pulse), 3 and 4
    assert board.ask("print_detections%") == f"Detection Timestamps (ms)\r\n{detections_ms}\r\nm-ready\r\n"
    starts = [7700 + 3200 * k for k in range(8)]
    assert board.board.duty_starts == starts
    assert board.board.duty_stops == [start + stop_ticks_after_start for start in starts]
    said.clear()
    dut.feed(b"stop%")
    assert "".join(said) == (  # the performance firmware's timestamp is a line, as ST's v1.3 binaries print
        "m-lap-us-365000\r\nStreaming stopped.\r\ntarget activations: \r\n"
        "[-128, -128, -128, 120, 116, 115, -128, -128 ]\r\nm-ready\r\n"
    )


def test_streaming_firmware_start_and_stop(tmp_path: Path) -> None:
    board, dut, said = streaming_board(tmp_path, 10_000.0, {})
    dut.energy_mode = True
    dut.feed(b"stop%")
    assert said == ["I2S is already idle.  Ignoring stop request\r\n", "m-ready\r\n"]
    said.clear()
    board.clock.spend(1234)
    dut.feed(b"start%start%")
    assert "".join(said) == (
        "Listening for I2S data ... \r\nDMA receive initiated.\r\nm-ready\r\n"
        "I2S Rx currently in progress. Ignoring request\r\nm-ready\r\n"
    )
    assert dut.pulses == [1234]  # the energy window's start
    said.clear()
    dut.feed(b"stop%")
    assert dut.pulses == [1234, 1234]
    assert "".join(said) == "Streaming stopped.\r\ntarget activations: \r\n[]\r\nm-ready\r\n"


def test_a_device_not_started_hears_nothing(tmp_path: Path) -> None:
    board, dut, _ = streaming_board(tmp_path, 10_000.0, {})
    board.ask("record_detections%")
    board.ask("play ww.wav%")
    assert board.board.detections_ms == [] and board.board.duty_starts == [] and dut.activations == []
    assert board.clock.now() == 365_000


def test_the_board_refuses_a_wav_the_streaming_device_cannot_hear(tmp_path: Path) -> None:
    board, dut, _ = streaming_board(tmp_path, 10_000.0, {})
    with wave.open(str(tmp_path / "mono.wav"), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(16000)
        audio.writeframes(bytes(4096))
    dut.feed(b"start%")
    assert board.ask("play mono.wav%") == (
        "Attempting to play mono.wav\n"
        "Error playing file. Check that the file exists and is a 2-channel wav file.\nm-ready\r\n"
    )
    assert dut.activations == []


def test_activations_print_16_to_a_line() -> None:
    values = list(range(-8, 10))
    assert activation_lines(values) == [
        "[-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7,",
        "8, 9 ]",
    ]


def test_a_stream_in_blocks_equals_it_whole() -> None:
    """The rig streams a long wav block by block: each block picks up the pre-emphasis, the last frame's
    samples and the model window where the previous one stopped."""
    device = zoo_device("sww01")
    samples = np.random.default_rng(5).integers(-3000, 3000, 40 * 512).astype(np.int16)
    whole = stream_samples(samples, device.interpreter)
    for block_frames in (1, 2, 7):
        blocks = list(stream_blocks(samples, device.interpreter, block_frames=block_frames))
        assert len(blocks) == -(-40 // block_frames)
        for name in ("features", "outputs", "detections"):
            joined = np.concatenate([getattr(block, name) for block in blocks])
            np.testing.assert_array_equal(joined, getattr(whole, name))


def test_energy_rig_sets_the_streaming_device_as_the_boards_listener_while_powered() -> None:
    rig = EnergyRig(zoo_device("sww01"), lambda _: None, lambda _: None)
    assert rig.board.listener is None
    rig.feed_monitor(b"pwr on\r\n")
    assert rig.link is not None and isinstance(rig.link.dut, StreamingDut)
    assert rig.board.listener is rig.link.dut
    rig.feed_monitor(b"pwr off\r\n")
    assert rig.board.listener is None


def test_energy_rig_lets_the_monitor_keep_up_while_the_board_plays(tmp_path: Path) -> None:
    """Samples are written (and drained to the host) as the audio plays, not piled up until it ends."""
    streaming_board(tmp_path, 10_000.0, {})  # writes ww.wav
    monitor_text: list[str] = []
    drained_at: list[int] = []  # samples written when the rig drained the monitor
    rig = EnergyRig(
        zoo_device("sww01"),
        lambda _: None,
        monitor_text.append,
        tmp_path,
        lambda: drained_at.append(sum(bool(SAMPLE_RE.fullmatch(t.strip())) for t in monitor_text)),
    )
    for command in RUNNER_SETUP:
        rig.feed_monitor(command.encode() + b"\r\n")
    rig.feed_board(b"dut start%")
    rig.feed_board(b"record_detections%")
    started_ms = rig.clock.now() // 1000
    rig.feed_board(b"play ww.wav%")
    # one block of frames: drained after its last frame, 45 + 8 x 32 ms and a frame time after `play`
    assert len(drained_at) == 1
    assert drained_at[0] >= started_ms + 45 + 8 * 32


# ---- Power monitor -------------------------------------------------------------------------

# LPMCommands.setup(), then configure_voltage from the devices file, power_on(), start().
RUNNER_SETUP = [
    "htc",
    'lcd 1 "MLPerf Tiny"',
    'lcd 2 "     monitor    "',
    "pwr off",
    "acqtime inf",
    "trigdelay 0",
    "trigsrc sw",
    "eventsrc d7 fal",
    "output energy",
    "format ascii_dec",
    "freq 1k",
    "volt 3300m",
    'lcd 2 "           3.3V "',
    "pwr on nostatus",
    "start",
]
SAMPLE_RE = re.compile(r"\d{4}[+-]\d{2}")  # the runner's read_loop
TIMESTAMP_RE = re.compile(r"^TimeStamp:[ ><]([0-9]{3})s ([0-9]{3})ms, buff [0-9]{2}%$")  # script.py
EVENT_RE = re.compile(r"event (\d+) ris")


class Monitor:
    def __init__(self, watts: float) -> None:
        self.lines: list[str] = []
        self.power: list[bool] = []
        self.monitor = PowerMonitor(self._write, watts, self.power.append)
        self._text = ""

    def _write(self, text: str) -> None:
        self._text += text
        *done, self._text = self._text.split("\r\n")
        self.lines += done

    def send(self, command: str) -> list[str]:
        start = len(self.lines)
        self.monitor.feed(command.encode() + b"\r\n")
        return self.lines[start:]


def test_monitor_acknowledges_the_runners_set_up_and_powers_the_device() -> None:
    monitor = Monitor(0.04)
    for command in RUNNER_SETUP:
        assert monitor.send(command) == [f"PowerShield > ack {command}"]
    assert monitor.power == [True]
    assert monitor.send("volt 5000m") == [
        "PowerShield > error volt 5000m",
        "PowerShield > Error detail: voltage must be 1800m..3300m, got '5000m'",
    ]
    assert monitor.send("dance") == [
        "PowerShield > error dance",
        "PowerShield > Error detail: unknown command 'dance'",
    ]


def test_monitor_streams_energy_samples_timestamps_and_pulses_in_time_order() -> None:
    monitor = Monitor(0.04)  # 40 mW: 40 uJ per 1 ms sample
    for command in RUNNER_SETUP:
        monitor.send(command)
    monitor.monitor.advance(2500)
    monitor.monitor.pulse(2500)
    monitor.monitor.advance(1_000_400)
    lines = monitor.lines[len(RUNNER_SETUP) :]
    assert lines[:3] == ["4000-08", "4000-08", "event 1 ris"]
    assert lines[1000:] == ["4000-08", "TimeStamp: 001s 000ms, buff 00%"]
    assert all(SAMPLE_RE.match(line) for line in lines[3:1000])
    assert TIMESTAMP_RE.match(lines[-1]) and EVENT_RE.match(lines[2])
    assert monitor.send("stop") == ["PowerShield > ack stop", "Acquisition completed, 1000 samples"]
    monitor.monitor.advance(5_000_000)
    assert monitor.lines[-1] == "Acquisition completed, 1000 samples"  # no samples after stop


def test_a_switched_off_device_draws_nothing() -> None:
    monitor = Monitor(0.04)
    for command in [*RUNNER_SETUP[:-3], "start"]:  # never powered on
        monitor.send(command)
    monitor.monitor.advance(3000)
    assert monitor.lines[-3:] == ["0000+00"] * 3


@pytest.mark.parametrize("value", [4e-5, 1.23456e-5, 9.99951e-4, 3.3e-9, 0.5])
def test_ascii_dec_keeps_four_digits(value: float) -> None:
    text = ascii_dec(value)
    assert re.fullmatch(r"\d{4}[+-]\d{2}", text) and text[0] != "0"
    assert ascii_dec_value(text) == pytest.approx(value, rel=5e-4)


def test_printed_samples_sum_to_the_true_energy() -> None:
    watts = 0.0123456789  # not representable in 4 digits per sample
    monitor = Monitor(watts)
    for command in RUNNER_SETUP:
        monitor.send(command)
    monitor.monitor.advance(5_000_000)
    samples = [ascii_dec_value(line) for line in monitor.lines if SAMPLE_RE.fullmatch(line)]
    assert len(samples) == 5000
    assert sum(samples) == pytest.approx(watts * 5.0, rel=1e-7)


# ---- The energy set-up, as the runner reads it ----------------------------------------------


def runner_energy(samples_and_events: list[str], iterations: int) -> tuple[float, float]:
    """Energy per inference (uJ) and elapsed time (s) as `_gather_power_results` and
    `print_energy_results` compute them: the samples between the last two events."""
    samples: list[float] = []
    events: list[int] = []
    for line in samples_and_events:
        if SAMPLE_RE.match(line):
            samples.append(ascii_dec_value(line))
        elif EVENT_RE.match(line):
            events.append(len(samples))
    start, stop = events[-2:]
    return sum(samples[start:stop]) * 1e6 / iterations, (stop - start) / 1000


def test_energy_rig_measures_the_cost_models_energy_between_the_pulses() -> None:
    device = zoo_device("kws01")
    said = {"board": "", "monitor": ""}

    def writer(key: str):
        return lambda text: said.__setitem__(key, said[key] + text)

    rig = EnergyRig(device, writer("board"), writer("monitor"))
    rig.feed_board(b"dut name%")
    assert "[dut]: e-[the device has no power" in said["board"]
    for command in RUNNER_SETUP:
        rig.feed_monitor(command.encode() + b"\r\n")
    said["board"] = ""
    rig.feed_board(b"setbaud 9600%")
    load = random_load(device, 3)
    rig.feed_board(f"dut db load {len(load)}%".encode())
    for start in range(0, len(load), 26):  # the runner's chunk behind a power manager
        rig.feed_board(f"dut db {load[start : start + 26].hex()}%".encode())
    rig.feed_board(b"dut infer 70 10%")
    replies = said["board"].split("\r\n")
    assert "[dut]: m-load-done" in replies and "[dut]: m-infer-done" in replies
    assert not any(line.startswith("[dut]: e-[") for line in replies)
    energy_uj, seconds = runner_energy(said["monitor"].split("\r\n"), 70)
    assert seconds == pytest.approx(70 * device.cost.latency_us / 1e6, abs=1e-3)
    assert energy_uj == pytest.approx(device.cost.energy_uj, rel=1e-3 / (70 * device.cost.latency_us / 1e6))


def test_devices_file_lists_the_ports_and_the_duts_bauds() -> None:
    text = devices_yaml(RigPorts("/dev/pts/7", "/dev/pts/8", None), "tinyinterp-nucleo-l4r5zi", 9600)
    assert "- name: stm32h573i-dk\n  type: interface\n" in text and "  port: /dev/pts/7\n" in text
    assert "- name: lpm01a\n  type: power\n" in text and "  port: /dev/pts/8\n" in text
    assert (
        "  baud: {energy: 9600, performance: 115200, accuracy: 115200}\n  usb:\n    0x0483: 0x374B\n" in text
    )
    assert text.count("port:") == 2


def test_cli_refuses_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["rig", "--benchmark", "kws01", "--mode", "energy", "--model", "zoo:kws"]
    assert main([*base, "--dut-baud", "0"]) == 2
    assert "--dut-baud 0: a baud rate is a positive number" in capsys.readouterr().err
    assert main([*base, "--sd-card", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([*base, "--devices-file", str(tmp_path / "no" / "devices.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([*base, "--realtime"]) == 2
    assert "--realtime: the energy set-up needs no pacing" in capsys.readouterr().err
    performance = ["rig", "--benchmark", "kws01", "--mode", "performance", "--model", "zoo:kws"]
    assert main([*performance, "--dut-baud", "9600"]) == 2
    assert "--dut-baud: only the energy set-up has the device behind" in capsys.readouterr().err
    assert main([*performance, "--sd-card", str(tmp_path)]) == 2
    assert "--sd-card: only the energy set-up and sww01 have an interface board" in capsys.readouterr().err
    streaming = ["rig", "--benchmark", "sww01", "--model", "zoo:sww"]
    assert main([*streaming, "--mode", "accuracy"]) == 2
    assert "--mode accuracy: the runner scores sww01 in its performance and energy modes" in (
        capsys.readouterr().err
    )
    assert main([*streaming, "--mode", "performance", "--realtime"]) == 2
    assert "--realtime: sww01 needs no pacing" in capsys.readouterr().err


def test_launcher_lists_the_rigs_ports_with_their_usb_ids(tmp_path: Path) -> None:
    import_required("serial")
    import_required("yaml")
    devices = tmp_path / "devices.yaml"
    devices.write_text(devices_yaml(RigPorts("/dev/pts/7", "/dev/pts/8", None), "dut", 9600))
    ports = rig_ports(devices)
    assert [(p.device, p.vid, p.pid) for p in ports] == [
        ("/dev/pts/7", 0x0483, 0x374E),
        ("/dev/pts/8", 0x0483, 0x5740),
    ]
    devices.write_text("- name: x\n  port: /dev/pts/1\n")
    with pytest.raises(RigError, match="device 'x' has a port but no usb ids"):
        rig_ports(devices)
    devices.write_text("{unclosed")
    with pytest.raises(RigError, match="not YAML"):
        rig_ports(devices)
    assert launch_main([str(tmp_path), str(devices)]) == 2  # no runner there
