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
from tinyinterp.errors import ModelError
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


def test_the_two_conv_plan_by_hand() -> None:
    # Tensors by index: x 0, w 1, h 2, v 3, y 4; the filters are constants, so never planned. Steps: the
    # subgraph input x lives from 0, op 0 (step 1) reads x and writes h, op 1 (step 2) reads h and writes y,
    # the output y lives to the last step. arm_convolve_s8 on the M4 asks 2 x 2 x 36 = 144 bytes at step 1.
    model = _two_conv_model().build()
    planned = arena.plan(model, arena.cmsis_nn(profiles.core("cortex-m4")))
    assert planned.buffers == (
        Buffer(256, 0, 1, ONLINE, "x", 0),
        Buffer(512, 1, 2, ONLINE, "h", 2),
        Buffer(512, 2, 2, ONLINE, "y", 4),
        Buffer(144, 1, 1, ONLINE, "scratch of op 0", op=0),
    )
    # Placed by size, ties reversed: y at 0, h above it (they meet at step 2), x at 0 (gone before y), the
    # scratch above x (both live at step 1) and below h (256 + 144 <= 512).
    assert planned.offsets == (0, 512, 0, 256)
    assert planned.head_bytes == 1024


def test_sizes_are_aligned_and_only_tensors_without_data_are_planned() -> None:
    b = ModelBuilder()
    x = b.input("x", (1, 5), "int8", scale=0.1, zero_point=0)  # 5 bytes, aligned to 16
    state = b.tensor("state", (1, 3), "int16", scale=0.1, zero_point=0, is_variable=True)
    empty = b.tensor("empty", (0, 5), "int8", scale=0.1, zero_point=0)
    y = b.tensor("y", (1, 17), "int8", scale=0.1, zero_point=0)  # 17 bytes, aligned to 32
    b.op("ADD", [x, state], [y])
    b.op("ADD", [x, empty], [y])
    b.output(y)
    planned = arena.buffers(b.build())
    # The variable state lives in the persistent area, a zero-size tensor is never allocated.
    assert [(item.name, item.size, item.first, item.last) for item in planned] == [
        ("x", 16, 0, 2),
        ("y", 32, 1, 2),
    ]
    assert [arena.align(n) for n in (0, 1, 16, 17, 32)] == [0, 16, 16, 32, 32]


def test_an_offline_planned_variable_tensor_is_in_the_arena() -> None:
    b = ModelBuilder()
    x = b.input("x", (1, 4), "int8", scale=0.1, zero_point=0)
    state = b.tensor("state", (1, 4), "int8", scale=0.1, zero_point=0, is_variable=True)
    y = b.tensor("y", (1, 4), "int8", scale=0.1, zero_point=0)
    b.op("ADD", [x, state], [y])
    b.output(y)
    model = b.build()
    metadata = struct.pack("<3I3i", 1, 0, 3, ONLINE, 64, ONLINE)
    planned = arena.plan(replace(model, metadata=(("OfflineMemoryAllocation", metadata),)))
    assert [(item.name, item.offline_offset) for item in planned.buffers] == [
        ("x", ONLINE),
        ("state", 64),
        ("y", ONLINE),
    ]
    assert dict(zip((item.name for item in planned.buffers), planned.offsets))["state"] == 64
    assert planned.head_bytes == 80


def test_a_variable_tensor_first_read_late_is_live_from_the_start() -> None:
    # A variable tensor holds its value from the previous invocation: read first by the third operator, it is
    # live from before the first (TFLM leaves its first use at -1), so no buffer of the first two steps may
    # share its bytes. Offline at 0, 16 bytes; x, a, b and y are 16 bytes each and at most two of them live
    # at once (x and a at step 1, a and b at 2, b and y at 3): 16 + 2 x 16 bytes.
    b = ModelBuilder()
    x = b.input("x", (1, 16), "int8", scale=0.1, zero_point=0)
    state = b.tensor("state", (1, 16), "int8", scale=0.1, zero_point=0, is_variable=True)
    a, c, y = (b.tensor(name, (1, 16), "int8", scale=0.1, zero_point=0) for name in ("a", "b", "y"))
    b.op("RELU", [x], [a])
    b.op("RELU", [a], [c])
    b.op("ADD", [c, state], [y])
    b.output(y)
    metadata = struct.pack("<3I5i", 1, 0, 5, ONLINE, 0, ONLINE, ONLINE, ONLINE)
    planned = arena.plan(replace(b.build(), metadata=(("OfflineMemoryAllocation", metadata),)))
    by_name = {item.name: (item, offset) for item, offset in zip(planned.buffers, planned.offsets)}
    assert (by_name["state"][0].first, by_name["state"][0].last, by_name["state"][1]) == (-1, 3, 0)
    assert all(offset >= 16 for name, (_, offset) in by_name.items() if name != "state")
    assert planned.head_bytes == 48


