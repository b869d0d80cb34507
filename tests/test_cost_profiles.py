"""Core, board and stack profiles: the shipped files load, user files are validated with named errors."""

from __future__ import annotations

import csv
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tinyinterp.cost import profiles
from tinyinterp.cost.estimate import estimate
from tinyinterp.errors import CostModelError
from tinyinterp.model import ModelBuilder

L4R5 = profiles.DATA_DIR / "boards" / "nucleo-l4r5zi.toml"


def test_shipped_profiles_load() -> None:
    assert {c for c in profiles.core_names()} == {
        "cortex-m0plus",
        "cortex-m3",
        "cortex-m4",
        "cortex-m7",
        "cortex-m33",
        "cortex-m55",
        "cortex-m85",
    }
    boards = profiles.boards()
    assert len(boards) >= 15
    assert {b.core for b in boards} >= {
        "cortex-m0plus",
        "cortex-m4",
        "cortex-m7",
        "cortex-m33",
        "cortex-m55",
        "cortex-m85",
    }
    assert "tflm-cmsisnn" in {s.name for s in profiles.stacks()}


def test_every_published_cortex_m_board_has_a_profile(data_dir: Path) -> None:
    with (data_dir / "results" / "published_v0.5_to_v1.1.csv").open(newline="") as file:
        names = {row["board_name"] for row in csv.DictReader(file) if row["core"].startswith("cortex-")}
    for name in names:
        board = profiles.board(name)
        assert board.core.startswith("cortex-"), name


@pytest.mark.parametrize("alias", ["NUCLEO_L4R5ZI", "Nucleo-L4R5ZI", "nucleo-l4r5zi", "NUCLEO-L4R5ZI"])
def test_board_names_ignore_case_and_punctuation(alias: str) -> None:
    assert profiles.board(alias).name == "nucleo-l4r5zi"


def test_a_stack_given_as_a_toml_path_is_that_file(tmp_path: Path) -> None:
    path = tmp_path / "my-stack.toml"
    shutil.copy(profiles.DATA_DIR / "stacks" / "tflm-reference.toml", path)
    assert profiles.stack(str(path)) == profiles.read_stack(path)


def test_a_board_file_keeps_the_path_as_given(tmp_path: Path) -> None:
    """`source` is the user's path as typed, not pathlib's normalised form (which drops the `./`)."""
    path = tmp_path / "my-board.toml"
    shutil.copy(L4R5, path)
    typed = f"{tmp_path}/./my-board.toml"
    assert profiles.board(typed).source == typed


def test_unknown_names_are_named() -> None:
    with pytest.raises(CostModelError) as unknown:
        profiles.board("nucleo-x9")
    assert str(unknown.value) == (
        "unknown board 'nucleo-x9' (see `tinyinterp boards`; for another board pass a board .toml file, "
        "or --core CORE --mhz F for a generic board with that core)"
    )
    # the shipped stacks' names, each file's name: the message lists them sorted
    known = ", ".join(sorted(path.stem for path in (profiles.DATA_DIR / "stacks").glob("*.toml")))
    with pytest.raises(CostModelError, match=rf"^unknown stack 'tvm-turbo' \(known: {re.escape(known)}\)$"):
        profiles.stack("tvm-turbo")
    with pytest.raises(CostModelError, match="unknown core 'cortex-m99'"):
        profiles.core("cortex-m99")


def test_wait_states_follow_the_clock() -> None:
    board = profiles.board("nucleo-l4r5zi")
    assert board.wait_states(120) == 5
    assert board.wait_states(20) == 0
    assert profiles.board("nucleo-g0b1re").wait_states(64) == 2


def test_the_memory_systems_edges_by_hand() -> None:
    """Worked out by hand: 23 ns at 87 MHz is 2.001 bus cycles, so an access takes 3 and has 2 wait states;
    a 0.5 MHz flash bus is slower than the core, so flash is read at 0.5 MHz; a 16 KiB data cache keeps
    weights re-read after exactly 16,384 bytes of other reads, not after 16,385."""
    board = replace(profiles.board("nucleo-l4r5zi"), flash_access_ns=23.0, flash_bus_mhz=0.0)
    assert board.wait_states(87) == 2
    assert replace(board, flash_bus_mhz=0.5).flash_mhz(80) == 0.5
    cached = replace(board, dcache=True, cache_kb=16)
    assert cached.weights_cached(16 * 1024)
    assert not cached.weights_cached(16 * 1024 + 1)


