"""`estimate()`: latency, energy and memory of a model on a board, per layer and in total.

cycles = scale * sum over layers of (efficiency[stack, op class] * kernel cycles + flash stalls + overhead),
(on Helium kernels the stack's separate MVE factors, 1 by default: the fitted factors come from DSP kernels),
where kernel cycles come from cycles.py (TFLM + CMSIS-NN structure on the board's core), flash stalls from
the board's memory system, and efficiency/overhead from the stack profile; `scale` and per-class factors of
a `Calibration` (fit.py) refine the defaults for one board+stack from measurements.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from tinyinterp import zoo
from tinyinterp.cost import arena, energy, profiles
from tinyinterp.cost.cycles import LayerWork
from tinyinterp.cost.folding import Live, live_work
from tinyinterp.cost.profiles import OP_CLASSES, BoardProfile, CoreProfile, StackProfile
from tinyinterp.cost.registry import layer_work, op_cost
from tinyinterp.errors import CostModelError
from tinyinterp.model.ir import Model
from tinyinterp.model.reader import load_model
from tinyinterp.model.writer import save_model

DEFAULT_STACK = "tflm-cmsisnn"
KERNEL_TERMS = ("mac", "data", "requant")

ModelSource = str | os.PathLike[str] | bytes | Model


@dataclass(frozen=True)
class Calibration:
    """One board+stack's fitted refinements of the defaults (see fit.py); the identity by default."""

    scale: float = 1.0  # multiplies all cycles
    efficiency: Mapping[str, float] = field(default_factory=dict)  # op class -> factor
    power_scale: float = 1.0  # multiplies the board's power model
    models: int = 0  # measurements it was fitted on
    energies: int = 0

    def factor(self, op_class: str) -> float:
        return self.efficiency.get(op_class, 1.0)


IDENTITY = Calibration()


@dataclass(frozen=True)
class LayerEstimate:
    index: int
    opcode: str
    kernel: str
    op_class: str
    macs: int
    cycles: float
    latency_ms: float
    percent: float
    weight_bytes: int
    activation_bytes: int
    terms: dict[str, float]  # cycles by term: mac, data, requant, flash, overhead


@dataclass(frozen=True)
class Totals:
    cycles: float
    latency_ms: float
    energy_uj: float
    arena_bytes: int  # TFLM's greedy plan of activations and scratch buffers (the arena "head")
    flash_bytes: int  # model + runtime code estimate
    fits: bool  # RAM and flash within the board's (true when they are unknown: --core)
    macs: int
    power_mw: float
    ram_bytes: int  # arena head + persistent allocations estimate (the whole tensor arena)


@dataclass(frozen=True)
class Estimate:
    model: str
    board: str
    core: str
    clock_mhz: float
    stack: str
    totals: Totals
    layers: tuple[LayerEstimate, ...]
    notes: tuple[str, ...] = ()  # why it does not fit, fallbacks used, clock above the board's maximum
    calibrated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: model, board, core, clock_mhz, stack, totals {...}, layers [...], notes, calibrated."""
        return asdict(self)


@dataclass(frozen=True)
class Components:
    """A model's cycles on a board, split the way the stack and calibration factors apply to them."""

    kernel: Mapping[str, float]  # op class -> kernel cycles (mac + data + requant), before efficiency
    flash: float
    operators: int
    macs: int
    # op class -> cycles of the Helium (MVE) kernels, which the stack's fitted factors do not scale
    vector_kernel: Mapping[str, float] = field(default_factory=dict)

    def cycles(self, stack: StackProfile, calibration: Calibration = IDENTITY) -> float:
        kernel = sum(
            stack.efficiency[c] * calibration.factor(c) * cycles for c, cycles in self.kernel.items()
        ) + sum(
            stack.mve_efficiency[c] * calibration.factor(c) * cycles
            for c, cycles in self.vector_kernel.items()
        )
        return calibration.scale * (kernel + self.flash + self.operators * stack.overhead_cycles)

    def vector_cycles(self, stack: StackProfile) -> float:
        """The MVE kernels' cycles with the stack's MVE factors (fixed when DSP factors are fitted)."""
        return sum(stack.mve_efficiency[c] * cycles for c, cycles in self.vector_kernel.items())


