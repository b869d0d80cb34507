"""Per-op cycle formulas: every supported op is costed, kernels are chosen as CMSIS-NN's wrappers do."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tinyinterp.cost import profiles
from tinyinterp.cost.estimate import estimate, layers_work
from tinyinterp.cost.folding import live_work
from tinyinterp.cost.registry import COSTS, layer_work, op_cost
from tinyinterp.model import ModelBuilder, load_model
from tinyinterp.model.ir import Model
from tinyinterp.ops import OPS

RNG = np.random.default_rng(0)
Q = {"scale": 0.05, "zero_point": 0}


def _weights(b: ModelBuilder, shape: tuple[int, ...]) -> int:
    return b.constant("w", RNG.integers(-8, 8, shape), "int8", scale=[0.01] * shape[0], zero_point=0)


def _conv(b: ModelBuilder, x: int) -> int:
    y = b.tensor("y", (1, 8, 8, 8), "int8", **Q)
    b.op("CONV_2D", [x, _weights(b, (8, 3, 3, 4)), -1], [y], padding="SAME", stride_w=1, stride_h=1)
    return y


def _depthwise(b: ModelBuilder, x: int) -> int:
    y = b.tensor("y", (1, 8, 8, 4), "int8", **Q)
    w = b.constant(
        "w", RNG.integers(-8, 8, (1, 3, 3, 4)), "int8", scale=[0.01] * 4, zero_point=0, quantized_dimension=3
    )
    b.op("DEPTHWISE_CONV_2D", [x, w, -1], [y], padding="SAME", stride_w=1, stride_h=1, depth_multiplier=1)
    return y


def _fully_connected(b: ModelBuilder, x: int) -> int:
    y = b.tensor("y", (1, 10), "int8", **Q)
    b.op("FULLY_CONNECTED", [x, _weights(b, (10, 256)), -1], [y])
    return y


def _pool(opcode: str) -> Callable[[ModelBuilder, int], int]:
    def make(b: ModelBuilder, x: int) -> int:
        y = b.tensor("y", (1, 4, 4, 4), "int8", **Q)
        b.op(opcode, [x], [y], padding="VALID", stride_w=2, stride_h=2, filter_width=2, filter_height=2)
        return y

    return make


def _binary(opcode: str) -> Callable[[ModelBuilder, int], int]:
    def make(b: ModelBuilder, x: int) -> int:
        other = b.input("x2", (1, 8, 8, 4), "int8", **Q)
        y = b.tensor("y", (1, 8, 8, 4), "int8", **Q)
        b.op(opcode, [x, other], [y])
        return y

    return make


def _unary(opcode: str, shape: tuple[int, ...] = (1, 8, 8, 4)) -> Callable[[ModelBuilder, int], int]:
    def make(b: ModelBuilder, x: int) -> int:
        y = b.tensor("y", shape, "int8", **Q)
        b.op(opcode, [x], [y])
        return y

    return make


# One-op models for the ops with a dedicated formula; any other op gets the generic fallback on _unary.
RECIPES: dict[str, Callable[[ModelBuilder, int], int]] = {
    "CONV_2D": _conv,
    "DEPTHWISE_CONV_2D": _depthwise,
    "FULLY_CONNECTED": _fully_connected,
    "AVERAGE_POOL_2D": _pool("AVERAGE_POOL_2D"),
    "MAX_POOL_2D": _pool("MAX_POOL_2D"),
    "ADD": _binary("ADD"),
    "SUB": _binary("SUB"),
    "MUL": _binary("MUL"),
    "SOFTMAX": _unary("SOFTMAX"),
    "RESHAPE": _unary("RESHAPE", (1, 256)),
    "SQUEEZE": _unary("SQUEEZE", (8, 8, 4)),
    "EXPAND_DIMS": _unary("EXPAND_DIMS", (1, 1, 8, 8, 4)),
}


def one_op_model(opcode: str) -> Model:
    b = ModelBuilder()
    x = b.input("x", (1, 8, 8, 4) if opcode != "FULLY_CONNECTED" else (1, 256), "int8", **Q)
    b.output(RECIPES.get(opcode, _unary(opcode))(b, x))
    return b.build()


@pytest.mark.parametrize("opcode", sorted(set(OPS) | set(COSTS)))
@pytest.mark.parametrize("core", ["cortex-m0plus", "cortex-m4", "cortex-m7", "cortex-m55"])
@pytest.mark.parametrize("kernels", ["cmsis-nn", "reference"])
def test_every_op_gets_a_cost(opcode: str, core: str, kernels: str) -> None:
    assert opcode in RECIPES or not op_cost(opcode).has_formula, f"add a one-op recipe for {opcode}"
    model = one_op_model(opcode)
    board = profiles.generic_board(core, 100)
    [work] = layers_work(model, profiles.core(core), board, 100, kernels)
    cycles = sum(work.terms.values())
    assert math.isfinite(cycles) and cycles > 0
    assert work.opcode == opcode and work.kernel


def test_ops_without_a_formula_use_the_documented_fallback() -> None:
    model = one_op_model("TANH")
    result = estimate(model, core="cortex-m4", clock_mhz=100)
    assert result.layers[0].kernel == "generic (tanh)"
    assert any("no dedicated cycle formula for TANH" in note for note in result.notes)


@pytest.mark.parametrize(("source", "target"), [("int8", "int32"), ("int16", "int32"), ("int32", "int8")])
def test_int32_quantize_is_costed_on_its_bytes(source: str, target: str) -> None:
    b = ModelBuilder()
    x = b.input("x", (1, 8, 8, 4), source, **Q)
    y = b.tensor("y", (1, 8, 8, 4), target, **Q)
    b.op("QUANTIZE", [x], [y])
    b.output(y)
    [layer] = estimate(b.build(), core="cortex-m4", clock_mhz=100).layers
    assert layer.activation_bytes == 256 * (np.dtype(source).itemsize + np.dtype(target).itemsize)
    assert math.isfinite(layer.cycles) and layer.cycles > 0


def _kernels(path: Path, core: str = "cortex-m4", kernels: str = "cmsis-nn") -> list[str]:
    model = load_model(path)
    return [
        w.kernel
        for w in layers_work(model, profiles.core(core), profiles.generic_board(core, 100), 100, kernels)
    ]


def test_cmsis_nn_kernel_choice(data_dir: Path) -> None:
    models = data_dir / "models"
    kws = _kernels(models / "kws_ref_model.tflite")
    assert kws[:3] == ["arm_convolve_s8", "arm_depthwise_conv_3x3_s8", "arm_convolve_1x1_s8_fast"]
    assert kws[-3:] == ["memcpy", "arm_fully_connected_s8", "arm_softmax_s8"]
    ic = _kernels(models / "pretrainedResnet_quant.tflite")
    assert ic[6] == "arm_convolve_1x1_s8"  # 1x1 with stride 2: not the fast path
    assert ic[3] == "arm_elementwise_add_s8"
    sww = _kernels(models / "str_ww_ref_model.tflite")
    assert sww[0] == "arm_depthwise_conv_s8_opt"  # 3x1 depthwise: no 3x3 fast path
    # Helium has no 3x3 depthwise kernel: the wrapper sends every unit-multiplier depthwise to _opt.
    assert _kernels(models / "kws_ref_model.tflite", "cortex-m55")[1] == "arm_depthwise_conv_s8_opt"
    assert (
        _kernels(models / "kws_ref_model.tflite", kernels="reference")[0]
        == "reference_integer_ops::ConvPerChannel"
    )


def test_cores_rank_as_their_microarchitectures(data_dir: Path) -> None:
    model = data_dir / "models" / "kws_ref_model.tflite"
    cycles = {
        core: estimate(model, core=core, clock_mhz=100).totals.cycles
        for core in ("cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m55", "cortex-m85")
    }
    assert cycles["cortex-m85"] < cycles["cortex-m55"] < cycles["cortex-m7"] < cycles["cortex-m4"]
    assert cycles["cortex-m4"] < cycles["cortex-m3"] < cycles["cortex-m0plus"]


def test_wait_states_make_higher_clocks_cost_cycles(data_dir: Path) -> None:
    model = data_dir / "models" / "ad01_int8.tflite"
    slow, fast = (estimate(model, "nucleo-l4r5zi", mhz) for mhz in (20, 120))
    assert fast.totals.cycles > slow.totals.cycles  # 5 wait states at 120 MHz, none at 20 MHz
    assert fast.totals.latency_ms < slow.totals.latency_ms
    generic = [estimate(model, core="cortex-m4", clock_mhz=mhz).totals for mhz in (50, 100)]
    assert generic[0].cycles == pytest.approx(generic[1].cycles)
    assert generic[0].latency_ms == pytest.approx(2 * generic[1].latency_ms)


def test_constant_channels(data_dir: Path) -> None:
    vww = load_model(data_dir / "models" / "vww_96_int8.tflite").main
    live = live_work(vww)
    macs = {
        op.index: w.macs
        for op, w in zip(
            vww.operators,
            layers_work(
                Model((vww,)),
                profiles.core("cortex-m4"),
                profiles.generic_board("cortex-m4", 100),
                100,
                "cmsis-nn",
            ),
        )
    }
    folded = sum(macs[i] * live[i].macs for i in live) / sum(macs[i] for i in live)
    assert 0.55 < folded < 0.6  # the VWW model's all-zero filters and what they feed
    kws = load_model(data_dir / "models" / "kws_ref_model.tflite").main
    assert all(fraction.macs == 1.0 for fraction in live_work(kws).values())


def test_stacks_that_fold_constants_skip_their_work(data_dir: Path) -> None:
    model = data_dir / "models" / "vww_96_int8.tflite"
    core, board = profiles.core("cortex-m7"), profiles.board("nucleo-h7a3zi-q")
    vww = load_model(model)
    plain = [sum(w.terms.values()) for w in layers_work(vww, core, board, 280, "cmsis-nn")]
    folded = [sum(w.terms.values()) for w in layers_work(vww, core, board, 280, "cmsis-nn", True)]
    live = live_work(vww.main)
    # Only layers with constant channels get cheaper, each by at most its dead MACs' share.
    for index, (before, after) in enumerate(zip(plain, folded, strict=True)):
        fraction = live[index].macs if index in live else 1.0
        assert after == pytest.approx(before) if fraction == 1.0 else after < before
        assert after >= fraction * before * (1 - 1e-9)
    # 42% of the MACs are dead; im2col copies and depthwise layers keep part of the cycles.
    assert 0.55 * sum(plain) < sum(folded) < 0.8 * sum(plain)


def test_conv_sizes() -> None:
    model = one_op_model("CONV_2D")
    op = model.main.operators[0]
    work = layer_work(
        model.main, op, profiles.core("cortex-m4"), profiles.generic_board("cortex-m4", 80), 80, "cmsis-nn"
    )
    assert work.macs == 8 * 8 * 8 * 3 * 3 * 4
    assert work.weight_bytes == 8 * 3 * 3 * 4