def test_power_scales_linearly_with_the_clock() -> None:
    power = profiles.board("nucleo-l4r5zi").power
    assert power.at(120, 120) == power.active_mw
    assert power.at(60, 120) == pytest.approx((power.active_mw + power.static_mw) / 2)


def test_a_copied_board_file_is_a_new_board(tmp_path: Path) -> None:
    text = (
        L4R5.read_text()
        .replace('name = "nucleo-l4r5zi"', 'name = "my-board"')
        .replace("clock_mhz = 120 ", "clock_mhz = 80 ")
    )
    path = tmp_path / "my-board.toml"
    path.write_text(text)
    board = profiles.board(str(path))
    assert (board.name, board.clock_mhz) == ("my-board", 80)
    result = estimate(_small_model(), str(path))
    assert (result.board, result.clock_mhz) == ("my-board", 80)


def _small_model() -> bytes:
    b = ModelBuilder()
    x = b.input("x", (1, 16), "int8", scale=0.1, zero_point=0)
    w = b.constant("w", np.ones((4, 16)), "int8", scale=0.01, zero_point=0)
    y = b.tensor("y", (1, 4), "int8", scale=0.1, zero_point=0)
    b.op("FULLY_CONNECTED", [x, w, -1], [y])
    b.output(y)
    return b.build_bytes()


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = L4R5.read_text()
    assert old in text
    path = tmp_path / "board.toml"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("sram_kb = 640", "", "missing key 'sram_kb'"),
        ("sram_kb = 640", 'sram_kb = "lots"', "'sram_kb' must be a number"),
        ("flash_kb = 2048", "flash_kb = -1", "'flash_kb' must be positive"),
        ("cache_kb = 0", "cache_kb = 0\ncolor = 3", "unknown key.*color"),
        ('core = "cortex-m4"', 'core = "cortex-m5"', "unknown core 'cortex-m5'"),
        ("clock_mhz = 120 ", "clock_mhz = 240 ", "exceeds max_clock_mhz"),
        ("active_mw = 40", "active_mw = 1", "static_mw 4 exceeds active_mw 1"),
        ("[power]", "[power", "not valid TOML"),
    ],
)
def test_bad_board_files_name_what_is_wrong(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(CostModelError, match=message):
        profiles.read_board(_edited(tmp_path, old, new))


def test_missing_board_file() -> None:
    with pytest.raises(
        CostModelError, match=r"^cannot read profile /nonexistent/board\.toml: No such file or directory$"
    ):
        profiles.board("/nonexistent/board.toml")


@pytest.mark.parametrize("stack", profiles.stacks(), ids=lambda s: s.name)
def test_stack_files_round_trip(stack: profiles.StackProfile, tmp_path: Path) -> None:
    path = tmp_path / "stack.toml"
    path.write_text(profiles.format_stack(stack))
    again = profiles.read_stack(path)
    assert again.efficiency == pytest.approx(stack.efficiency, rel=1e-3)
    assert (again.name, again.aliases, again.kernels) == (stack.name, stack.aliases, stack.kernels)


def test_stack_files_round_trip_every_field(tmp_path: Path) -> None:
    """format_stack then read_stack gives the same profile, the Helium table included (written only
    when some of its values differ from 1)."""
    shipped = profiles.stack("tflm-cmsisnn")
    helium = dict.fromkeys(profiles.OP_CLASSES, 1.0) | {"conv": 0.75, "fc": 1.25}
    for stack in (shipped, replace(shipped, mve_efficiency=helium, folds_constant_channels=True)):
        path = tmp_path / "stack.toml"
        path.write_text(profiles.format_stack(stack))
        assert profiles.read_stack(path) == stack
    assert "[efficiency_mve]" not in profiles.format_stack(shipped)


@pytest.mark.parametrize("value", [0, -1.5])
def test_stack_efficiencies_must_be_positive(value: float, tmp_path: Path) -> None:
    text = profiles.format_stack(profiles.stack("tflm-cmsisnn")).replace(
        "depthwise = ", f"depthwise = {value}  #"
    )
    path = tmp_path / "stack.toml"
    path.write_text(text)
    with pytest.raises(CostModelError, match=rf"\[efficiency\]: 'depthwise' must be positive, got {value}"):
        profiles.read_stack(path)
    path.write_text(text.replace(f"depthwise = {value}  #", "depthwise = ") + "[efficiency_mve]\nfc = 0\n")
    with pytest.raises(CostModelError, match=r"\[efficiency_mve\]: 'fc' must be positive, got 0"):
        profiles.read_stack(path)


MINIMAL_STACK = """name = "mine"
kernels = "cmsis-nn"
overhead_cycles = 900
[efficiency]
conv = 1.5
pointwise = 1.25
depthwise = 2
fc = 1
elementwise = 0.5
"""


def test_a_minimal_stack_file_gets_the_documented_defaults(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL_STACK)
    # Shallow 1x1 layers left out: they cost as the stack's other pointwise layers.
    efficiency = {
        "conv": 1.5,
        "pointwise": 1.25,
        "pointwise_shallow": 1.25,
        "depthwise": 2.0,
        "fc": 1.0,
        "elementwise": 0.5,
    }
    assert profiles.read_stack(path) == profiles.StackProfile(
        name="mine",
        kernels="cmsis-nn",
        efficiency=efficiency,
        overhead_cycles=900.0,
        folds_constant_channels=False,
        aliases=(),
        description="",
        fitted_on="",
        mve_efficiency=dict.fromkeys(profiles.OP_CLASSES, 1.0),
    )
    path.write_text(MINIMAL_STACK.replace("fc = 1", "fc = 1\npointwise_shallow = 0.75"))
    assert profiles.read_stack(path).efficiency == {**efficiency, "pointwise_shallow": 0.75}
    path.write_text(MINIMAL_STACK.replace('"cmsis-nn"', '"tvm"'))
    with pytest.raises(CostModelError, match="'kernels' must be \"cmsis-nn\" or \"reference\", got 'tvm'"):
        profiles.read_stack(path)


MINIMAL_BOARD = """name = "mine"
core = "cortex-m4"
clock_mhz = 48
max_clock_mhz = 64
flash_kb = 512
sram_kb = 96
flash_access_ns = 40
flash_line_bytes = 16
cache_kb = 0
[power]
active_mw = 12
static_mw = 12
sleep_mw = 0.5
"""


def test_a_minimal_board_file_gets_the_documented_defaults(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL_BOARD)
    assert profiles.read_board(path) == profiles.BoardProfile(
        name="mine",
        core="cortex-m4",
        clock_mhz=48.0,
        max_clock_mhz=64.0,
        flash_kb=512,
        sram_kb=96,
        flash_access_ns=40.0,
        flash_line_bytes=16,
        cache_kb=0.0,
        power=profiles.PowerProfile(active_mw=12.0, static_mw=12.0, sleep_mw=0.5),  # static may equal active
        mcu="",
        aliases=(),
        description="",
        source=str(path),
        dcache=True,
        weights_in="flash",
        flash_bus_mhz=0.0,
        cache_line_bytes=0,
    )
    assert profiles.read_board(path, source="shipped").source == "shipped"


def test_a_board_names_its_core_file_relative_to_itself_or_a_known_core(tmp_path: Path) -> None:
    (tmp_path / "cores").mkdir()
    shutil.copy(profiles.DATA_DIR / "cores" / "cortex-m4.toml", tmp_path / "cores" / "my-core.toml")
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL_BOARD.replace('"cortex-m4"', '"cores/my-core.toml"'))
    assert profiles.read_board(path).core == str(tmp_path / "cores" / "my-core.toml")
    path.write_text(MINIMAL_BOARD.replace('"cortex-m4"', '"cortex-m5"'))
    with pytest.raises(CostModelError, match=f"^{path}: core: unknown core 'cortex-m5'"):
        profiles.read_board(path)