def open_model(source: ModelSource) -> tuple[Model, str]:
    if isinstance(source, Model):
        return source, "model"
    if isinstance(source, (bytes, bytearray, memoryview)):
        return load_model(bytes(source)), "model"
    if isinstance(source, str) and source.startswith(zoo.ZOO_PREFIX):
        return zoo.open_model(source), source
    path = Path(source)
    if not path.is_file():
        raise CostModelError(f"{path}: no such model file")
    return load_model(path), path.name


def resolve_board(
    board: str | os.PathLike[str] | BoardProfile | None, core: str | None, clock_mhz: float | None
) -> BoardProfile:
    """The board profile: a name or .toml path, or a generic board for `core` (needs a clock)."""
    if isinstance(board, BoardProfile):
        return board
    if isinstance(board, os.PathLike):
        board = os.fspath(board)
    if board is not None and core is not None:
        raise CostModelError("give a board or a core, not both")
    if board is not None:
        return profiles.board(board)
    if core is None:
        raise CostModelError("give a board (see `tinyinterp boards`) or a core with a clock")
    if clock_mhz is None:
        raise CostModelError(f"a generic {core} board needs a clock: give clock_mhz (--mhz)")
    return profiles.generic_board(core, _check_clock(clock_mhz))


def _check_clock(mhz: float) -> float:
    if not 0 < mhz < math.inf:  # also rejects NaN
        raise CostModelError(f"the clock must be a positive number of MHz (finite), got {mhz}")
    return float(mhz)


def clock_of(board: BoardProfile, clock_mhz: float | None) -> float:
    """The clock to estimate at: the given one (checked) or the board's default."""
    return board.clock_mhz if clock_mhz is None else _check_clock(clock_mhz)


def layers_work(
    model: Model,
    core: CoreProfile,
    board: BoardProfile,
    mhz: float,
    kernels: str,
    fold_constants: bool = False,
) -> list[LayerWork]:
    """Every operator's kernel and cycle terms; with `fold_constants`, without the constant channels' work."""
    subgraph = model.main
    works = [layer_work(subgraph, op, core, board, mhz, kernels) for op in subgraph.operators]
    if not fold_constants:
        return works
    live = live_work(subgraph)
    return [_folded(w, live[w.index]) if w.index in live else w for w in works]


def _folded(work: LayerWork, live: Live) -> LayerWork:
    terms = {t: v * (live.outputs if t == "requant" else live.macs) for t, v in work.terms.items()}
    return replace(work, terms=terms)


def model_components(model: Model, board: BoardProfile, mhz: float, stack: StackProfile) -> Components:
    """The model's cycles on the board, by op class, as the stack's kernels (and constant folding) run."""
    core = profiles.core(board.core)
    works = layers_work(model, core, board, mhz, stack.kernels, stack.folds_constant_channels)
    kernel, vector = dict.fromkeys(OP_CLASSES, 0.0), dict.fromkeys(OP_CLASSES, 0.0)
    for work in works:
        (vector if work.vector else kernel)[work.op_class] += sum(
            work.terms.get(t, 0.0) for t in KERNEL_TERMS
        )
    flash = sum(w.terms.get("flash", 0.0) for w in works)
    return Components(kernel, flash, len(works), sum(w.macs for w in works), vector)


