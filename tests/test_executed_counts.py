"""The pure-Python parts of bench/executed_counts.py: instruction classes and memory accounting by region.

The tool itself needs arm-none-eabi-gcc, unicorn and a CMSIS-NN checkout and is not run here.
"""

from __future__ import annotations

import itertools

import pytest
from conftest import script

tool = script("bench/executed_counts.py")
REGION = {region.name: region for region in tool.REGIONS}


@pytest.mark.parametrize(
    ("mnemonic", "expected"),
    [
        # capstone's Thumb-2 spellings, with width suffixes and IT-block conditions
        ("add.w", "alu"),
        ("movgt", "alu"),
        ("sxtb16", "alu"),
        ("sxtab16", "alu"),
        ("pkhbt", "alu"),
        ("ssat", "alu"),
        ("bic", "alu"),
        ("bfi", "alu"),
        ("smlad", "simd_mac"),
        ("smladx", "simd_mac"),
        ("smlald", "simd_mac"),
        ("smuad", "simd_mac"),
        ("smlsd", "simd_mac"),
        ("smlabb", "mul"),
        ("smlal", "mul"),
        ("smull", "mul"),
        ("mla", "mul"),
        ("mls", "mul"),
        ("muls", "mul"),
        ("sdiv", "mul"),
        ("smmulr", "mul"),
        ("ldr.w", "load"),
        ("ldrsb", "load"),
        ("ldrbne", "load"),
        ("ldrd", "load"),
        ("ldm.w", "load"),
        ("pop.w", "load"),
        ("str", "store"),
        ("strh.w", "store"),
        ("strbge", "store"),
        ("stmdb", "store"),
        ("push", "store"),
        ("b", "branch"),
        ("b.w", "branch"),
        ("bne", "branch"),
        ("ble.w", "branch"),
        ("bls", "branch"),
        ("bl", "branch"),
        ("bx", "branch"),
        ("cbnz", "branch"),
        ("tbb", "branch"),
        ("it", "other"),
        ("itete", "other"),
        ("nop", "other"),
        ("vldrb.s16", "vector"),
        ("vmladava.s8", "vector"),
    ],
)
def test_instruction_class(mnemonic: str, expected: str) -> None:
    assert tool.instruction_class(mnemonic) == expected


def test_every_class_is_in_the_list() -> None:
    assert {
        tool.instruction_class(m) for m in ("add", "mul", "smlad", "ldr", "str", "b", "it", "vadd.i8")
    } == set(tool.CLASSES)


def test_memory_tally_accounts_each_access_to_its_region() -> None:
    tally = tool.MemoryTally(tool.REGIONS)
    weights, stack = REGION["weights"], REGION["stack"]
    tally.record(weights.base, 4, write=False)
    tally.record(weights.base + weights.size - 1, 1, write=False)
    tally.record(stack.base + 16, 4, write=True)
    tally.record(stack.base + 16, 4, write=False)
    assert tally.as_dict() == {
        "weights": {"reads": 2, "read_bytes": 5, "writes": 0, "write_bytes": 0},
        "stack": {"reads": 1, "read_bytes": 4, "writes": 1, "write_bytes": 4},
    }


def test_memory_tally_refuses_addresses_outside_the_regions() -> None:
    tally = tool.MemoryTally(tool.REGIONS)
    weights = REGION["weights"]
    with pytest.raises(tool.ExecutedCountsError, match="outside every region"):
        tally.record(weights.base + weights.size, 4, write=False)


@pytest.mark.parametrize("core", sorted(tool.TARGETS))
def test_regions_do_not_overlap(core: str) -> None:
    ordered = sorted(tool.TARGETS[core].regions, key=lambda r: r.base)
    assert all(a.base + a.size <= b.base for a, b in itertools.pairwise(ordered))


def test_scaled_layers_keep_their_width_and_channels() -> None:
    layer = tool.Layer("conv", "test", 1, 49, 10, 1, 25, 5, 64, 10, 4, 2, 2, 4, 1)
    small = tool.scaled(layer, layer.macs // 5)
    assert (small.in_w, small.out_w, small.in_c, small.out_c) == (10, 5, 1, 64)
    assert small.out_h == 5 and small.macs <= layer.macs // 5 and small.scaled_from == (49, 25)
    # rows (out_h - 1) * stride + kernel - padding of the input
    assert small.in_h == (5 - 1) * 2 + 10 - 4


# ---- the cost model's kernel choice against the wrapper's, as executed ---------------------------------

CORES = {"m4": "cortex-m4", "m3": "cortex-m3", "m55": "cortex-m55"}
WRAPPERS = ("arm_convolve_wrapper_s8", "arm_depthwise_conv_wrapper_s8")


def _wrapper_calls() -> list[tuple[str, dict]]:
    import json

    calls = []
    for suffix, core in CORES.items():
        data = json.loads((tool.DATA / f"executed_counts_{suffix}.json").read_text())
        calls += [(core, r) for r in data["records"] if r["function"] in WRAPPERS]
    return calls


@pytest.mark.parametrize(("core", "record"), _wrapper_calls())
def test_the_cost_model_picks_the_kernel_cmsis_nn_ran(core: str, record: dict) -> None:
    """Each wrapper call that bench/executed_counts.py ran: the model names the kernel it selected."""
    from tinyinterp.cost import estimate

    fields = {k: v for k, v in record["shape"].items() if k != "scaled_from"}
    layer = tool.Layer(op="conv" if "convolve" in record["function"] else "depthwise", source="", **fields)
    predicted = estimate(tool.one_layer_model(layer), core=core, clock_mhz=100).layers[0].kernel
    assert predicted == record["selected"], f"{record['source']}: {fields}"
