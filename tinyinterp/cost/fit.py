"""Calibration: a board+stack's parameters fitted on measured latencies (and energies); the stack defaults.

Both fits are maximum a posteriori in log space (errors are relative, NOISE_SD per measurement), solved by
damped Gauss-Newton, with log-normal priors whose widths are the constants below:

- `fit()` (one board+stack, what `--calibrate` runs): a scale on all cycles (SCALE_SD, broad) and a factor
  per op class (CLASS_SD, narrow: a class the measurements barely exercise keeps its default), plus a
  power factor from the measured energies (POWER_SD). Six latency parameters and one power parameter.
- `fit_stacks()` (the shipped defaults, from the published results): log efficiency[stack, class] =
  level[stack] + pattern[class] + deviation[stack, class]. The pattern, shared by all stacks
  (SHARED_CLASS_SD), is how optimised stacks in general depart from CMSIS-NN's per-class costs; deviations
  (STACK_CLASS_SD) are each stack's own; element-wise ops, a few percent of any benchmark, follow the
  level. Each measured system's scale is a random effect (SYSTEM_SD), so no one board defines its stack.
  STACK_CLASS_SD and SHARED_CLASS_SD were chosen on a 3x3 grid (0.2-0.5, 0.3-1.0) of the published results'
  leave-one-benchmark-out error; the others were set a priori.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tinyinterp.cost import energy, profiles
from tinyinterp.cost.estimate import (
    DEFAULT_STACK,
    Calibration,
    Components,
    ModelSource,
    clock_of,
    model_components,
    open_model,
    resolve_board,
)
from tinyinterp.cost.profiles import OP_CLASSES, BoardProfile, StackProfile
from tinyinterp.errors import CostModelError, TinyInterpError

NOISE_SD = 0.08  # relative error of the per-op model (and of a power measurement) on one model
SCALE_SD = 1.0
CLASS_SD = 0.15
POWER_SD = 0.5
SYSTEM_SD = 0.3
STACK_CLASS_SD = 0.2
SHARED_CLASS_SD = 0.3
PINNED_SD = 1e-3
STACK_LEVEL_SD = 3.0
CONVERGED_STEP = 1e-6  # the solver stops when no parameter would move further (in log space: relatively)
MAX_STEPS = 500  # the slowest input tried needs 201 (two models, opposite class mixes, 1e12 apart)


@dataclass(frozen=True)
class Measurement:
    model: ModelSource
    latency_ms: float
    energy_uj: float | None = None


def read_measurements(path: str | Path) -> list[Measurement]:
    """A MEASURED.csv: columns model,latency_ms[,energy_uj]; model paths are relative to the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CostModelError(f"cannot read calibration file {path}: {error}") from error
    reader = csv.DictReader(text.splitlines())
    columns = set(reader.fieldnames or ())
    if not {"model", "latency_ms"} <= columns:
        raise CostModelError(f"{path}: needs columns model,latency_ms[,energy_uj]; found {sorted(columns)}")
    rows = [_measurement(path, line, row) for line, row in enumerate(reader, start=2)]
    if not rows:
        raise CostModelError(f"{path}: no measurements")
    return rows


def _measurement(path: Path, line: int, row: dict[str, str]) -> Measurement:
    def number(key: str) -> float | None:
        text = (row.get(key) or "").strip()
        if not text and key == "energy_uj":
            return None
        try:
            value = float(text)
        except ValueError:
            raise CostModelError(f"{path}:{line}: {key} {text!r} is not a number") from None
        if not value > 0 or math.isinf(value):
            raise CostModelError(f"{path}:{line}: {key} must be positive, got {text}")
        return value

    model = path.parent / (row.get("model") or "").strip()  # relative to the file; an absolute path stays
    if not model.is_file():
        raise CostModelError(f"{path}:{line}: model file {model} not found")
    latency = number("latency_ms")
    assert latency is not None
    return Measurement(str(model), latency, number("energy_uj"))


# --- one board + stack -------------------------------------------------------------------------------------