@pytest.mark.parametrize(
    "key", ["clock_mhz", "max_clock_mhz", "flash_kb", "sram_kb", "flash_line_bytes", "active_mw"]
)
def test_board_sizes_clocks_and_power_must_be_positive(key: str, tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(re.sub(rf"^{key} = .*$", f"{key} = 0", MINIMAL_BOARD, flags=re.MULTILINE))
    with pytest.raises(CostModelError, match=f"'{key}' must be positive, got 0"):
        profiles.read_board(path)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "[power]\n",
            'aliases = "mine"\n[power]\n',
            "mine.toml: 'aliases' must be a list of strings, got 'mine'",
        ),
        (
            "[power]\n",
            "aliases = [1]\n[power]\n",
            r"mine.toml: 'aliases' must be a list of strings, got \[1\]",
        ),
        ("[power]\nactive_mw = 12\nstatic_mw = 12\nsleep_mw = 0.5\n", "", "mine.toml: missing key 'power'"),
        (
            "[power]\nactive_mw = 12\nstatic_mw = 12\nsleep_mw = 0.5\n",
            "power = 3\n",
            r"'power' must be a table",
        ),
        ("active_mw = 12", "active_mw = 0", r"mine.toml \[power\]: 'active_mw' must be positive, got 0"),
        (
            "static_mw = 12",
            "static_mw = -1",
            r"mine.toml \[power\]: 'static_mw' must be non-negative, got -1$",
        ),
        ('name = "mine"', 'name = "mine"\ncolor = 1\nsize = 2', r"mine.toml: unknown key\(s\) color, size$"),
        ('name = "mine"', "name = 3", r"mine.toml: 'name' must be a string, got 3$"),
        ('name = "mine"\n', "", r"mine.toml: missing key 'name'"),
    ],
)
def test_board_tables_and_lists_are_checked(old: str, new: str, message: str, tmp_path: Path) -> None:
    assert old in MINIMAL_BOARD
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL_BOARD.replace(old, new))
    with pytest.raises(CostModelError, match=message):
        profiles.read_board(path)


