"""Energy: board power at a clock x inference time, and the average power of a duty cycle.

Power while computing scales linearly with the clock above a static part (CMOS dynamic power at a fixed
voltage): P(f) = static + (active - static) * f / f_default. Energy per inference (µJ) = P (mW) x t (ms).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tinyinterp.cost.profiles import BoardProfile
from tinyinterp.errors import CostModelError

DEFAULT_BATTERY_V = 3.0


def power_mw(board: BoardProfile, mhz: float) -> float:
    return board.power.at(mhz, board.clock_mhz)


@dataclass(frozen=True)
class DutyCycle:
    inferences_per_s: float
    busy_fraction: float
    average_mw: float
    battery_hours: float | None  # None without a battery capacity


def duty_cycle(
    energy_uj: float,
    latency_ms: float,
    inferences_per_s: float,
    sleep_mw: float,
    battery_mah: float | None = None,
    battery_v: float = DEFAULT_BATTERY_V,
) -> DutyCycle:
    """Average power when running `inferences_per_s` inferences a second and sleeping in between."""
    if not 0 < inferences_per_s < math.inf:  # comparisons also reject NaN
        raise CostModelError(f"inferences per second must be positive and finite, got {inferences_per_s:g}")
    if not 0 <= sleep_mw < math.inf:
        raise CostModelError(f"sleep power must be non-negative and finite, got {sleep_mw:g} mW")
    if battery_mah is not None and not 0 < battery_mah < math.inf:
        raise CostModelError(f"battery capacity must be positive and finite, got {battery_mah:g} mAh")
    if not 0 < battery_v < math.inf:
        raise CostModelError(f"battery voltage must be positive and finite, got {battery_v:g} V")
    busy = inferences_per_s * latency_ms / 1000.0
    if busy > 1.0:
        raise CostModelError(
            f"{inferences_per_s:g} inferences/s of {latency_ms:.3g} ms each do not fit in a second "
            f"(at most {1000.0 / latency_ms:.3g}/s)"
        )
    average = inferences_per_s * energy_uj / 1000.0 + (1.0 - busy) * sleep_mw  # µJ/s = mW/1000
    hours = None if battery_mah is None else battery_mah * battery_v / average
    return DutyCycle(inferences_per_s, busy, average, hours)
