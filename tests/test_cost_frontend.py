"""The sww01 front end's cycles per frame (cost/frontend.py), stage by stage, worked out by hand."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest

from tinyinterp.cost.frontend import frontend_cost
from tinyinterp.cost.profiles import tomllib  # tomli before Python 3.11
from tinyinterp.errors import CostModelError


def _core_file(name: str) -> dict[str, object]:
    return tomllib.loads((files("tinyinterp.cost") / "data" / "cores" / f"{name}.toml").read_text())


def test_a_cortex_m7_frame_stage_by_stage() -> None:
    # The M7's FPv5-DP costs of the module's docstring: 1.2 cycles per float32 operation, 14 per VSQRT.F32,
    # 250 per double log10. A frame of 1024 samples, so 512 complex FFT points (log2 512 = 9).
    core = _core_file("cortex-m7")
    window_copy = 2 * (1200 // 4) * (core["load"] + core["store"]) / core["issue_rate"]  # type: ignore[operator]
    expected = [
        ("int16 to float, pre-emphasis, window", 1024 * 5 * 1.2),
        ("real FFT (arm_rfft_fast_f32, 1024)", (round(4.25 * 512 * 9) + 16 * 256 + 512) * 1.2),
        ("square roots (VSQRT.F32 or soft-float)", 512 * 14.0),
        ("magnitude, power (arm_cmplx_mag_f32)", (512 * 3 + 513 * 2) * 1.2),
        ("mel filterbank (987 MACs)", 987 * 2 * 1.2),
        ("clamp, offset, scale, quantize", 40 * 8 * 1.2),
        ("40 x log10 in double", 40 * 250.0),
        ("model window shift and copy", window_copy),
    ]
    cost = frontend_cost("cortex-m7")
    assert cost.core == "cortex-m7"
    assert [stage for stage, _ in cost.stages] == [stage for stage, _ in expected]
    assert [cycles for _, cycles in cost.stages] == pytest.approx([cycles for _, cycles in expected])
    total = sum(cycles for _, cycles in expected)
    assert cost.cycles == pytest.approx(total)
    assert cost.latency_us(280.0) == pytest.approx(total / 280.0)


def test_a_core_file_is_costed_by_its_name_and_an_unknown_one_is_named(tmp_path: Path) -> None:
    # A copy of the M4 file with its own load cost: float costs by its name, the copy by its load cost.
    text = (files("tinyinterp.cost") / "data" / "cores" / "cortex-m4.toml").read_text()
    edited = tmp_path / "m4.toml"
    edited.write_text(text.replace("load = 1.5", "load = 3.5"))
    cost = dict(frontend_cost(str(edited)).stages)
    assert cost["model window shift and copy"] == pytest.approx(2 * 300 * (3.5 + 1.0) / 1.0)
    assert cost["40 x log10 in double"] == 40 * 3000.0
    renamed = tmp_path / "m23.toml"
    renamed.write_text(text.replace('name = "cortex-m4"', 'name = "cortex-m23"'))
    with pytest.raises(
        CostModelError,
        match=r"^no sww01 front-end costs for core 'cortex-m23' \(known: "
        r"cortex-m0plus, cortex-m3, cortex-m4, cortex-m33, cortex-m7, cortex-m55, cortex-m85\)$",
    ):
        frontend_cost(str(renamed))
