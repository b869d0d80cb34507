"""Numerics profiles: named variants of the integer arithmetic that deployment stacks implement differently
from TFLM's reference kernels, so a stack's printed results can be reproduced bit for bit
(`Interpreter(..., numerics=NAME)`, `tinyinterp validate-log --numerics NAME|auto`).

- `tflm` (the default): TFLM's reference kernels, and CMSIS-NN's default build, which rounds like them:
  requantization is gemmlowp's rounding doubling high multiply, then a rounding right shift (two roundings).
- `single-rounding`: int8/int16 requantization of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and ADD
  rounds the 64-bit product of the sum and the multiplier once, half up, as CMSIS-NN's
  arm_nn_requantize does when built with CMSIS_NN_USE_SINGLE_ROUNDING. Measured on the published
  MLPerf Tiny v0.5-v1.1 logs: X-CUBE-AI (7.3, 8.0) and Plumerai (see docs/numerics.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyinterp.errors import TinyInterpError

# Requantization roundings: the kernels that requantize take one (fixedpoint.requantize_with).
TFLM_ROUNDING = 0  # gemmlowp's rounding doubling high multiply, then a rounding shift: two roundings
SINGLE_ROUNDING = 1  # the 64-bit product rounded once (CMSIS-NN built with CMSIS_NN_USE_SINGLE_ROUNDING)


@dataclass(frozen=True)
class Numerics:
    name: str
    rounding: int  # TFLM_ROUNDING or SINGLE_ROUNDING
    description: str


PROFILES = {
    profile.name: profile
    for profile in (
        Numerics("tflm", TFLM_ROUNDING, "TFLM's reference kernels: requantization rounded twice (gemmlowp)"),
        Numerics(
            "single-rounding",
            SINGLE_ROUNDING,
            "requantization rounded once, half up (CMSIS-NN with CMSIS_NN_USE_SINGLE_ROUNDING)",
        ),
    )
}
DEFAULT = "tflm"


def numerics_profile(name: str) -> Numerics:
    """The profile called `name`; TinyInterpError naming the known ones otherwise."""
    if name not in PROFILES:
        raise TinyInterpError(f"unknown numerics profile {name!r}; known: {', '.join(PROFILES)}")
    return PROFILES[name]
