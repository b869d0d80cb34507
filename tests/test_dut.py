"""The virtual DUT in-process: the protocol as the runner uses it, errors, garbage, the device clock."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyinterp.errors import ModelError
from tinyinterp.model import ModelBuilder, load_model
from tinyinterp.model.ir import Model
from tinyinterp.suite.device import DeviceCost, EmulatedDevice, Quant, device_cost
from tinyinterp.suite.dut import DeviceClock, VirtualDut, atoi, printable
from tinyinterp.suite.host import Host, LocalLink, ProtocolError, connect
from tinyinterp.suite.protocol import LAP_RE, MAX_COMMAND, READY, RESULTS_RE
from tinyinterp.zoo import stand_in


@functools.cache
def zoo_device(benchmark: str) -> EmulatedDevice:
    """The benchmark's firmware around its zoo stand-in, on the reference board."""
    model = stand_in(benchmark)
    return EmulatedDevice(
        benchmark, model, device_cost(model, "nucleo-l4r5zi", None, None, "tflm-cmsisnn"), "zoo"
    )


def random_load(device: EmulatedDevice, seed: int) -> bytes:
    """A valid load: random bytes, or for ad01 float32 values in the input's range."""
    rng = np.random.default_rng(seed)
    if device.benchmark == "ad01":
        return rng.uniform(-20, 60, device.load_bytes // 4).astype("<f4").tobytes()
    return rng.integers(0, 256, device.load_bytes, dtype=np.uint8).tobytes()


def clean_session_line(device: EmulatedDevice, load: bytes) -> str:
    """The results line of a freshly booted device given only `load`: what a device that was sent errors or
    garbage before must still print. (The printed values themselves are pinned by the transcripts below.)"""
    link = LocalLink(device)
    Host(link.send).load(load)
    return next(line for line in link.send("infer 1 0") if RESULTS_RE.match(line))


# A round device time and energy chosen for the transcripts, so that every timestamp is derived by hand.
HAND_COST = DeviceCost(
    "nucleo-l4r5zi", "cortex-m4", 120.0, "tflm-cmsisnn", latency_us=250_000.0, energy_uj=5_000.0
)
REFERENCE_FILES = {
    "kws01": "kws_ref_model.tflite",
    "vww01": "vww_96_int8.tflite",
    "ic01": "pretrainedResnet_quant.tflite",
    "ad01": "ad01_int8.tflite",
}
# What the reference firmware prints for the first stimuli of each dataset: TFLM's int8 outputs for those
# files (golden/golden.npz; every model's output scale is 1/256, its zero point -128) dequantized by hand,
# (q + 128) / 256, and printed as th_results does: kws01 truncates to 3 digits (0.%d%d%d: 254/256 =
# 0.9921875 prints 0.992, 2/256 = 0.0078125 prints 0.007, 1/256 prints 0.003), ic01 and vww01 print %0.3f,
# vww01 with a comma after each value.
HAND_PAYLOADS = {
    ("kws01", "tst_000000_Stop_7.bin"): (
        "0.000,0.000,0.000,0.000,0.000,0.000,0.000,0.996,0.000,0.000,0.000,0.000"
    ),
    ("kws01", "tst_000001_Left_2.bin"): (
        "0.000,0.000,0.992,0.000,0.000,0.000,0.000,0.000,0.000,0.000,0.000,0.007"
    ),
    ("kws01", "tst_000002_Right_6.bin"): (
        "0.000,0.000,0.000,0.000,0.000,0.000,0.996,0.000,0.000,0.000,0.000,0.000"
    ),
    ("kws01", "tst_000003_Up_8.bin"): (
        "0.000,0.000,0.000,0.000,0.003,0.000,0.000,0.000,0.996,0.000,0.000,0.000"
    ),
    ("kws01", "tst_000004_On_5.bin"): (
        "0.000,0.000,0.000,0.000,0.000,0.996,0.000,0.000,0.000,0.000,0.000,0.000"
    ),
    ("vww01", "000000343218.bin"): "0.023,0.977,",  # int8 -122, 122
    ("ic01", "lippizaner_s_000613.bin"): "0.000,0.000,0.000,0.000,0.000,0.000,0.000,0.996,0.000,0.000",
}


def reference_device(data_dir: Path, benchmark: str) -> EmulatedDevice:
    model = load_model(data_dir / "models" / REFERENCE_FILES[benchmark])
    return EmulatedDevice(benchmark, model, HAND_COST, REFERENCE_FILES[benchmark])


def test_reference_firmware_transcript(data_dir: Path) -> None:
    """A whole kws01 session, written by hand: boot banner, name, profile, the runner's 31-byte loads,
    `infer 1` with the firmware's default of 10 warm-ups, `results`, `timestamp`, an error."""
    link = LocalLink(reference_device(data_dir, "kws01"))
    assert link.take() == ["m-timestamp-mode-performance", "m-lap-us-0", "m-init-done", "m-ready"]
    assert link.send("name") == ["m-name-dut-[tinyinterp]", "m-ready"]
    assert link.send("profile") == [
        "m-profile-[ULPMark for tinyML Firmware V0.0.1]",
        "m-model-[kws01]",
        "m-ready",
    ]
    stimulus = (data_dir / "datasets" / "kws01" / "tst_000001_Left_2.bin").read_bytes()
    assert link.send("db load 490") == ["m-[Expecting 490 bytes]", "m-ready"]
    for start in range(0, 465, 31):  # 15 chunks of 31 bytes, then the last 25
        assert link.send("db " + stimulus[start : start + 31].hex()) == ["m-ready"]
    assert link.send("db " + stimulus[465:].hex()) == ["m-load-done", "m-ready"]
    results = "m-results-[" + HAND_PAYLOADS["kws01", "tst_000001_Left_2.bin"] + "]"
    # 10 warm-ups of 250 ms end at 2.5 s; one timed inference ends at 2.75 s.
    assert link.send("infer 1") == [
        "m-warmup-start-10",
        "m-warmup-done",
        "m-infer-start-1",
        "m-lap-us-2500000",
        "m-lap-us-2750000",
        "m-infer-done",
        results,
        "m-ready",
    ]
    assert link.send("results") == [results, "m-ready"]
    assert link.send("infer 4 2") == [
        "m-warmup-start-2",
        "m-warmup-done",
        "m-infer-start-4",
        "m-lap-us-3250000",
        "m-lap-us-4250000",
        "m-infer-done",
        results,
        "m-ready",
    ]
    assert link.send("timestamp") == ["m-lap-us-4250000", "m-ready"]
    assert link.send("infer 0") == ["e-[Inference iterations must be >0]", "m-ready"]


@pytest.mark.parametrize(("benchmark_name", "file"), sorted(HAND_PAYLOADS))
def test_reference_results_lines(benchmark_name: str, file: str, data_dir: Path) -> None:
    link = LocalLink(reference_device(data_dir, benchmark_name))
    Host(link.send).load((data_dir / "datasets" / benchmark_name / file).read_bytes())
    assert link.send("infer 1 0")[-2:] == [f"m-results-[{HAND_PAYLOADS[benchmark_name, file]}]", "m-ready"]


def test_energy_mode_transcript(data_dir: Path) -> None:
    """Energy mode: no m-lap-us lines; the timestamps are pulses at the hand-derived device times."""
    link = LocalLink(reference_device(data_dir, "kws01"), energy_mode=True)
    assert link.take() == ["m-timestamp-mode-energy", "m-init-done", "m-ready"]
    Host(link.send).load((data_dir / "datasets" / "kws01" / "tst_000000_Stop_7.bin").read_bytes())
    assert link.send("infer 2 1") == [
        "m-warmup-start-1",
        "m-warmup-done",
        "m-infer-start-2",
        "m-infer-done",
        "m-results-[" + HAND_PAYLOADS["kws01", "tst_000000_Stop_7.bin"] + "]",
        "m-ready",
    ]
    assert link.dut.pulses == [0, 250_000, 750_000]  # boot, then around the timed loop


@pytest.mark.parametrize("benchmark_name", ["ic01", "kws01", "vww01", "ad01"])
def test_a_runner_session(benchmark_name: str) -> None:
    device = zoo_device(benchmark_name)
    link = LocalLink(device)
    assert link.take()[-1] == READY
    assert link.send("name") == ["m-name-dut-[tinyinterp]", READY]
    assert link.send("profile") == [
        "m-profile-[ULPMark for tinyML Firmware V0.0.1]",
        f"m-model-[{benchmark_name}]",
        READY,
    ]
    host = Host(link.send)
    load = random_load(device, 1)
    host.load(load)
    lines = link.send("infer 3 2")
    assert lines[:3] == ["m-warmup-start-2", "m-warmup-done", "m-infer-start-3"]
    laps = [int(m.group(1)) for m in map(LAP_RE.match, lines) if m]
    assert laps[1] - laps[0] == pytest.approx(3 * device.cost.latency_us, abs=1)
    assert lines[-3:-1] == ["m-infer-done", clean_session_line(device, load)]
    assert link.send("results") == [lines[-2], READY]


def test_db_print_shows_the_loaded_bytes() -> None:
    link = LocalLink(zoo_device("kws01"))
    link.send("db load 10")
    link.send("db 00112233445566778899")
    assert link.send("db print") == ["m-buffer-00-11-22-33-44-55-66-77", "m-buffer-88-99", READY]


@pytest.mark.parametrize(
    ("command", "error"),
    [
        ("bogus", "e-[Unknown command: bogus]"),
        ("db", "e-[Command 'db' requires a subcommand]"),
        ("db load", "e-[Command 'db load' requires the # of bytes]"),
        ("db load 0", "e-[Command 'db load' must be >0 bytes]"),
        ("db load -5", "e-[Command 'db load' must be >0 bytes]"),
        ("db load 491", "e-[Supplied buffer size 491 exceeds maximum of 490]"),
        ("db 123", "e-[Insufficent number of hex digits]"),
        ("db 12zz", "e-[Invalid hex digit 'zz']"),
        ("db 1234", "e-[No bytes expected: send 'db load N' first]"),
        ("infer 0", "e-[Inference iterations must be >0]"),
        ("infer 1 -1", "e-[Inference warmup must be >=0]"),
        ("infer 1 0", "e-[Input db has 0 bytes, expected 490]"),
        ("results", "e-[No results yet: run 'infer' first]"),
        ("x" * (MAX_COMMAND + 1), f"e-[Command longer than {MAX_COMMAND} characters: {'x' * 16}...]"),
    ],
)
def test_errors_are_reported_and_the_device_stays_usable(command: str, error: str) -> None:
    device = zoo_device("kws01")
    link = LocalLink(device)
    link.take()
    assert link.send(command) == [error, READY]
    load = random_load(device, 2)
    Host(link.send).load(load)
    assert clean_session_line(device, load) in link.send("infer 1 0")


@pytest.mark.parametrize(
    ("text", "value"),
    [("12", 12), ("-7abc", -7), ("abc", 0), ("", 0), ("99999999999", 2**31 - 1), ("-99999999999", -(2**31))],
)
def test_atoi_reads_as_the_firmwares_c_atoi(text: str, value: int) -> None:
    """C's atoi: the leading integer, 0 without one; clamped to int32 where C would overflow."""
    assert atoi(text) == value


def test_a_one_byte_load_and_digits_beyond_the_announced_size() -> None:
    """`db load 1` is a valid size; digits sent past the announced size are dropped (the firmware's rule),
    also when they arrive in a later `db` command than the first byte."""
    link = LocalLink(zoo_device("kws01"))
    link.take()
    assert link.send("db load 1") == ["m-[Expecting 1 bytes]", READY]
    assert link.send("db 7f80") == ["m-load-done", READY]
    assert link.send("db print") == ["m-buffer-7f", READY]
    assert link.send("db load 3") == ["m-[Expecting 3 bytes]", READY]
    assert link.send("db 01") == [READY]
    assert link.send("db 020304") == ["m-load-done", READY]
    assert link.send("db print") == ["m-buffer-01-02-03", READY]


def test_infer_without_a_count_runs_one_inference_after_the_default_warmups() -> None:
    device = zoo_device("kws01")
    link = LocalLink(device)
    Host(link.send).load(random_load(device, 5))
    reply = link.send("infer")
    assert reply[:3] == ["m-warmup-start-10", "m-warmup-done", "m-infer-start-1"]


def test_a_command_split_across_reads_is_one_command() -> None:
    """Serial and TCP deliver the host's bytes in pieces: the DUT joins them up to each `%`, wherever the cut
    falls (before the `%`, inside a word); a command of exactly MAX_COMMAND characters is kept whole, and one
    longer is refused even when its `%` comes in a later piece."""
    written: list[str] = []
    dut = VirtualDut(zoo_device("kws01"), written.append)
    for piece in (b"na", b"me", b"%pro", b"file%", b"x" * MAX_COMMAND, b"%"):
        dut.feed(piece)
    long_command = [b"y" * (MAX_COMMAND - 1), b"yy", b"%"]
    for piece in long_command:
        dut.feed(piece)
    replies = "".join(written).split("\r\n")
    link = LocalLink(zoo_device("kws01"))  # the same replies, the commands sent whole
    link.take()
    name, profile = link.send("name"), link.send("profile")
    assert replies[:-1] == [
        *name, *profile, f"e-[Unknown command: {'x' * MAX_COMMAND}]", READY,
        f"e-[Command longer than {MAX_COMMAND} characters: {'y' * 16}...]", READY,
    ]  # fmt: skip


def test_help_lists_the_firmwares_commands() -> None:
    """The reference firmware's `help` reply (ee_serial_command_parser_callback), written out by hand; its
    empty second line is not a line for the host (LocalLink, as the runner, skips empty lines)."""
    link = LocalLink(zoo_device("kws01"))
    link.take()
    assert link.send("help") == [
        "ULPMark for tinyML Firmware V0.0.1",
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
        READY,
    ]


def test_host_raises_on_device_errors() -> None:
    with pytest.raises(ProtocolError, match="Unknown command"):
        Host(LocalLink(zoo_device("kws01")).send).command("nope")


COMMANDS = [b"name", b"profile", b"timestamp", b"help", b"results", b"db", b"db load", b"db print", b"infer"]
fragments = st.one_of(
    st.binary(max_size=120),
    st.sampled_from([*COMMANDS, b"%", b" ", b"\r\n", b"\x00", b"\xff", b"x" * 100]),
    st.builds(lambda n: b"db load %d" % n, st.integers(-(10**12), 10**12)),
    st.builds(
        lambda n, w: b"infer %d %d" % (n, w), st.integers(-(10**12), 10**12), st.integers(-(10**12), 10**12)
    ),
    st.text("0123456789abcdefABCDEFxyz -+", max_size=100).map(lambda t: b"db " + t.encode()),
)


@given(st.lists(fragments, max_size=25).map(b"".join))
def test_garbage_always_gets_answers_and_leaves_the_device_usable(garbage: bytes) -> None:
    device = zoo_device("ad01")
    link = LocalLink(device)
    link.take()
    link.dut.feed(garbage)
    lines = link.take()
    assert lines.count(READY) == garbage.count(b"%")  # one answer per command, whatever it was
    assert all(len(line) <= 2 * MAX_COMMAND and line.isprintable() and line.isascii() for line in lines)
    assert not any("Internal error" in line for line in lines)
    assert link.send("")[-1] == READY  # ends any partial command, as the runner's reset does
    load = random_load(device, 3)
    Host(link.send).load(load)
    assert clean_session_line(device, load) in link.send("infer 1 0")


def test_huge_iteration_counts_advance_the_clock_without_computing_them() -> None:
    device = zoo_device("ad01")
    host = Host(LocalLink(device).send)
    host.load(random_load(device, 4))
    start = time.monotonic()
    reply = host.infer(2**31 - 1, 0)
    assert time.monotonic() - start < 5
    assert reply.end_us - reply.start_us == pytest.approx((2**31 - 1) * device.cost.latency_us, rel=1e-9)


def test_timestamps_are_monotonic_device_time() -> None:
    device = zoo_device("kws01")
    link = LocalLink(device)
    host = Host(link.send)
    host.load(random_load(device, 5))
    stamps = []
    for command in ["timestamp", "infer 2 1", "timestamp", "name", "timestamp", "infer 1 0"]:
        stamps += [int(m.group(1)) for m in map(LAP_RE.match, link.send(command)) if m]
    assert stamps == sorted(stamps)
    assert stamps[2] - stamps[0] == pytest.approx(3 * device.cost.latency_us, abs=1)


def test_energy_mode_timestamps_are_pulses() -> None:
    device = zoo_device("kws01")
    link = LocalLink(device, energy_mode=True)
    assert link.take()[0] == "m-timestamp-mode-energy"
    Host(link.send).load(random_load(device, 6))
    lines = link.send("infer 5 0")
    assert not any(LAP_RE.match(line) for line in lines) and any(RESULTS_RE.match(line) for line in lines)
    start, end = link.dut.pulses[-2:]
    assert end - start == pytest.approx(5 * device.cost.latency_us, abs=1)


def test_an_unexpected_error_is_answered_and_the_dut_goes_on() -> None:
    """Whatever a handler raises, the device answers `e-[Internal error: ...]` (printable, at most MAX_COMMAND
    characters) and `m-ready`, and takes the next command."""
    link = LocalLink(zoo_device("kws01"))

    def failing(args: list[str]) -> None:
        raise RuntimeError("caf\xe9 " + "x" * 200)

    link.dut._handlers["name"] = failing
    link.take()  # the boot banner
    assert link.send("name") == [f"e-[Internal error: {('caf? ' + 'x' * 200)[:MAX_COMMAND]}]", READY]
    assert link.send("profile")[-1] == READY


def test_realtime_clock_paces_work_and_counts_idle_time() -> None:
    clock = DeviceClock(realtime=True)
    start_wall = time.monotonic()
    clock.spend(60_000)
    assert time.monotonic() - start_wall >= 0.06
    assert clock.now() == 60_000  # work takes exactly its emulated time
    time.sleep(0.03)
    clock.idle()
    # at least the work and the sleep, at most everything since the work began
    assert 90_000 <= clock.now() <= 60_000 + (time.monotonic() - start_wall) * 1e6


def test_advancing_the_clock_spends_only_the_time_not_yet_passed() -> None:
    clock = DeviceClock()
    clock.advance_to(1000.7)
    assert clock.now() == 1000
    clock.advance_to(2500.0)  # 1,499.3 us more, landing exactly on 2,500
    assert clock.now() == 2500
    clock.advance_to(400.0)  # already passed: nothing
    assert clock.now() == 2500
    # Realtime: a time already reached spends nothing, so the wall-clock time since the last work stays idle.
    clock = DeviceClock(realtime=True)
    time.sleep(0.03)
    clock.advance_to(0.0)
    clock.idle()
    assert clock.now() >= 30_000
    # Realtime work is paced: from 200,000 us, advancing to 210,000 takes 10 ms of wall-clock time.
    clock = DeviceClock(realtime=True)
    clock.spend(200_000)
    start_wall = time.monotonic()
    clock.advance_to(210_000)
    assert 0.01 <= time.monotonic() - start_wall < 0.3  # not the 410 ms of a sum (loaded machines: margin)
    assert clock.now() == 210_000


def test_unprintable_characters_are_shown_as_question_marks() -> None:
    assert printable(" a~\x7f\x1f\u00e9") == " a~???"


@pytest.mark.parametrize(
    "reply",
    [
        # Transcripts written by hand: a results line twice, one lap only, no results line.
        ["m-lap-us-0", "m-lap-us-10", "m-results-[0.500]", "m-results-[0.500]", "m-ready"],
        ["m-lap-us-0", "m-results-[0.500]", "m-ready"],
        ["m-lap-us-0", "m-lap-us-10", "m-ready"],
    ],
)
def test_host_refuses_an_infer_reply_the_protocol_does_not_allow(reply: list[str]) -> None:
    with pytest.raises(ProtocolError) as refused:
        Host(lambda command: reply).infer(1, 0)
    assert str(refused.value) == f"unexpected reply to infer: {reply}"


def test_connect_reads_the_banner_of_a_performance_mode_device_on_the_clock_given(data_dir: Path) -> None:
    """By hand: the clock given stands at 1 s; one inference of 250 ms after none warm-up."""
    clock = DeviceClock()
    clock.spend(1_000_000)
    host, dut = connect(reference_device(data_dir, "kws01"), clock)
    host.load((data_dir / "datasets" / "kws01" / "tst_000000_Stop_7.bin").read_bytes())
    reply = host.infer(1, 0)
    assert (reply.start_us, reply.end_us, dut.pulses) == (1_000_000, 1_250_000, [])
    assert reply.payload == HAND_PAYLOADS["kws01", "tst_000000_Stop_7.bin"]


def test_host_reads_the_model_name_from_the_profile_reply() -> None:
    """Replies written by hand: the name inside m-model-[...], else a ProtocolError naming what is missing."""
    sent: list[str] = []

    def profile(*lines: str) -> Host:
        return Host(lambda command: sent.append(command) or [*lines, READY])

    assert profile("m-profile-[ULPMark for tinyML Firmware V0.0.1]", "m-model-[kws01]").model() == "kws01"
    assert sent == ["profile"]
    for reply in (["m-profile-[ULPMark]"], ["m-model-[kws01"], ["model-[kws01]"]):
        with pytest.raises(ProtocolError) as refused:
            profile(*reply).model()
        assert str(refused.value) == "the DUT's profile reply has no m-model-[...] line"


@pytest.mark.parametrize("data", [b"", b"\x01\x02\x03"])
def test_host_refuses_a_load_the_dut_does_not_confirm(data: bytes) -> None:
    """A DUT that answers every command with m-ready alone (no m-load-done), even to an empty load."""
    with pytest.raises(ProtocolError) as refused:
        Host(lambda command: [READY]).load(data)
    assert str(refused.value) == f"the DUT did not confirm the load of {len(data)} bytes"


def relu_model(inputs: list[tuple[tuple[int, ...], str]], output: tuple[tuple[int, ...], str]) -> Model:
    """RELU of the first input (any other unused); int8 tensors are quantized by scale 0.5, zero point -3."""
    b = ModelBuilder()
    quant = {"scale": 0.5, "zero_point": -3}
    xs = [b.input(f"x{k}", shape, dtype, **quant) for k, (shape, dtype) in enumerate(inputs)]
    y = b.tensor("y", output[0], output[1], **quant)
    b.op("RELU", xs[:1], [y])
    b.output(y)
    return b.build()


def test_the_firmware_reads_its_one_int8_input_and_output() -> None:
    device = EmulatedDevice("kws01", relu_model([((1, 4), "int8")], ((1, 4), "int8")), HAND_COST, "m")
    assert (device.input_shape, device.input_quant, device.output_quant) == (
        (1, 4),
        Quant(0.5, -3),
        Quant(0.5, -3),
    )


@pytest.mark.parametrize(
    ("firmware", "inputs", "output", "message"),
    [
        (
            "foo01",
            [((1, 4), "int8")],
            ((1, 4), "int8"),
            "no MLPerf Tiny firmware for 'foo01'; choose one of kws01, vww01, ic01, ad01, sww01",
        ),
        (
            "kws01",
            [((1, 4), "int8"), ((1, 4), "int8")],
            ((1, 4), "int8"),
            "m: the MLPerf Tiny harness needs one int8 input tensor; the model has 2 inputs of types "
            "['int8', 'int8']",
        ),
        (
            "kws01",
            [((1, 4), "int8")],
            ((1, 4), "float32"),
            "m: the MLPerf Tiny harness needs one int8 output tensor; the model has 1 outputs of types "
            "['float32']",
        ),
        (
            "ad01",
            [((1, 4), "int8")],
            ((1, 2), "int8"),
            "m: ad01 compares output with input, but their shapes (1, 2), (1, 4) differ",
        ),
    ],
)
def test_a_model_the_firmware_cannot_run_is_named_word_for_word(
    firmware: str,
    inputs: list[tuple[tuple[int, ...], str]],
    output: tuple[tuple[int, ...], str],
    message: str,
) -> None:
    with pytest.raises(ModelError) as error:
        EmulatedDevice(firmware, relu_model(inputs, output), HAND_COST, "m")
    assert str(error.value) == message


def test_the_device_cost_is_estimated_for_the_stack_asked_for() -> None:
    """Not the cost model's default stack (tflm-cmsisnn): the one named."""
    cost = device_cost(
        relu_model([((1, 4), "int8")], ((1, 4), "int8")), "nucleo-l4r5zi", None, None, "tflm-reference"
    )
    assert (cost.board, cost.stack) == ("nucleo-l4r5zi", "tflm-reference")