def fit(
    measurements: Sequence[Measurement],
    board: str | BoardProfile | None = None,
    stack: str | StackProfile = DEFAULT_STACK,
    clock_mhz: float | None = None,
    *,
    core: str | None = None,
) -> Calibration:
    """Fit `board`+`stack` on measurements of models on it; pass the result to estimate(calibration=...)."""
    if not measurements:
        raise CostModelError("fit needs at least one measurement")
    board_profile = resolve_board(board, core, clock_mhz)
    mhz = clock_of(board_profile, clock_mhz)
    stack_profile = stack if isinstance(stack, StackProfile) else profiles.stack(stack)
    parts = []
    for k, m in enumerate(measurements, start=1):
        try:
            ir, _ = open_model(m.model)
        except TinyInterpError as error:
            # A model given as bytes or an IR is named by its place: its repr would fill the message.
            where = m.model if isinstance(m.model, (str, os.PathLike)) else f"#{k}"
            raise CostModelError(f"calibration model {where}: {error}") from error
        parts.append(model_components(ir, board_profile, mhz, stack_profile))
    cycles = [m.latency_ms * mhz * 1e3 for m in measurements]
    watts = [
        (m.energy_uj / m.latency_ms, energy.power_mw(board_profile, mhz))
        for m in measurements
        if m.energy_uj is not None
    ]
    calibration = fit_components(parts, cycles, stack_profile)
    return replace(calibration, power_scale=fit_power(watts), energies=len(watts))