def test_int4_and_unsized_tensors() -> None:
    b = ModelBuilder()
    x = b.input("x", (1, 5), "int4", scale=0.1, zero_point=0)  # 5 nibbles: 3 bytes
    y = b.tensor("y", (1, 5), "int8", scale=0.1, zero_point=0)
    b.op("RELU", [x], [y])
    b.output(y)
    assert [item.size for item in arena.buffers(b.build())] == [16, 16]
    assert arena._nbytes(b.build().main.tensors[x]) == 3
    # 32 nibbles are 16 bytes (one aligned unit, not two); 9 int16 values are 18 bytes (two units).
    wide = ModelBuilder()
    x32 = wide.input("x", (1, 32), "int4", scale=0.1, zero_point=0)
    y16 = wide.tensor("y", (1, 9), "int16", scale=0.1, zero_point=0)
    wide.op("RELU", [x32], [y16])
    wide.output(y16)
    assert [item.size for item in arena.buffers(wide.build())] == [16, 32]
    assert [arena._nbytes(t) for t in wide.build().main.tensors] == [16, 18]
    s = ModelBuilder()
    text = s.input("text", (1, 2), "string")
    out = s.tensor("out", (1, 2), "int8", scale=0.1, zero_point=0)
    s.op("RELU", [text], [out])
    s.output(out)
    with pytest.raises(ModelError, match=r"^tensor 0 'text' has type STRING: size unknown$"):
        arena.plan(s.build())


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (
            struct.pack("<2I", 1, 0) + b"\0\0\0",
            "OfflineMemoryAllocation metadata is 11 bytes, shorter than its header",
        ),
        (struct.pack("<3I5i", 1, 0, 4, 0, 0, 0, 0, 0), "OfflineMemoryAllocation has 4 offsets for 5 tensors"),
        (struct.pack("<3I4i", 1, 0, 5, 0, 0, 0, 0), "OfflineMemoryAllocation has 5 offsets for 5 tensors"),
        (struct.pack("<3I", 1, 0, 2**32 - 1), "OfflineMemoryAllocation has 4294967295 offsets for 5 tensors"),
    ],
)
def test_malformed_offline_metadata_is_named(metadata: bytes, message: str) -> None:
    model = _two_conv_model().build()
    with pytest.raises(ModelError, match=f"^{message}$"):
        arena.plan(replace(model, metadata=(("OfflineMemoryAllocation", metadata),)))


def test_a_header_only_offline_table_of_no_tensors_is_read() -> None:
    # 12 bytes exactly: a header, and no offsets for a model without tensors.
    model = replace(
        ModelBuilder().build(), metadata=(("OfflineMemoryAllocation", struct.pack("<3I", 1, 0, 0)),)
    )
    assert arena.plan(model).head_bytes == 0


def test_persistent_bytes_by_hand() -> None:
    # TFLM's tail: 810 fixed, 24 per tensor (5), 82 per operator (2), each CONV_2D's OpData (registry) and an
    # int32 multiplier and shift per output channel (8 channels each).
    model = _two_conv_model().build()
    conv = COSTS["CONV_2D"].op_data_bytes
    assert arena.persistent_bytes(model) == 810 + 24 * 5 + 82 * 2 + 2 * (conv + 8 * 8)


def _fully_connected(scales: list[float], units: int = 3) -> ModelBuilder:
    b = ModelBuilder()
    x = b.input("x", (1, 6), "int8", scale=0.1, zero_point=0)
    w = b.constant("w", np.ones((units, 6)), "int8", scale=scales, zero_point=[0] * len(scales))
    y = b.tensor("y", (1, units), "int8", scale=0.1, zero_point=0)
    b.op("FULLY_CONNECTED", [x, w, -1], [y])
    b.output(y)
    return b


def test_persistent_bytes_of_per_channel_fully_connected_only() -> None:
    # 3 tensors and one op; per-channel weights add a multiplier and shift for each unit (3, or 2).
    fc = COSTS["FULLY_CONNECTED"].op_data_bytes
    assert arena.persistent_bytes(_fully_connected([0.5]).build()) == 810 + 24 * 3 + 82 + fc
    assert arena.persistent_bytes(_fully_connected([0.5] * 3).build()) == 810 + 24 * 3 + 82 + fc + 8 * 3
    assert (
        arena.persistent_bytes(_fully_connected([0.5] * 2, units=2).build()) == 810 + 24 * 3 + 82 + fc + 8 * 2
    )


def test_a_tensor_no_operator_uses_is_planned_outside_every_step() -> None:
    # z is never read or written: TFLM's allocation info leaves its first and last use at -1, so it overlaps
    # nothing. By size (ties reversed): z at 0, y at 0 (z never lives with it), x above y (both at step 1).
    b = ModelBuilder()
    x = b.input("x", (1, 32), "int8", scale=0.1, zero_point=0)
    y = b.tensor("y", (1, 32), "int8", scale=0.1, zero_point=0)
    b.tensor("z", (1, 64), "int8", scale=0.1, zero_point=0)
    b.op("RELU", [x], [y])
    b.output(y)
    planned = arena.plan(b.build())
    assert planned.buffers == (
        Buffer(32, 0, 1, ONLINE, "x", 0),
        Buffer(32, 1, 1, ONLINE, "y", 1),
        Buffer(64, -1, -1, ONLINE, "z", 2),
    )
    assert planned.offsets == (32, 0, 0)
    assert planned.head_bytes == 64
