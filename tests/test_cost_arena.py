"""The arena plan: TFLM's greedy planner reproduced byte for byte, and the RAM and flash estimates."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conftest import REFERENCE_MODELS

from tinyinterp import zoo
from tinyinterp.cost import arena, profiles
from tinyinterp.cost.arena import ONLINE, Buffer
from tinyinterp.cost.registry import COSTS
from tinyinterp.model import ModelBuilder, load_model, save_model

# TFLM prints its allocations from C++ (MicroPrintf, to stderr): a child process's output captures them.
PRINT_ALLOCATIONS = (
    "import sys; from tflite_micro.python.tflite_micro import runtime; "
    "runtime.Interpreter.from_file(sys.argv[1]).print_allocations()"
)


@pytest.fixture(scope="module")
def tflm_allocations(tflm: ModuleType, data_dir: Path) -> dict[str, dict[str, int]]:
    """Per reference model, TFLM's "Arena allocation head/tail" bytes."""
    found = {}
    for name in REFERENCE_MODELS:
        command = [sys.executable, "-c", PRINT_ALLOCATIONS, str(data_dir / "models" / name)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        output = done.stdout + done.stderr
        found[name] = {
            m[0]: int(m[1]) for m in re.findall(r"Arena allocation (head|tail) (\d+) bytes", output)
        }
        assert set(found[name]) == {"head", "tail"}, output
    return found


@pytest.mark.parametrize("name", REFERENCE_MODELS)
def test_planned_head_equals_tflm(
    name: str, data_dir: Path, tflm_allocations: dict[str, dict[str, int]]
) -> None:
    plan = arena.plan(load_model(data_dir / "models" / name))
    assert plan.head_bytes == tflm_allocations[name]["head"]


@pytest.mark.parametrize("name", REFERENCE_MODELS)
def test_persistent_estimate_is_close(
    name: str, data_dir: Path, tflm_allocations: dict[str, dict[str, int]]
) -> None:
    estimate = arena.persistent_bytes(load_model(data_dir / "models" / name))
    assert estimate == pytest.approx(tflm_allocations[name]["tail"], rel=0.05)


def test_greedy_places_each_buffer_at_the_lowest_free_offset() -> None:
    # A and B never live together and share offset 0; C overlaps both in time and goes above A.
    items = [Buffer(96, 0, 1), Buffer(48, 2, 3), Buffer(16, 1, 2)]
    assert arena.greedy_offsets(items) == [0, 0, 96]


def test_equal_sizes_are_placed_in_reverse_order_of_addition() -> None:
    # TFLM fills its sort array from the tail, and its bubble sort keeps ties in that reversed order.
    assert arena.greedy_offsets([Buffer(32, 0, 1), Buffer(32, 0, 1)]) == [32, 0]


def test_offline_offsets_are_kept_and_online_buffers_avoid_them() -> None:
    items = [Buffer(64, 0, 2, offline_offset=0), Buffer(32, 1, 2), Buffer(16, 3, 4, offline_offset=64)]
    offsets = arena.greedy_offsets(items)
    assert offsets[0] == 0 and offsets[2] == 64
    assert offsets[1] >= 64  # lives with the first offline buffer


def _two_conv_model() -> ModelBuilder:
    rng = np.random.default_rng(0)
    b = ModelBuilder()
    x = b.input("x", (1, 8, 8, 4), "int8", scale=0.1, zero_point=0)
    w = b.constant("w", rng.integers(-5, 5, (8, 3, 3, 4)), "int8", scale=[0.01] * 8, zero_point=0)
    h = b.tensor("h", (1, 8, 8, 8), "int8", scale=0.1, zero_point=0)
    b.op("CONV_2D", [x, w, -1], [h], padding="SAME", stride_w=1, stride_h=1)
    v = b.constant("v", rng.integers(-5, 5, (8, 1, 1, 8)), "int8", scale=[0.01] * 8, zero_point=0)
    y = b.tensor("y", (1, 8, 8, 8), "int8", scale=0.1, zero_point=0)
    b.op("CONV_2D", [h, v, -1], [y], padding="VALID", stride_w=1, stride_h=1)
    b.output(y)
    return b


def test_offline_memory_allocation_metadata_is_followed() -> None:
    model = _two_conv_model().build()
    count = len(model.main.tensors)
    offsets = [ONLINE] * count
    offsets[model.main.inputs[0]] = 1024  # the input pinned far up
    metadata = struct.pack(f"<3I{count}i", 1, 0, count, *offsets)
    planned = arena.plan(replace(model, metadata=(("OfflineMemoryAllocation", metadata),)))
    placed = dict(zip((b.name for b in planned.buffers), planned.offsets))
    assert placed["x"] == 1024
    assert planned.head_bytes == 1024 + 256


def test_cmsis_nn_scratch_buffers_follow_get_buffer_size() -> None:
    model = _two_conv_model().build()
    m4, m0 = profiles.core("cortex-m4"), profiles.core("cortex-m0plus")
    op3x3, op1x1 = model.main.operators
    # arm_convolve_s8: 2 columns of the aligned im2col row in s16; 1x1 kernels need none.
    assert arena.cmsis_nn(m4)(model.main, op3x3) == [2 * 2 * 36]
    assert arena.cmsis_nn(m0)(model.main, op3x3) == [2 * 2 * 36]
    assert arena.cmsis_nn(m4)(model.main, op1x1) == []
    assert arena.cmsis_nn(profiles.core("cortex-m55"))(model.main, op3x3) == [4 * 48]
    assert arena.REFERENCE(model.main, op3x3) == []


def test_code_size_counts_each_kernel_type_once() -> None:
    model = _two_conv_model().build()
    assert arena.code_bytes(model) == arena.RUNTIME_CODE + COSTS["CONV_2D"].code_bytes


def test_persistent_estimate_counts_per_channel_fully_connected(tflm: ModuleType, tmp_path: Path) -> None:
    # zoo:tinyeats-gru has 41 per-channel FULLY_CONNECTED layers, whose multipliers TFLM keeps in the tail.
    path = tmp_path / "tinyeats-gru.tflite"
    model = zoo.open_model("zoo:tinyeats-gru")
    path.write_bytes(save_model(model))
    done = subprocess.run(
        [sys.executable, "-c", PRINT_ALLOCATIONS, str(path)], capture_output=True, text=True, check=True
    )
    tail = int(re.findall(r"Arena allocation tail (\d+) bytes", done.stdout + done.stderr)[0])
    assert arena.persistent_bytes(model) == pytest.approx(tail, rel=0.1)