def fit_components(parts: Sequence[Components], cycles: Sequence[float], stack: StackProfile) -> Calibration:
    """MAP fit of the scale and per-class factors on measured cycles of models (split in components)."""
    kernel = np.array(
        [
            [
                p.kernel[c] * stack.efficiency[c] + p.vector_kernel.get(c, 0.0) * stack.mve_efficiency[c]
                for c in OP_CLASSES
            ]
            for p in parts
        ]
    )
    fixed = np.array([p.flash + p.operators * stack.overhead_cycles for p in parts])
    target = np.log(np.asarray(cycles, dtype=float))
    theta = np.zeros(1 + len(OP_CLASSES))
    prior_sd = np.array([SCALE_SD, *([CLASS_SD] * len(OP_CLASSES))])
    theta[0] = float(np.mean(target - np.log(kernel.sum(axis=1) + fixed)))

    def residuals(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        weighted = kernel * np.exp(t[1:])
        total = weighted.sum(axis=1) + fixed
        r = (t[0] + np.log(total) - target) / NOISE_SD
        jac = np.column_stack([np.ones(len(total)), weighted / total[:, None]]) / NOISE_SD
        return r, jac

    theta = _gauss_newton(residuals, theta, prior_sd, "the calibration")
    factors = {c: float(math.exp(v)) for c, v in zip(OP_CLASSES, theta[1:])}
    return Calibration(float(math.exp(theta[0])), factors, 1.0, len(parts), 0)


def fit_power(pairs: Sequence[tuple[float, float]]) -> float:
    """Power factor from (measured mW, modelled mW) pairs: their ratios' geometric mean, shrunk towards 1."""
    if not pairs:
        return 1.0
    logs = [math.log(measured / modelled) for measured, modelled in pairs]
    shrink = len(logs) / (len(logs) + (NOISE_SD / POWER_SD) ** 2)
    return math.exp(shrink * sum(logs) / len(logs))


Residuals = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # theta -> (residuals, Jacobian)


def _gauss_newton(residuals: Residuals, theta: np.ndarray, prior_sd: np.ndarray, what: str) -> np.ndarray:
    """Minimise |r(theta)|^2 + |theta / sd|^2 with damped Gauss-Newton steps (Levenberg-Marquardt's schedule).

    Done when the undamped step is below CONVERGED_STEP in every parameter: theta, that step taken, is then
    the minimum whatever path the damping took (to better than 1e-6 relatively: the parameters are logs).
    Tighter does not work: with large residuals at the minimum, rounding stalls the steps near 1e-7. A fit
    that does not get there in MAX_STEPS is refused rather than returned half-way.
    """

    def cost(t: np.ndarray) -> float:
        r, _ = residuals(t)
        return float(r @ r + np.sum((t / prior_sd) ** 2))

    current = cost(theta)
    damping = 1e-3
    for _ in range(MAX_STEPS):
        r, jac = residuals(theta)
        lhs = jac.T @ jac + np.diag(1.0 / prior_sd**2)
        rhs = jac.T @ r + theta / prior_sd**2
        step = np.linalg.solve(lhs, rhs)
        remaining = float(np.max(np.abs(step)))
        if remaining < CONVERGED_STEP:
            return theta - step  # the last step undamped: near the minimum it lands on it
        candidate = theta - np.linalg.solve(lhs + damping * np.diag(np.diag(lhs)), rhs)
        new = cost(candidate)
        if new <= current:
            theta, current = candidate, new
            damping = max(damping / 3, 1e-9)
        else:
            damping *= 10
    raise CostModelError(
        f"{what} did not converge in {MAX_STEPS} steps (a parameter's log still moving by {remaining:.1g})"
    )


# --- the stack defaults ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """One published result: a system (board+stack build) running a model, as components and cycles."""

    system: str
    stack: str
    parts: Components
    cycles: float


def fit_stacks(
    observations: Sequence[Observation], stacks: dict[str, StackProfile]
) -> dict[str, StackProfile]:
    """Per-stack efficiencies fitted on many systems' results (see the module docstring): new profiles."""
    names = sorted({o.stack for o in observations})
    systems = sorted({o.system for o in observations})
    n_stack, n_class, n_system = len(names), len(OP_CLASSES), len(systems)
    stack_of = np.array([names.index(o.stack) for o in observations])
    system_of = np.array([systems.index(o.system) for o in observations])
    kernel = np.array([[o.parts.kernel[c] for c in OP_CLASSES] for o in observations])
    fixed = np.array(
        [
            o.parts.flash
            + o.parts.operators * stacks[o.stack].overhead_cycles
            + o.parts.vector_cycles(stacks[o.stack])
            for o in observations
        ]
    )
    target = np.log([o.cycles for o in observations])
    rows = np.arange(len(observations))
    # theta = [level per stack | class pattern of all stacks | class deviation per stack | system scale]
    level = slice(0, n_stack)
    shared = slice(level.stop, level.stop + n_class)
    deviation = slice(shared.stop, shared.stop + n_stack * n_class)
    system = slice(deviation.stop, deviation.stop + n_system)
    # Element-wise ops are a few percent of any benchmark: their factor follows the stack's level.
    pinned = np.array([c == "elementwise" for c in OP_CLASSES])
    class_sd = np.where(pinned, PINNED_SD, SHARED_CLASS_SD)
    deviation_sd = np.tile(np.where(pinned, PINNED_SD, STACK_CLASS_SD), n_stack)
    prior_sd = np.concatenate(
        [np.full(n_stack, STACK_LEVEL_SD), class_sd, deviation_sd, np.full(n_system, SYSTEM_SD)]
    )

    def log_efficiency(t: np.ndarray) -> np.ndarray:
        return t[level][:, None] + t[shared][None, :] + t[deviation].reshape(n_stack, n_class)

    def residuals(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        weighted = kernel * np.exp(log_efficiency(t)[stack_of])
        total = weighted.sum(axis=1) + fixed
        r = (t[system][system_of] + np.log(total) - target) / NOISE_SD
        jac = np.zeros((len(observations), system.stop))
        share = weighted / total[:, None]
        jac[rows, stack_of] = share.sum(axis=1)
        jac[:, shared] = share
        for c in range(n_class):
            jac[rows, deviation.start + stack_of * n_class + c] = share[:, c]
        jac[rows, system.start + system_of] = 1.0
        return r, jac / NOISE_SD

    theta = _gauss_newton(residuals, np.zeros(system.stop), prior_sd, "the stack defaults' fit")
    log_eff = log_efficiency(theta)
    fitted = {}
    for s, name in enumerate(names):
        count = int(np.sum(stack_of == s))
        efficiency = {c: float(math.exp(log_eff[s, k])) for k, c in enumerate(OP_CLASSES)}
        fitted[name] = replace(stacks[name], efficiency=efficiency, fitted_on=f"{count} published results")
    return fitted
