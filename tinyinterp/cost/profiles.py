"""Core, board and stack profiles: TOML files read into frozen dataclasses, with errors that name the field.

The shipped profiles live in `data/cores`, `data/boards` and `data/stacks`. A user adds a board by
copying one of the board files, editing it, and passing its path wherever a board name is accepted.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from tinyinterp.errors import CostModelError

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

DATA_DIR = Path(__file__).resolve().parent / "data"
OP_CLASSES = ("conv", "pointwise", "pointwise_shallow", "depthwise", "fc", "elementwise")
# A stack file may leave out the shallow pointwise class: those layers then cost as its other 1x1 layers.
CLASS_DEFAULTS = {"pointwise_shallow": "pointwise"}


@dataclass(frozen=True)
class CoreProfile:
    """What a CMSIS-NN inner loop costs on a core: issue width, per-instruction cycles, SIMD and vector units.

    Cycle costs are averages over the loops of CMSIS-NN kernels (e.g. `load` folds the pipelining of
    back-to-back LDRs), not worst cases; see the notes in each data/cores/*.toml file.
    """

    name: str
    architecture: str
    dsp: bool  # DSP extension: SMLAD (dual 16-bit MAC), SXTB16, PKHBT
    mve: bool  # Helium (M-profile vector extension, integer)
    dual_issue: bool
    issue_rate: float  # scalar instructions retired per cycle in these loops
    alu: float  # cycles of an ALU / extend / pack instruction
    load: float  # cycles of a 32-bit load from SRAM (pipelined average)
    store: float
    mul: float  # 32x32 multiply-accumulate (MLA); 1 on fast multipliers, 32 on M0+ small ones
    dual_mac: float  # SMLAD; unused when dsp is false
    branch: float  # a taken loop branch, pipeline refill included
    vector: float  # cycles per 128-bit MVE instruction in a steady loop (beats overlap); unused without mve
    requantize: float  # cycles of arm_nn_requantize + offset + clamp + store of one output
    registers: int  # general registers a compiler allocates in loops (r0-r12 and lr; r0-r7 on Armv6-M)
    description: str = ""


@dataclass(frozen=True)
class PowerProfile:
    """Board power while the core computes: P(f) = static_mw + (active_mw - static_mw) * f / clock_mhz."""

    active_mw: float  # at the board's default clock, running inference from flash
    static_mw: float  # the part that does not scale with frequency (leakage, regulators, analog)
    sleep_mw: float  # lowest-power state that keeps RAM (between inferences of a duty cycle)

    def at(self, mhz: float, default_mhz: float) -> float:
        return self.static_mw + (self.active_mw - self.static_mw) * mhz / default_mhz


MEMORIES = ("flash", "sram", "tcm")


@dataclass(frozen=True)
class BoardProfile:
    """A board: its core and clocks, memories, the memory system the weights are read through, power.

    The memory system decides what a weight read costs: weights in flash (`weights_in`) are read in
    `flash_line_bytes` lines, each costing the flash's wait states, counted at the flash bus clock
    (`flash_bus_mhz`, when slower than the core) and converted to core cycles; a data cache
    (`cache_kb`, used only when `dcache` is on) reads flash in `cache_line_bytes` lines and serves the
    later passes over weights that fit in it.
    Weights copied to SRAM or TCM cost no stalls.
    """

    name: str
    core: str
    clock_mhz: float  # default clock
    max_clock_mhz: float
    flash_kb: int
    sram_kb: int  # on-chip SRAM (the arena shares it with the application's other data)
    flash_access_ns: float  # flash read access time: wait states = ceil(access_ns * MHz / 1000) - 1
    flash_line_bytes: int  # bytes delivered per flash access (flash word / cache line fill)
    # Cache in front of flash that also serves data reads (M7 D-cache, STM32U5 ICACHE on C-AHB); 0 if none.
    cache_kb: float
    power: PowerProfile
    mcu: str = ""
    aliases: tuple[str, ...] = ()
    description: str = ""
    source: str = ""  # where the file came from (shipped or a user's path)
    dcache: bool = True  # the data cache is enabled (firmware can leave it off)
    weights_in: str = "flash"  # flash | sram | tcm: where the model's constant data is read from
    flash_bus_mhz: float = 0.0  # clock of the bus flash is read over, when below the core's (0: the core's)
    cache_line_bytes: int = 0  # bytes a data-cache line fill reads from flash (0: flash_line_bytes)

    def wait_states(self, mhz: float) -> int:
        """Flash wait states at a clock, from the access time (as the reference manuals' tables)."""
        return max(0, math.ceil(self.flash_access_ns * self.flash_mhz(mhz) / 1000.0 - 1e-9) - 1)

    def flash_mhz(self, mhz: float) -> float:
        """The clock flash is read at when the core runs at `mhz`."""
        return min(mhz, self.flash_bus_mhz) if self.flash_bus_mhz > 0 else mhz

    def flash_line_stall(self, mhz: float) -> float:
        """Core cycles a flash line read costs beyond a zero-wait load: the wait states, plus the
        core cycles the slower bus adds to each of the access's bus cycles."""
        bus_cycles = self.wait_states(mhz) + 1
        return bus_cycles * mhz / self.flash_mhz(mhz) - 1

    def weight_line_bytes(self) -> int:
        """Bytes of flash each stalled read brings: a cache line when the data cache is on."""
        return (
            self.cache_line_bytes
            if self.dcache and self.cache_kb and self.cache_line_bytes
            else (self.flash_line_bytes)
        )

    def weights_cached(self, reuse_bytes: float) -> bool:
        """Whether a data cache keeps weights re-read after `reuse_bytes` of other reads."""
        return self.dcache and reuse_bytes <= self.cache_kb * 1024


@dataclass(frozen=True)
class StackProfile:
    """A software stack as efficiency factors on top of the CMSIS-NN per-op structure.

    Each factor multiplies the cycles of one op class as TFLM + CMSIS-NN would spend them on the same
    core; `overhead_cycles` is the per-operator cost of the runtime (interpreter dispatch, setup).
    The shipped values are fitted on the published MLPerf Tiny results (bench/costmodel.py --write-stacks).
    """

    name: str
    kernels: str  # "cmsis-nn" (the TFLM CMSIS-NN structure) or "reference" (TFLM reference kernels)
    efficiency: dict[str, float]  # op class -> cycle multiplier
    overhead_cycles: float
    folds_constant_channels: bool = False  # a graph compiler removing all-zero filters and what they feed
    aliases: tuple[str, ...] = ()
    description: str = ""
    fitted_on: str = ""
    # Factors of the Helium (MVE) kernels, kept apart: the published results the defaults are fitted on
    # ran DSP and plain-C kernels only, so a factor learned there says nothing of MVE loops (1: as counted).
    mve_efficiency: dict[str, float] = field(default_factory=lambda: dict.fromkeys(OP_CLASSES, 1.0))

    def factor(self, op_class: str, vector: bool) -> float:
        """The stack's cycle factor of an op class, on the MVE kernels when `vector`."""
        return (self.mve_efficiency if vector else self.efficiency)[op_class]


def normalise(name: str) -> str:
    """Board and stack names compare without case and punctuation: NUCLEO_L4R5ZI == Nucleo-L4R5ZI."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


# --- TOML reading with field-level errors -------------------------------------------------------------


class _Table:
    """A TOML table being read into a profile: typed getters that name the file and key in errors."""

    def __init__(self, data: dict[str, Any], where: str) -> None:
        self.data = data
        self.where = where
        self.used: set[str] = set()

    def fail(self, message: str) -> CostModelError:
        return CostModelError(f"{self.where}: {message}")

    def _get(self, key: str, default: Any) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is _REQUIRED:
                raise self.fail(f"missing key '{key}'")
            return default
        return self.data[key]

    def text(self, key: str, default: Any = None) -> str:
        value = self._get(key, _REQUIRED if default is None else default)
        if not isinstance(value, str):
            raise self.fail(f"'{key}' must be a string, got {value!r}")
        return value

    def flag(self, key: str, default: Any = None) -> bool:
        value = self._get(key, _REQUIRED if default is None else default)
        if not isinstance(value, bool):
            raise self.fail(f"'{key}' must be true or false, got {value!r}")
        return value

    def number(self, key: str, default: Any = None, *, positive: bool = False) -> float:
        value = self._get(key, _REQUIRED if default is None else default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(f"'{key}' must be a number, got {value!r}")
        if value < 0 or (positive and value == 0):
            raise self.fail(f"'{key}' must be {'positive' if positive else 'non-negative'}, got {value}")
        return float(value)

    def names(self, key: str) -> tuple[str, ...]:
        value = self._get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"'{key}' must be a list of strings, got {value!r}")
        return tuple(value)

    def table(self, key: str) -> _Table:
        value = self._get(key, _REQUIRED)
        if not isinstance(value, dict):
            raise self.fail(f"'{key}' must be a table ([{key}])")
        return _Table(value, f"{self.where} [{key}]")

    def check_unused(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(f"unknown key(s) {', '.join(unknown)}")


_REQUIRED = object()


def _read_toml(path: Path) -> _Table:
    try:
        with path.open("rb") as file:
            return _Table(tomllib.load(file), str(path))
    except OSError as error:
        raise CostModelError(f"cannot read profile {path}: {error.strerror or error}") from error
    except tomllib.TOMLDecodeError as error:
        raise CostModelError(f"{path}: not valid TOML: {error}") from error


def read_core(path: Path) -> CoreProfile:
    t = _read_toml(path)
    dsp, mve = t.flag("dsp"), t.flag("mve")
    core = CoreProfile(
        name=t.text("name"),
        architecture=t.text("architecture"),
        dsp=dsp,
        mve=mve,
        dual_issue=t.flag("dual_issue"),
        issue_rate=t.number("issue_rate", positive=True),
        alu=t.number("alu", positive=True),
        load=t.number("load", positive=True),
        store=t.number("store", positive=True),
        mul=t.number("mul", positive=True),
        dual_mac=t.number("dual_mac", positive=True) if dsp else t.number("dual_mac", 0.0),
        branch=t.number("branch", positive=True),
        vector=t.number("vector", positive=True) if mve else t.number("vector", 0.0),
        requantize=t.number("requantize", positive=True),
        registers=int(t.number("registers", positive=True)),
        description=t.text("description", ""),
    )
    if mve and not dsp:
        raise t.fail("a core with MVE (Helium) also has the DSP extension: set dsp = true")
    t.check_unused()
    return core


def read_board(path: Path, *, source: str = "") -> BoardProfile:
    t = _read_toml(path)
    p = t.table("power")
    power = PowerProfile(
        active_mw=p.number("active_mw", positive=True),
        static_mw=p.number("static_mw"),
        sleep_mw=p.number("sleep_mw"),
    )
    p.check_unused()
    core_name = t.text("core")
    if core_name.endswith(".toml"):  # a user's core file, relative to the board file
        core_name = str((path.parent / core_name).resolve())
    board = BoardProfile(
        name=t.text("name"),
        core=core_name,
        clock_mhz=t.number("clock_mhz", positive=True),
        max_clock_mhz=t.number("max_clock_mhz", positive=True),
        flash_kb=int(t.number("flash_kb", positive=True)),
        sram_kb=int(t.number("sram_kb", positive=True)),
        flash_access_ns=t.number("flash_access_ns"),
        flash_line_bytes=int(t.number("flash_line_bytes", positive=True)),
        cache_kb=t.number("cache_kb"),
        power=power,
        mcu=t.text("mcu", ""),
        aliases=t.names("aliases"),
        description=t.text("description", ""),
        source=source or str(path),
        dcache=t.flag("dcache", True),
        weights_in=_memory(t, "weights_in", MEMORIES),
        flash_bus_mhz=t.number("flash_bus_mhz", 0.0),
        cache_line_bytes=int(t.number("cache_line_bytes", 0.0)),
    )
    t.check_unused()
    if board.clock_mhz > board.max_clock_mhz:
        raise t.fail(f"clock_mhz {board.clock_mhz:g} exceeds max_clock_mhz {board.max_clock_mhz:g}")
    if power.static_mw > power.active_mw:
        raise t.fail(f"[power] static_mw {power.static_mw:g} exceeds active_mw {power.active_mw:g}")
    core(board.core, where=f"{path}: core")  # the core must exist
    return board


def _memory(t: _Table, key: str, allowed: tuple[str, ...]) -> str:
    value = t.text(key, allowed[0])
    if value not in allowed:
        raise t.fail(f"'{key}' must be one of {', '.join(allowed)}, got {value!r}")
    return value


# Board fields a what-if may change (`--set KEY=VALUE`), with how to read the value.
_SETTABLE: dict[str, type] = {
    "clock_mhz": float,
    "max_clock_mhz": float,
    "flash_kb": int,
    "sram_kb": int,
    "flash_access_ns": float,
    "flash_line_bytes": int,
    "cache_kb": float,
    "dcache": bool,
    "weights_in": str,
    "flash_bus_mhz": float,
    "cache_line_bytes": int,
}


def with_settings(board: BoardProfile, settings: Sequence[str]) -> BoardProfile:
    """The board with `KEY=VALUE` settings applied (e.g. `dcache=false`, `weights_in=sram`),
    checked as a board file's fields are."""
    changes: dict[str, Any] = {}
    for setting in settings:
        key, equals, text = setting.partition("=")
        key = key.strip().replace("-", "_")
        if not equals or key not in _SETTABLE:
            raise CostModelError(
                f"--set {setting!r}: expected KEY=VALUE with KEY one of {', '.join(_SETTABLE)}"
            )
        changes[key] = _setting_value(key, text.strip())
    if not changes:
        return board
    # Only what is set: the board's own values were checked when it was read, and a generic core's board
    # has memory sizes of 0 (unknown), which a board file may not.
    table = _Table(changes, f"--set on board {board.name}")
    for key in changes:
        kind = _SETTABLE[key]
        if kind is bool:
            table.flag(key)
        elif kind is str:
            _memory(table, key, MEMORIES)
        else:
            table.number(
                key, positive=key not in ("flash_access_ns", "cache_kb", "flash_bus_mhz", "cache_line_bytes")
            )
    # The name says what was changed: it labels estimates and names the suite's results folder.
    label = "+".join(f"{k}={text}" for k, text in (s.split("=", 1) for s in settings))
    updated = replace(board, name=f"{board.name}+{label}", **{k: _SETTABLE[k](v) for k, v in changes.items()})
    if updated.clock_mhz > updated.max_clock_mhz:
        updated = replace(updated, max_clock_mhz=updated.clock_mhz)
    return updated


def _setting_value(key: str, text: str) -> Any:
    kind = _SETTABLE[key]
    if kind is bool:
        lowered = text.lower()
        if lowered in ("true", "on", "yes", "1"):
            return True
        if lowered in ("false", "off", "no", "0"):
            return False
        raise CostModelError(f"--set {key}={text}: expected true or false")
    if kind is str:
        return text
    try:
        return float(text)
    except ValueError:
        raise CostModelError(f"--set {key}={text}: expected a number") from None


def read_stack(path: Path) -> StackProfile:
    t = _read_toml(path)
    e = t.table("efficiency")
    efficiency: dict[str, float] = {}
    for name in OP_CLASSES:
        fallback = CLASS_DEFAULTS.get(name)
        default = efficiency[fallback] if fallback else None
        efficiency[name] = e.number(name, default, positive=True)
    e.check_unused()
    mve = t.table("efficiency_mve") if "efficiency_mve" in t.data else _Table({}, f"{path} [efficiency_mve]")
    mve_efficiency = {name: mve.number(name, 1.0, positive=True) for name in OP_CLASSES}
    mve.check_unused()
    kernels = t.text("kernels")
    if kernels not in ("cmsis-nn", "reference"):
        raise t.fail(f'\'kernels\' must be "cmsis-nn" or "reference", got {kernels!r}')
    stack = StackProfile(
        name=t.text("name"),
        kernels=kernels,
        efficiency=efficiency,
        overhead_cycles=t.number("overhead_cycles"),
        folds_constant_channels=t.flag("folds_constant_channels", False),
        aliases=t.names("aliases"),
        description=t.text("description", ""),
        fitted_on=t.text("fitted_on", ""),
        mve_efficiency=mve_efficiency,
    )
    t.check_unused()
    return stack


def format_stack(stack: StackProfile) -> str:
    """A stack profile as a TOML file that read_stack() reads back."""
    aliases = ", ".join(f'"{a}"' for a in stack.aliases)
    efficiency = "\n".join(f"{name} = {stack.efficiency[name]:.4f}" for name in OP_CLASSES)
    return (
        f'name = "{stack.name}"\n'
        f'description = "{stack.description}"\n'
        f'kernels = "{stack.kernels}"\n'
        f"aliases = [{aliases}]\n"
        f"overhead_cycles = {stack.overhead_cycles:g}  # per operator: dispatch and kernel setup\n"
        f"folds_constant_channels = {str(stack.folds_constant_channels).lower()}\n"
        f'fitted_on = "{stack.fitted_on}"\n\n'
        "# Cycles of each op class relative to TFLM + CMSIS-NN's structure on the same core (cycles.py)\n"
        f"[efficiency]\n{efficiency}\n" + _mve_table(stack)
    )


def _mve_table(stack: StackProfile) -> str:
    if all(v == 1.0 for v in stack.mve_efficiency.values()):
        return ""
    rows = "\n".join(f"{name} = {stack.mve_efficiency[name]:.4f}" for name in OP_CLASSES)
    return f"\n# The same for the Helium (MVE) kernels\n[efficiency_mve]\n{rows}\n"


# --- registries ------------------------------------------------------------------------------------------


def _by_name(kind: str) -> dict[str, Path]:
    """Shipped profile files of one kind, keyed by normalised file stem."""
    return {normalise(p.stem): p for p in sorted((DATA_DIR / kind).glob("*.toml"))}


@cache
def core(name: str, where: str = "core") -> CoreProfile:
    """A shipped core by name (cortex-m4, ...), or a user's core file when `name` is a .toml path."""
    if name.endswith(".toml"):
        return read_core(Path(name))
    path = _by_name("cores").get(normalise(name))
    if path is None:
        known = ", ".join(core_names())
        raise CostModelError(f"{where}: unknown core '{name}' (known: {known})")
    return read_core(path)


def core_names() -> list[str]:
    return [p.stem for p in _by_name("cores").values()]


@cache
def _boards() -> dict[str, BoardProfile]:
    """Every shipped board under its name and aliases (normalised)."""
    table: dict[str, BoardProfile] = {}
    for path in _by_name("boards").values():
        profile = read_board(path, source="shipped")
        for key in (profile.name, *profile.aliases):
            table[normalise(key)] = profile
    return table


def boards() -> list[BoardProfile]:
    unique = {b.name: b for b in _boards().values()}
    return [unique[n] for n in sorted(unique)]


def board(name: str) -> BoardProfile:
    """A shipped board by name or alias, or a user's board file when `name` is a path to a .toml file."""
    if name.endswith(".toml"):
        return read_board(Path(name), source=name)
    found = _boards().get(normalise(name))
    if found is None:
        raise CostModelError(
            f"unknown board '{name}' (see `tinyinterp boards`; for another board pass a board .toml file, "
            "or --core CORE --mhz F for a generic board with that core)"
        )
    return found


def generic_board(core_name: str, mhz: float) -> BoardProfile:
    """A board with only a core and a clock: zero-wait flash, no size limits known, a nominal power model."""
    profile = core(core_name)
    return BoardProfile(
        name=f"generic-{profile.name}",
        core=profile.name,
        clock_mhz=mhz,
        max_clock_mhz=mhz,
        flash_kb=0,  # unknown: fit is not checked
        sram_kb=0,
        flash_access_ns=0.0,
        flash_line_bytes=16,
        cache_kb=0.0,
        power=PowerProfile(
            active_mw=_GENERIC_UW_PER_MHZ.get(profile.name, 150.0) * mhz / 1000, static_mw=0.0, sleep_mw=0.01
        ),
        description=f"generic board with a {profile.name} at {mhz:g} MHz (no memory or power data)",
        source="generic",
    )


# Typical run-mode power per MHz of recent MCUs with each core (µW/MHz at ~3 V): only for --core boards.
_GENERIC_UW_PER_MHZ = {
    "cortex-m0plus": 150.0,
    "cortex-m3": 250.0,
    "cortex-m4": 300.0,
    "cortex-m7": 550.0,
    "cortex-m33": 180.0,
    "cortex-m55": 200.0,
    "cortex-m85": 300.0,
}


@cache
def _stacks() -> dict[str, StackProfile]:
    table: dict[str, StackProfile] = {}
    for path in _by_name("stacks").values():
        profile = read_stack(path)
        for key in (profile.name, *profile.aliases):
            table[normalise(key)] = profile
    return table


def stacks() -> list[StackProfile]:
    unique = {s.name: s for s in _stacks().values()}
    return [unique[n] for n in sorted(unique)]


def stack(name: str) -> StackProfile:
    if name.endswith(".toml"):
        return read_stack(Path(name))
    found = _stacks().get(normalise(name))
    if found is None:
        known = ", ".join(s.name for s in stacks())
        raise CostModelError(f"unknown stack '{name}' (known: {known})")
    return found


__all__ = [
    "OP_CLASSES",
    "BoardProfile",
    "CoreProfile",
    "PowerProfile",
    "StackProfile",
    "board",
    "boards",
    "core",
    "core_names",
    "generic_board",
    "normalise",
    "read_board",
    "read_core",
    "read_stack",
    "stack",
    "stacks",
    "with_settings",
]
