"""The published MLPerf Tiny results as calibration data, and the accuracy protocols run on them.

`read_results()` maps each Cortex-M row of the results CSV to a board profile, a stack profile and the
reference model of its benchmark. Three predictions of a held-out result are compared:

- uncalibrated: the shipped stack defaults, the board profile, nothing fitted to the system;
- leave-one-benchmark-out (LOBO): the system's own calibration (fit.fit_components) on its other
  benchmarks, on top of stack defaults refitted without the held-out measurement. `exclude` says what
  else the refit leaves out: "board" (default) also drops every result of the same benchmark on the same
  board with the same stack family (re-publications of one measurement by other submitters); "benchmark"
  drops the held-out benchmark from every system, so the defaults never saw that model at all;
- the baseline: latency (or energy) proportional to MACs, one constant per system fitted the same way.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tinyinterp.cost import energy, profiles
from tinyinterp.cost.estimate import IDENTITY, Components, model_components
from tinyinterp.cost.fit import Observation, fit_components, fit_power, fit_stacks
from tinyinterp.cost.profiles import BoardProfile, StackProfile
from tinyinterp.errors import CostModelError
from tinyinterp.model.reader import load_model
from tinyinterp.suite.benchmarks import BENCHMARKS

BENCHMARK_MODELS = {b.short: b.model_file for b in BENCHMARKS.values()}  # by the CSV's benchmark names


@dataclass(frozen=True)
class Result:
    system: str  # round/organisation/system: one build on one board
    benchmark: str
    board: BoardProfile
    stack: str  # stack profile name
    family: str  # the CSV's normalised stack family
    clock_mhz: float
    latency_ms: float
    energy_uj: float | None
    parts: Components

    @property
    def macs(self) -> int:
        return self.parts.macs

    @property
    def cycles(self) -> float:
        return self.latency_ms * self.clock_mhz * 1e3

    @property
    def power_mw(self) -> float:
        """Measured power during inference (energy runs match the performance runs' throughput)."""
        assert self.energy_uj is not None
        return self.energy_uj / self.latency_ms


def stack_of(row: dict[str, str]) -> str | None:
    """The stack profile of a published row, from its normalised family and the software it names."""
    software, family = row["software_stack"], row["stack_family"]
    if family in ("tflm_cmsisnn", "tflm_reference"):
        return family.replace("_", "-")
    if family == "xcubeai":
        version = re.search(r"v(\d+)\.(\d+)", software)
        return "xcubeai-8.1" if version and (int(version[1]), int(version[2])) >= (8, 1) else "xcubeai-7"
    if family == "plumerai":
        year = re.search(r"\b(20\d\d)\b", software)
        return "plumerai-2023" if year and int(year[1]) >= 2023 else "plumerai-2022"
    if family == "microtvm":
        return "microtvm-cmsisnn" if "CMSIS" in software.upper() else "microtvm-native"
    if "ONNC" in software:
        return "onnc"
    if "HALE" in software:
        return "hale"
    if "MVP" in row.get("accelerator", "") or "MVP" in software:
        return "silabs-mvp"
    return None


@cache
def _parts(model_path: str, board: BoardProfile, mhz: float, stack: str) -> Components:
    return model_components(load_model(model_path), board, mhz, profiles.stack(stack))


def read_results(csv_path: str | Path, models_dir: str | Path) -> tuple[list[Result], list[str]]:
    """Cortex-M results of the CSV with a board and stack profile, and a note for each row left out."""
    results, skipped = [], []
    try:
        with Path(csv_path).open(newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
    except OSError as error:
        raise CostModelError(f"cannot read results {csv_path}: {error.strerror or error}") from error
    for row in rows:
        if not row["core"].startswith("cortex-"):
            continue
        name = f"{row['version']}/{row['org']}/{row['system']}"
        stack = stack_of(row)
        model = BENCHMARK_MODELS.get(row["benchmark"])
        if stack is None or model is None:
            skipped.append(f"{name} {row['benchmark']}: no stack profile or model for it")
            continue
        try:
            board = profiles.board(row["board_name"])
        except CostModelError:
            skipped.append(f"{name}: no board profile for {row['board_name']}")
            continue
        mhz = float(row["clock_mhz"])
        parts = _parts(str(Path(models_dir) / model), board, mhz, stack)
        energy_uj = float(row["energy_uj"]) if row["energy_uj"] else None
        results.append(
            Result(
                name,
                row["benchmark"],
                board,
                stack,
                row["stack_family"],
                mhz,
                float(row["latency_ms"]),
                energy_uj,
                parts,
            )
        )
    return results, skipped


# --- predictions -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    result: Result
    latency_ms: float
    energy_uj: float | None

    @property
    def latency_error(self) -> float:
        return self.latency_ms / self.result.latency_ms - 1.0

    @property
    def energy_error(self) -> float | None:
        if self.energy_uj is None or self.result.energy_uj is None:
            return None
        return self.energy_uj / self.result.energy_uj - 1.0


def _energy(result: Result, latency_ms: float, power_factor: float) -> float:
    return power_factor * energy.power_mw(result.board, result.clock_mhz) * latency_ms


def uncalibrated(results: Iterable[Result], stacks: dict[str, StackProfile]) -> list[Prediction]:
    predictions = []
    for r in results:
        latency = r.parts.cycles(stacks[r.stack]) / (r.clock_mhz * 1e3)
        predictions.append(Prediction(r, latency, _energy(r, latency, 1.0)))
    return predictions


def observations(results: Iterable[Result]) -> list[Observation]:
    return [Observation(r.system, r.stack, r.parts, r.cycles) for r in results]


def _excluder(mode: str) -> Callable[[Result, Result], bool]:
    if mode == "benchmark":
        return lambda held, other: other.benchmark == held.benchmark
    if mode == "board":
        return lambda held, other: (
            other.benchmark == held.benchmark
            and (
                other.system == held.system
                or (other.board.name == held.board.name and other.family == held.family)
            )
        )
    raise CostModelError(f"unknown exclusion {mode!r}: use 'board' or 'benchmark'")


@dataclass(frozen=True)
class HeldOut:
    """Predictions of results held out of the defaults: uncalibrated, and with the system's calibration."""

    uncalibrated: list[Prediction]
    lobo: list[Prediction]


def held_out(
    results: Sequence[Result],
    stacks: dict[str, StackProfile],
    exclude: str = "board",
    targets: Sequence[Result] | None = None,
) -> HeldOut:
    """Predict each of `targets` (default: all results) from the others (see the module docstring)."""
    excluded = _excluder(exclude)
    refits: dict[tuple[tuple[str, str], ...], dict[str, StackProfile]] = {}
    plain, calibrated = [], []
    for held in results if targets is None else targets:
        training = [r for r in results if not excluded(held, r)]
        key = tuple(sorted((r.system, r.benchmark) for r in results if excluded(held, r)))
        if key not in refits:
            refits[key] = {**stacks, **fit_stacks(observations(training), stacks)}
        defaults = refits[key][held.stack]
        plain += uncalibrated([held], {held.stack: defaults})
        own = [r for r in training if r.system == held.system]
        calibration = (
            fit_components([r.parts for r in own], [r.cycles for r in own], defaults) if own else IDENTITY
        )
        latency = held.parts.cycles(defaults, calibration) / (held.clock_mhz * 1e3)
        powers = [(r.power_mw, energy.power_mw(r.board, r.clock_mhz)) for r in own if r.energy_uj is not None]
        calibrated.append(Prediction(held, latency, _energy(held, latency, fit_power(powers))))
    return HeldOut(plain, calibrated)


def baseline(results: Sequence[Result]) -> list[Prediction]:
    """Latency and energy proportional to MACs, one constant fitted (in log space) on the system's others."""
    predictions = []
    for held in results:
        own = [r for r in results if r.system == held.system and r.benchmark != held.benchmark]
        latency = held.macs * _geomean(r.latency_ms / r.macs for r in own)
        energies = [r.energy_uj / r.macs for r in own if r.energy_uj is not None]
        energy_uj = held.macs * _geomean(energies) if energies else None
        predictions.append(Prediction(held, latency, energy_uj))
    return predictions


def _geomean(values: Iterable[float]) -> float:
    logs = [math.log(v) for v in values]
    return math.exp(sum(logs) / len(logs)) if logs else math.nan


def mape(errors: Iterable[float | None]) -> float:
    """Mean absolute percentage error of relative errors (None: not measured, left out)."""
    values = [abs(e) for e in errors if e is not None and not math.isnan(e)]
    return 100.0 * sum(values) / len(values) if values else math.nan
