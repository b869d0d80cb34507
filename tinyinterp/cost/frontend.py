"""Cycles of the sww01 feature extraction (the reference firmware's `th_compute_lfbe_f32`) on a core.

Per 512-sample frame the firmware runs, in CMSIS-DSP float32 (`specs/sww01.md` 2.3, 6.3): int16 to float
and pre-emphasis on 1024 samples, the Hamming window, `arm_rfft_fast_f32` (N = 1024: a 512-point complex
radix-8 FFT, bit reversal and the real split), `arm_cmplx_mag_f32` (512 square roots), squares and
scaling, 987 mel multiply-accumulates, then per filter a clamp, `log10` in **double** (newlib), offset,
scale and quantization, and it shifts the 1200-byte model window. Nothing of this is published separately
(upstream times only whole frames), so the costs below are estimates from instruction timings:

- `f32_op`: one float32 add or multiply with its share of loads, stores and loop overhead in CMSIS-DSP's
  unrolled loops. FPU cores: VADD/VMUL.F32 issue in 1 cycle, VLDR/VSTR pipeline (Cortex-M4/M33 TRMs),
  about 2 cycles per operation with the memory traffic; dual-issue M7 and the M55/M85 FPUs less. Cores
  without an FPU (M0+, M3) call libgcc's soft-float routines: tens of cycles per operation.
- `f32_sqrt`: VSQRT.F32 (14 cycles on M4/M33/M7), soft-float otherwise.
- `f64_log10`: newlib's double `log10`: a few dozen double operations, in hardware on a double-precision
  FPU (M7 as on STM32H7, M55 and M85 as on the Alif E7 and RA8 parts), else soft-float double (thousands
  of cycles: the spec's 0.1-0.2 M cycles per frame for the 40 logs on M4/M33).
The model's inference is costed by `estimate`; `tinyinterp.suite.sww` adds the two per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyinterp.cost import profiles
from tinyinterp.errors import CostModelError

FRAME = 1024
HALF = FRAME // 2
MEL_WEIGHTS = 987  # non-zero weights of the 40 filters (lin2mel_packed_513x40)
FILTERS = 40
WINDOW_BYTES = 1200  # the 30 x 40 int8 model input, shifted by one row and copied each frame
# A complex radix-8 FFT of n points costs about 4.25 n log2 n real operations; the real split of
# arm_rfft_fast_f32 about 16 per output pair; the bit reversal moves each point once.
FFT_OPS = round(4.25 * HALF * 9) + 16 * (HALF // 2) + HALF


@dataclass(frozen=True)
class FloatCosts:
    f32_op: float
    f32_sqrt: float
    f64_log10: float


FLOAT_COSTS = {
    "cortex-m0plus": FloatCosts(f32_op=70.0, f32_sqrt=600.0, f64_log10=9000.0),  # no FPU, Thumb-1 libgcc
    "cortex-m3": FloatCosts(f32_op=40.0, f32_sqrt=350.0, f64_log10=5000.0),  # no FPU
    "cortex-m4": FloatCosts(f32_op=2.0, f32_sqrt=14.0, f64_log10=3000.0),  # FPv4-SP
    "cortex-m33": FloatCosts(f32_op=2.0, f32_sqrt=14.0, f64_log10=3000.0),  # FPv5-SP
    "cortex-m7": FloatCosts(f32_op=1.2, f32_sqrt=14.0, f64_log10=250.0),  # FPv5-DP, dual issue
    "cortex-m55": FloatCosts(f32_op=1.2, f32_sqrt=14.0, f64_log10=250.0),  # scalar FPU with double
    "cortex-m85": FloatCosts(f32_op=1.0, f32_sqrt=14.0, f64_log10=250.0),  # dual-issue FPU with double
}

# float32 operations per frame, by stage
STAGE_OPS = {
    "int16 to float, pre-emphasis, window": FRAME * 5,  # convert + scale, scale + subtract, multiply
    "real FFT (arm_rfft_fast_f32, 1024)": FFT_OPS,
    "magnitude, power (arm_cmplx_mag_f32)": HALF * 3 + (HALF + 1) * 2,
    "mel filterbank (987 MACs)": MEL_WEIGHTS * 2,
    "clamp, offset, scale, quantize": FILTERS * 8,
}


@dataclass(frozen=True)
class FrontendCost:
    core: str
    stages: tuple[tuple[str, float], ...]  # (stage, cycles) per frame

    @property
    def cycles(self) -> float:
        return sum(cycles for _, cycles in self.stages)

    def latency_us(self, clock_mhz: float) -> float:
        return self.cycles / clock_mhz


def frontend_cost(core: str) -> FrontendCost:
    """Cycles of one sww01 feature frame on `core` (a core name, or a core .toml of a known core)."""
    profile = profiles.core(core)
    costs = FLOAT_COSTS.get(profile.name)
    if costs is None:
        raise CostModelError(
            f"no sww01 front-end costs for core {profile.name!r} (known: {', '.join(FLOAT_COSTS)})"
        )
    stages = [(stage, ops * costs.f32_op) for stage, ops in STAGE_OPS.items()]
    stages.insert(2, ("square roots (VSQRT.F32 or soft-float)", HALF * costs.f32_sqrt))
    stages.append(("40 x log10 in double", FILTERS * costs.f64_log10))
    words = WINDOW_BYTES // 4
    stages.append(
        ("model window shift and copy", 2 * words * (profile.load + profile.store) / profile.issue_rate)
    )
    return FrontendCost(profile.name, tuple(stages))