MINIMAL_CORE = """name = "mine"
architecture = "armv7e-m"
dsp = true
mve = false
dual_issue = false
issue_rate = 1
alu = 1
load = 2
store = 1
mul = 1
dual_mac = 1
branch = 3
requantize = 20
registers = 12
"""


def test_a_core_file_is_read_field_by_field(tmp_path: Path) -> None:
    """read_core directly (profiles.core() caches the shipped ones): every field, and the defaults of
    the fields a core without DSP or MVE leaves out."""
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL_CORE)
    found = profiles.read_core(path)
    assert found == profiles.CoreProfile(
        name="mine",
        architecture="armv7e-m",
        dsp=True,
        mve=False,
        dual_issue=False,
        issue_rate=1.0,
        alu=1.0,
        load=2.0,
        store=1.0,
        mul=1.0,
        dual_mac=1.0,
        branch=3.0,
        vector=0.0,
        requantize=20.0,
        registers=12,
        description="",
    )
    path.write_text(MINIMAL_CORE.replace("dsp = true", "dsp = false").replace("dual_mac = 1\n", ""))
    assert profiles.read_core(path).dual_mac == 0.0
    path.write_text(MINIMAL_CORE.replace("mve = false", "mve = true\nvector = 2"))
    assert (profiles.read_core(path).mve, profiles.read_core(path).vector) == (True, 2.0)


CORE_POSITIVE = ("issue_rate", "alu", "load", "store", "mul", "dual_mac", "branch", "requantize", "registers")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        *(
            (f"{key} = ", f"{key} = 0  #", f"mine.toml: '{key}' must be positive, got 0")
            for key in CORE_POSITIVE
        ),
        ("mve = false", "mve = true\nvector = 0", "'vector' must be positive, got 0"),
        (
            "dsp = true\nmve = false",
            "dsp = false\nmve = true\nvector = 1",
            r"mine.toml: a core with MVE \(Helium\) also has the DSP extension: set dsp = true$",
        ),
        ("dsp = true\n", "", "mine.toml: missing key 'dsp'"),
    ],
)
def test_bad_core_files_name_what_is_wrong(old: str, new: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL_CORE.replace(old, new, 1))
    with pytest.raises(CostModelError, match=message):
        profiles.read_core(path)


def test_format_stack_writes_the_shipped_file() -> None:
    path = profiles.DATA_DIR / "stacks" / "tflm-cmsisnn.toml"
    assert profiles.format_stack(profiles.read_stack(path)) == path.read_text()