def estimate(
    model: ModelSource,
    board: str | os.PathLike[str] | BoardProfile | None = None,
    clock_mhz: float | None = None,
    stack: str | StackProfile = DEFAULT_STACK,
    *,
    core: str | None = None,
    calibration: Calibration = IDENTITY,
) -> Estimate:
    """Estimate latency, energy, arena and flash of `model` (a .tflite path, bytes or Model) on a board.

    `board` is a board name or alias (`tinyinterp.cost.profiles.boards()`) or a board .toml path; or pass
    `core` (e.g. "cortex-m33") and `clock_mhz` for a generic board with that core. `clock_mhz` defaults to
    the board's clock. Raises CostModelError for unknown names, a non-positive clock or bad files.
    """
    ir, name = open_model(model)
    board_profile = resolve_board(board, core, clock_mhz)
    mhz = clock_of(board_profile, clock_mhz)
    stack_profile = stack if isinstance(stack, StackProfile) else profiles.stack(stack)
    core_profile = profiles.core(board_profile.core)
    works = layers_work(
        ir, core_profile, board_profile, mhz, stack_profile.kernels, stack_profile.folds_constant_channels
    )
    layers = _layer_estimates(works, stack_profile, calibration, mhz)
    cycles = sum(layer.cycles for layer in layers)
    latency_ms = cycles / (mhz * 1e3)
    power_mw = energy.power_mw(board_profile, mhz) * calibration.power_scale
    plan = arena.plan(ir, arena.scratch_for(stack_profile.kernels, core_profile))
    ram = plan.head_bytes + arena.persistent_bytes(ir)
    flash = len_model_bytes(model, ir) + arena.code_bytes(ir)
    misfits = _misfits(board_profile, ram, flash)
    notes = misfits + _notes(ir, board_profile, mhz)
    totals = Totals(
        cycles,
        latency_ms,
        power_mw * latency_ms,
        plan.head_bytes,
        flash,
        not misfits,
        sum(w.macs for w in works),
        power_mw,
        ram,
    )
    return Estimate(
        name,
        board_profile.name,
        core_profile.name,
        mhz,
        stack_profile.name,
        totals,
        tuple(layers),
        tuple(notes),
        calibration is not IDENTITY,
    )


def len_model_bytes(source: ModelSource, ir: Model) -> int:
    """Bytes of the .tflite flatbuffer in flash (of an in-memory or zoo model: as our writer writes it)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return len(source)
    if isinstance(source, Model) or str(source).startswith(zoo.ZOO_PREFIX):
        return len(save_model(ir))
    return Path(source).stat().st_size


def _layer_estimates(
    works: list[LayerWork], stack: StackProfile, calibration: Calibration, mhz: float
) -> list[LayerEstimate]:
    rows = []
    for w in works:
        factor = stack.factor(w.op_class, w.vector) * calibration.factor(w.op_class) * calibration.scale
        terms = {t: w.terms.get(t, 0.0) * factor for t in KERNEL_TERMS}
        terms["flash"] = w.terms.get("flash", 0.0) * calibration.scale
        terms["overhead"] = stack.overhead_cycles * calibration.scale
        rows.append((w, terms, sum(terms.values())))
    total = sum(cycles for _, _, cycles in rows) or 1.0
    return [
        LayerEstimate(
            w.index,
            w.opcode,
            w.kernel,
            w.op_class,
            w.macs,
            cycles,
            cycles / (mhz * 1e3),
            100.0 * cycles / total,
            w.weight_bytes,
            w.activation_bytes,
            terms,
        )
        for w, terms, cycles in rows
    ]


def _misfits(board: BoardProfile, ram: int, flash: int) -> list[str]:
    """Why the model does not fit the board (nothing when it fits, or when the board's sizes are unknown)."""
    misfits = []
    if board.sram_kb and ram > board.sram_kb * 1024:
        misfits.append(
            f"does not fit: the arena needs {ram / 1024:.1f} KB of RAM, {board.name} has {board.sram_kb} KB"
        )
    if board.flash_kb and flash > board.flash_kb * 1024:
        misfits.append(
            f"does not fit: model and code need {flash / 1024:.1f} KB of flash, "
            f"{board.name} has {board.flash_kb} KB"
        )
    return misfits


def _notes(ir: Model, board: BoardProfile, mhz: float) -> list[str]:
    notes = []
    if not board.sram_kb:
        notes.append(f"{board.name}: memory sizes unknown, fit not checked")
    if mhz > board.max_clock_mhz:
        notes.append(f"clock {mhz:g} MHz is above the board's maximum {board.max_clock_mhz:g} MHz")
    generic = sorted({op.opcode for op in ir.main.operators if not op_cost(op.opcode).has_formula})
    if generic:
        notes.append(f"no dedicated cycle formula for {', '.join(generic)}: generic element-wise fallback")
    if len(ir.subgraphs) > 1:
        notes.append("only the main subgraph is costed")
    return notes
