"""The per-op cycle formulas (tinyinterp/cost/cycles.py) on one-op models: which kernel each shape gets (as
CMSIS-NN's wrappers choose), the kernel call's geometry worked out by hand (TFLM's padding: half the total
padding before, rounded down), and each term built from its parts.

Expectations are structural, so that refitted numbers do not change them: a CMSIS-NN kernel's terms are the
loop model's count (tinyinterp/cost/loops.py, checked by hand in test_cost_trips.py) for the shape given here
by hand; a reference kernel's are its work (MACs, taps, outputs, elements, counted here) times the per-unit
mix the module names. Prices use a core with a distinct cost per instruction class, so that a class priced
as another shows.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from tinyinterp.cost import cycles, loops, profiles
from tinyinterp.cost.cycles import LayerWork, Mix
from tinyinterp.cost.estimate import layers_work
from tinyinterp.cost.loops import KernelShape
from tinyinterp.errors import ModelError
from tinyinterp.model import ModelBuilder
from tinyinterp.model.ir import Model, TensorType

Q = {"scale": 0.05, "zero_point": 0}
DISTINCT = {
    "alu": 2.0, "mul": 3.0, "dual_mac": 5.0, "load": 7.0, "store": 11.0, "branch": 13.0, "vector": 17.0,
    "issue_rate": 1.6, "requantize": 19.0, "registers": 8,
}  # fmt: skip
DSP = replace(profiles.core("cortex-m4"), **DISTINCT)
MVE = replace(profiles.core("cortex-m55"), **DISTINCT)
PLAIN = replace(profiles.core("cortex-m3"), **DISTINCT)


def test_a_mix_prices_each_class_and_spills_registers_beyond_the_core() -> None:
    # 12 registers live on a core with 8: 4 spilled, a store and a reload each per 2 units -> 2 per unit.
    mix = Mix(ld=1, st=2, alu=3, dmac=4, mul=5, br=6, vec=7, regs=12, iteration=2)
    scalar = (1 + 2) * 7 + (2 + 2) * 11 + 3 * 2 + 4 * 5 + 5 * 3 + 6 * 13
    assert mix.cycles(DSP) == pytest.approx(scalar / 1.6 + 7 * 17)
    assert Mix(ld=1, regs=4).cycles(DSP) == pytest.approx(7 / 1.6)  # fewer registers than the core: none
    # One iteration of 4 units: counts per unit, the iteration kept for the spills.
    assert cycles._per(4, regs=3, vec=14, ld=2) == Mix(ld=0.5, vec=3.5, regs=3, iteration=4)
    assert cycles._per(16, vec=2) == Mix(vec=0.125, iteration=16)  # no registers named: no spills


def work(model: Model, core: profiles.CoreProfile, kernels: str = "cmsis-nn") -> LayerWork:
    board = profiles.generic_board("cortex-m4", 100)  # no flash wait states: the flash term is 0
    return layers_work(model, core, board, 100, kernels)[0]


def loop_terms(
    kernel: str, core: profiles.CoreProfile, shape: KernelShape, wrapped: bool = False, calls: int = 1
) -> dict[str, float]:
    path = cycles.kernel_path(core, "cmsis-nn")
    counts = loops.executed_by_term(kernel, path, shape, wrapped, loops.dataset(path, core.architecture))
    return {term: calls * loops.price(by_class, core) for term, by_class in counts.items()}


def assert_terms(found: LayerWork, expected: dict[str, float], flash: bool = True) -> None:
    """The terms, with a flash term of 0 where the formula has one (the weights' or CMSIS-NN kernels');
    ops without weights are element-wise work, without MACs."""
    if found.opcode not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        assert (found.op_class, found.macs, found.weight_bytes) == ("elementwise", 0, 0)
    assert found.terms == pytest.approx({**expected, **({"flash": 0.0} if flash else {})}, rel=1e-12)


def conv(
    x_shape: tuple[int, int, int, int],
    w_shape: tuple[int, int, int, int],
    y_shape: tuple[int, int, int, int],
    **options: object,
) -> Model:
    b = ModelBuilder()
    x = b.input("x", x_shape, "int8", **Q)
    w = b.constant("w", np.ones(w_shape), "int8", scale=[0.01] * w_shape[0], zero_point=0)
    y = b.tensor("y", y_shape, "int8", **Q)
    b.op("CONV_2D", [x, w, -1], [y], **{"padding": "SAME", "stride_w": 1, "stride_h": 1, **options})
    b.output(y)
    return b.build()


# 9x9x3 input, 5 filters 3x3 at stride 2, SAME: 5x5 outputs; total padding (5 - 1) x 2 + 3 - 9 = 2, 1 before.
STRIDED = conv((1, 9, 9, 3), (5, 3, 3, 3), (1, 5, 5, 5), stride_w=2, stride_h=2)
STRIDED_SHAPE = KernelShape(1, 9, 9, 3, 5, 5, 5, 3, 3, 2, 2, 1, 1)


CORES = [(DSP, "dsp"), (PLAIN, "c"), (MVE, "mve")]


@pytest.mark.parametrize(("core", "path"), CORES, ids=["dsp", "c", "mve"])
def test_a_strided_convolution(core: profiles.CoreProfile, path: str) -> None:
    found = work(STRIDED, core)
    assert (found.kernel, found.op_class, found.path) == ("arm_convolve_s8", "conv", path)
    assert (found.macs, found.weight_bytes, found.activation_bytes) == (
        25 * 5 * 27,
        5 * 27,
        9 * 9 * 3 + 25 * 5,
    )
    assert_terms(found, loop_terms("arm_convolve_s8", core, STRIDED_SHAPE, wrapped=True))


def test_a_dilated_convolution() -> None:
    # Dilation 2: a 5x5 reach; 9x9 outputs at stride 1, total padding 8 + 5 - 9 = 4, 2 before.
    model = conv((1, 9, 9, 3), (5, 3, 3, 3), (1, 9, 9, 5), dilation_w_factor=2, dilation_h_factor=2)
    shape = KernelShape(1, 9, 9, 3, 9, 9, 5, 3, 3, 1, 1, 2, 2, 2, 2)
    assert_terms(work(model, DSP), loop_terms("arm_convolve_s8", DSP, shape, wrapped=True))


@pytest.mark.parametrize(
    ("x", "filters", "y", "shape", "calls"),
    [
        # 8 input channels, filters over 4: 2 groups of 3 filters (6 in all), each its own call.
        ((1, 6, 6, 8), (6, 3, 3, 4), (1, 6, 6, 6), KernelShape(1, 6, 6, 4, 6, 6, 3, 3, 3, 1, 1, 1, 1), 2),
        # 4 input channels, filters over 1: 4 groups of 2 filters, each a call over one channel.
        ((1, 4, 4, 4), (8, 3, 3, 1), (1, 4, 4, 8), KernelShape(1, 4, 4, 1, 4, 4, 2, 3, 3, 1, 1, 1, 1), 4),
    ],
)
def test_a_grouped_convolution_runs_once_per_group(
    x: tuple[int, ...], filters: tuple[int, ...], y: tuple[int, ...], shape: KernelShape, calls: int
) -> None:
    found = work(conv(x, filters, y), DSP)
    assert found.kernel == "arm_convolve_s8"
    assert_terms(found, loop_terms("arm_convolve_s8", DSP, shape, wrapped=True, calls=calls))


@pytest.mark.parametrize(("stride", "kernel"), [(1, "arm_convolve_1x1_s8_fast"), (2, "arm_convolve_1x1_s8")])
def test_pointwise_convolutions(stride: int, kernel: str) -> None:
    out = 8 // stride
    model = conv((2, 8, 8, 6), (5, 1, 1, 6), (2, out, out, 5), stride_w=stride, stride_h=stride)
    found = work(model, DSP)
    assert (found.kernel, found.op_class) == (kernel, "pointwise_shallow")
    shape = KernelShape(2, 8, 8, 6, out, out, 5, 1, 1, stride, stride)
    assert_terms(found, loop_terms(kernel, DSP, shape, wrapped=True))
    # A stride in one direction only leaves the fast path too.
    if stride == 2:
        assert work(conv((1, 8, 8, 6), (5, 1, 1, 6), (1, 8, 4, 5), stride_w=2), DSP).kernel == kernel


@pytest.mark.parametrize(("in_c", "op_class"), [(63, "pointwise_shallow"), (64, "pointwise")])
@pytest.mark.parametrize("kernels", ["cmsis-nn", "reference"])
def test_a_pointwise_convolution_is_shallow_below_64_input_channels(
    in_c: int, op_class: str, kernels: str
) -> None:
    # 64 channels: four passes of CMSIS-NN's 16-channel inner block per output.
    found = work(conv((1, 2, 2, in_c), (5, 1, 1, in_c), (1, 2, 2, 5)), DSP, kernels)
    assert found.op_class == op_class


def test_a_pointwise_convolution_on_the_reference_kernels() -> None:
    model = conv((1, 4, 4, 6), (5, 1, 1, 6), (1, 4, 4, 5))
    found = work(model, DSP, "reference")
    assert (found.kernel, found.op_class, found.path) == (
        "reference_integer_ops::ConvPerChannel",
        "pointwise_shallow",
        "reference",
    )


@pytest.mark.parametrize(("in_c", "kernel"), [(8, "arm_convolve_1_x_n_s8"), (3, "arm_convolve_s8")])
def test_one_row_convolutions(in_c: int, kernel: str) -> None:
    """A 1x3 kernel along one row of 9: arm_convolve_1_x_n_s8 when a row step (stride x channels) is a
    multiple of 4 bytes; 1 x 7 outputs (VALID)."""
    model = conv((1, 1, 9, in_c), (4, 1, 3, in_c), (1, 1, 7, 4), padding="VALID")
    found = work(model, DSP)
    assert found.kernel == kernel
    shape = KernelShape(1, 1, 9, in_c, 1, 7, 4, 1, 3)
    assert_terms(found, loop_terms(kernel, DSP, shape, wrapped=True))


def test_the_reference_convolution() -> None:
    """TFLM's reference conv: per MAC the reference mix, per window tap 6 ALU operations and a branch of
    index arithmetic, per output a reference requantization."""
    found = work(STRIDED, DSP, "reference")
    macs, taps, outputs = 25 * 5 * 27, 25 * 9, 25 * 5
    assert (found.kernel, found.op_class, found.macs) == (
        "reference_integer_ops::ConvPerChannel",
        "conv",
        macs,
    )
    assert_terms(
        found,
        {
            "mac": macs * cycles.REFERENCE_MAC.cycles(DSP),
            "data": taps * (6 * 2 + 13) / 1.6,
            "requant": outputs * 19 * cycles.REFERENCE_REQUANTIZE,
        },
    )


def depthwise(
    x_shape: tuple[int, int, int, int], k: tuple[int, int], multiplier: int = 1, **options: object
) -> Model:
    n, h, w, c = x_shape
    out_c = c * multiplier
    b = ModelBuilder()
    x = b.input("x", x_shape, "int8", **Q)
    wt = b.constant(
        "w", np.ones((1, *k, out_c)), "int8", scale=[0.01] * out_c, zero_point=0, quantized_dimension=3
    )
    y = b.tensor("y", (n, h, w, out_c), "int8", **Q)
    settings = {"padding": "SAME", "stride_w": 1, "stride_h": 1, "depth_multiplier": multiplier, **options}
    b.op("DEPTHWISE_CONV_2D", [x, wt, -1], [y], **settings)
    b.output(y)
    return b.build()


UNIT = KernelShape(
    1, 6, 6, 8, 6, 6, 8, 3, 3, 1, 1, 1, 1
)  # 6x6x8, 3x3 SAME at stride 1: 1 row, 1 column before


@pytest.mark.parametrize(
    ("model", "core", "kernel", "shape"),
    [
        # 3x3: the 3x3 kernel on DSP, _opt on MVE (Helium has no 3x3 kernel).
        (depthwise((1, 6, 6, 8), (3, 3)), DSP, "arm_depthwise_conv_3x3_s8", UNIT),
        (depthwise((1, 6, 6, 8), (3, 3)), MVE, "arm_depthwise_conv_s8_opt", UNIT),
        # 5x3 (2 rows, 1 column before): _opt.
        (depthwise((1, 6, 6, 8), (5, 3)), DSP, "arm_depthwise_conv_s8_opt", replace(UNIT, k_h=5, pad_h=2)),
        # A depth multiplier, a batch of 2, a dilation: the generic kernel.
        (depthwise((1, 6, 6, 4), (3, 3), 2), DSP, "arm_depthwise_conv_s8", replace(UNIT, in_c=4)),
        (depthwise((2, 6, 6, 8), (3, 3)), DSP, "arm_depthwise_conv_s8", replace(UNIT, n=2)),
        (
            depthwise((1, 6, 6, 8), (3, 3), dilation_w_factor=2, dilation_h_factor=2),
            DSP,
            "arm_depthwise_conv_s8",
            replace(UNIT, pad_h=2, pad_w=2, dilation_h=2, dilation_w=2),
        ),
    ],
)
def test_depthwise_kernels(model: Model, core: profiles.CoreProfile, kernel: str, shape: KernelShape) -> None:
    found = work(model, core)
    assert (found.kernel, found.op_class) == (kernel, "depthwise")
    assert found.macs == shape.pixels * shape.out_c * shape.k_h * shape.k_w
    assert_terms(found, loop_terms(kernel, core, shape, wrapped=True))


def test_the_reference_depthwise() -> None:
    found = work(depthwise((1, 6, 6, 8), (3, 3)), DSP, "reference")
    macs = 36 * 8 * 9
    assert (found.kernel, found.op_class, found.macs) == (
        "reference_integer_ops::DepthwiseConvPerChannel",
        "depthwise",
        macs,
    )
    assert_terms(
        found,
        {
            "mac": macs * cycles.REFERENCE_MAC.cycles(DSP),
            "requant": 36 * 8 * 19 * cycles.REFERENCE_REQUANTIZE,
        },
    )


def fully_connected(rows: int = 3, depth: int = 39, units: int = 11) -> Model:
    b = ModelBuilder()
    x = b.input("x", (rows, depth), "int8", **Q)
    w = b.constant("w", np.ones((units, depth)), "int8", scale=0.01, zero_point=0)
    y = b.tensor("y", (rows, units), "int8", **Q)
    b.op("FULLY_CONNECTED", [x, w, -1], [y])
    b.output(y)
    return b.build()


@pytest.mark.parametrize("core", [DSP, PLAIN, MVE], ids=["dsp", "c", "mve"])
def test_fully_connected(core: profiles.CoreProfile) -> None:
    found = work(fully_connected(), core)
    assert (found.kernel, found.op_class, found.macs) == ("arm_fully_connected_s8", "fc", 3 * 11 * 39)
    assert_terms(found, loop_terms("arm_fully_connected_s8", core, KernelShape(n=3, in_c=39, out_c=11)))
    reference = work(fully_connected(), core, "reference")
    assert (reference.kernel, reference.op_class, reference.macs) == (
        "reference_integer_ops::FullyConnected",
        "fc",
        3 * 11 * 39,
    )
    assert_terms(
        reference,
        {
            "mac": 3 * 11 * 39 * cycles.REFERENCE_FC_MAC.cycles(core),
            "requant": 3 * 11 * 19 * cycles.REFERENCE_REQUANTIZE,
        },
    )


def pool(opcode: str) -> Model:
    """2 images of 5x4 x 19 channels, a 3x2 window at stride 2, SAME: 3x2 outputs; rows (3 - 1) x 2 + 3 - 5
    = 2 of padding, 1 before; columns (2 - 1) x 2 + 2 - 4 = 0."""
    b = ModelBuilder()
    x = b.input("x", (2, 5, 4, 19), "int8", **Q)
    y = b.tensor("y", (2, 3, 2, 19), "int8", **Q)
    b.op(opcode, [x], [y], padding="SAME", stride_w=2, stride_h=2, filter_width=2, filter_height=3)
    b.output(y)
    return b.build()


POOL_SHAPE = KernelShape(2, 5, 4, 19, 3, 2, 19, 3, 2, 2, 2, 1, 0)
POOL_TAPS = 56  # inside the input, of 12 x 6


@pytest.mark.parametrize("core", [DSP, PLAIN, MVE], ids=["dsp", "c", "mve"])
def test_average_pool(core: profiles.CoreProfile) -> None:
    found = work(pool("AVERAGE_POOL_2D"), core)
    assert (found.kernel, found.op_class, found.macs) == ("arm_avgpool_s8", "elementwise", 0)
    assert_terms(found, loop_terms("arm_avgpool_s8", core, POOL_SHAPE))
    reference = work(pool("AVERAGE_POOL_2D"), core, "reference")
    assert reference.kernel == "reference_integer_ops::AveragePool"
    assert_terms(
        reference,
        {
            "data": POOL_TAPS * 19 * cycles.POOL_ACCUMULATE.cycles(core),
            "requant": 12 * 19 * cycles.DIVIDE.cycles(core),
        },
        flash=False,
    )


def test_max_pool() -> None:
    for core, kernels, kernel, mix in (
        (DSP, "cmsis-nn", "arm_max_pool_s8", cycles.POOL_MAX),
        (MVE, "cmsis-nn", "arm_max_pool_s8", cycles.POOL_MAX_MVE),
        (MVE, "reference", "reference_integer_ops::MaxPool", cycles.POOL_MAX),
    ):
        found = work(pool("MAX_POOL_2D"), core, kernels)
        assert found.kernel == kernel
        assert_terms(found, {"data": POOL_TAPS * 19 * mix.cycles(core)}, flash=False)


def binary(opcode: str, elements: int = 46) -> Model:
    """`elements` outputs; the first input broadcast along the first dimension (half as many elements)."""
    b = ModelBuilder()
    x1, x2 = b.input("x1", (1, elements // 2), "int8", **Q), b.input("x2", (2, elements // 2), "int8", **Q)
    y = b.tensor("y", (2, elements // 2), "int8", **Q)
    b.op(opcode, [x1, x2], [y])
    b.output(y)
    return b.build()


def scalar_element(core: profiles.CoreProfile, requantizations: float) -> float:
    """Per element of a scalar binary kernel: 2 loads, 4 ALU operations, a store and the rescalings."""
    return (2 * 7 + 4 * 2 + 11) / 1.6 + requantizations * 19


def test_add() -> None:
    for core in (DSP, PLAIN, MVE):
        found = work(binary("ADD"), core)
        assert (found.kernel, found.op_class) == ("arm_elementwise_add_s8", "elementwise")
        assert_terms(found, loop_terms("arm_elementwise_add_s8", core, KernelShape(in_c=46)))
    reference = work(binary("ADD"), DSP, "reference")
    assert reference.kernel == "reference_integer_ops::Add"
    assert_terms(reference, {"data": 46 * scalar_element(DSP, 3)}, flash=False)


def test_sub_runs_the_reference_loop_on_every_core() -> None:
    for core, kernels in ((DSP, "cmsis-nn"), (MVE, "cmsis-nn"), (DSP, "reference")):
        found = work(binary("SUB"), core, kernels)
        assert found.kernel == "reference_ops::Sub"
        assert_terms(found, {"data": 46 * scalar_element(core, 3)}, flash=False)
    # The scalar loop on an MVE core: its stack factors are the DSP kernels' ones.
    assert work(binary("SUB"), MVE).path == "dsp"
    assert work(binary("SUB"), DSP, "reference").path == "reference"


def test_mul() -> None:
    helium = work(binary("MUL"), MVE)
    assert (helium.kernel, helium.path) == ("arm_elementwise_mul_s8", "mve")
    assert_terms(helium, {"data": 46 * 14 / 4 * 17}, flash=False)  # 14 vector instructions per 4 lanes
    scalar = work(binary("MUL"), DSP)
    assert scalar.kernel == "arm_elementwise_mul_s8"
    assert_terms(scalar, {"data": 46 * scalar_element(DSP, 1)}, flash=False)
    reference = work(binary("MUL"), MVE, "reference")
    assert (reference.kernel, reference.path) == ("reference_integer_ops::Mul", "reference")
    assert_terms(reference, {"data": 46 * scalar_element(MVE, 1)}, flash=False)


def unary(opcode: str, x_shape: tuple[int, ...], y_shape: tuple[int, ...], dtype: str = "int8") -> Model:
    b = ModelBuilder()
    x = b.input("x", x_shape, dtype, **Q)
    y = b.tensor("y", y_shape, dtype, **Q)
    b.op(opcode, [x], [y])
    b.output(y)
    return b.build()


def test_softmax() -> None:
    # Rows of the last dimension: 2 x 3 rows of 10.
    model = unary("SOFTMAX", (2, 3, 10), (2, 3, 10))
    for core in (DSP, MVE):
        found = work(model, core)
        assert found.kernel == "arm_softmax_s8"
        assert_terms(found, loop_terms("arm_softmax_s8", core, KernelShape(n=6, in_c=10, out_c=10)))
    reference = work(model, DSP, "reference")
    assert reference.kernel == "reference_ops::Softmax"
    assert_terms(reference, {"data": 60 * cycles.SOFTMAX_ELEMENT.cycles(DSP)}, flash=False)
    # Rows of one value: 5 of them.
    single = work(unary("SOFTMAX", (5, 1), (5, 1)), DSP)
    assert_terms(single, loop_terms("arm_softmax_s8", DSP, KernelShape(n=5, in_c=1, out_c=1)))


def test_reshape_copies_its_bytes() -> None:
    found = work(unary("RESHAPE", (1, 4, 5, 3), (1, 60), "int16"), MVE)
    assert (found.kernel, found.path) == ("memcpy", "dsp")
    assert_terms(found, {"data": 60 * 2 * cycles.COPY_BYTE.cycles(MVE)}, flash=False)


def test_the_generic_fallback() -> None:
    found = work(unary("TANH", (1, 8, 8, 4), (1, 8, 8, 4)), MVE)
    assert (found.kernel, found.path) == ("generic (tanh)", "dsp")
    reads = writes = 256
    assert_terms(
        found,
        {
            "data": reads * 7 / 1.6 + writes * cycles.GENERIC_ELEMENT.cycles(MVE),
            "requant": writes * 19 * cycles.GENERIC_REQUANTIZE,
        },
        flash=False,
    )


def test_bytes_of_int4_and_string_tensors() -> None:
    model = fully_connected(rows=1, depth=7, units=3)
    subgraph = model.main
    retyped = tuple(
        replace(t, dtype=TensorType.INT4)
        if t.name == "w"
        else replace(t, dtype=TensorType.STRING)
        if t.name == "x"
        else t
        for t in subgraph.tensors
    )
    found = work(Model((replace(subgraph, tensors=retyped),)), DSP)
    # 21 int4 weights in 11 bytes; the string input has no fixed size; the int8 output 3 bytes.
    assert (found.weight_bytes, found.activation_bytes) == (11, 3)


def flash(model: Model, board: profiles.BoardProfile, kernels: str = "cmsis-nn") -> float:
    core = profiles.core(board.core)
    return layers_work(model, core, board, board.clock_mhz, kernels)[0].terms["flash"]


def weight_bytes(kernel: str, trips: dict[str, int], data: str = "dsp") -> float:
    """Weight bytes a kernel call loads: trip counts (counted by hand in the test) x the bytes each loop body
    loads, as measured (`weight_read_bytes` of the loop data file; a body the measurements never ran has
    none)."""
    per_body = json.loads((loops.LOOP_DATA / f"{data}.json").read_text())["weight_read_bytes"][kernel]
    return sum(times * per_body.get(body, 0.0) for body, times in trips.items())


def test_weights_are_read_from_flash_as_often_as_the_loops_load_them() -> None:
    """Without a data cache every weight load reads flash again. On DSP and plain C, the bytes CMSIS-NN's
    loops load (measured per loop body); on MVE, whose measurements count no loads, one pass over the filter
    per 4 output pixels; TFLM's reference conv and depthwise one pass per pixel, FULLY_CONNECTED per batch
    row; always at least one. Each flash line read costs the board's stall."""
    board = profiles.board("nucleo-l4r5zi")  # Cortex-M4 (DSP), no cache in front of flash
    per_byte = board.flash_line_stall(board.clock_mhz) / board.weight_line_bytes()
    assert per_byte > 0
    # 5 filters of 3x3x3 over 25 pixels: 12 pixel pairs x (2 filter pairs + the odd filter), 27 columns as 6
    # steps of 4 and 3 single ones; the odd pixel's 5 filters. The kernel reads each filter once per pixel
    # pair and once for the odd pixel: 12 x 135 + 135 = 1,755 bytes (the odd pixel's single columns never
    # ran in the grid: the measured bodies come within 1%).
    trips = {"mk_pair_4": 24 * 6, "mk_pair_1": 24 * 3, "mk_single_4": 12 * 6, "mk_single_1": 12 * 3}
    strided = weight_bytes("arm_convolve_s8", {**trips, "odd_filter_4": 5 * 6, "odd_filter_1": 5 * 3})
    assert strided == pytest.approx(12 * 135 + 135, rel=0.01)
    assert flash(STRIDED, board) == pytest.approx(strided * per_byte)
    assert flash(STRIDED, board, "reference") == pytest.approx(135 * 25 * per_byte)
    # 128 pixels in 64 pairs against 2 pairs of filter rows, 6 channels: one step of 4 and 2 single
    # columns each (no shape of the grid has them: not counted); the filter rows' sums read every column of
    # both pairs once; the odd filter row, every column for each of the 128 pixels.
    pointwise = conv((2, 8, 8, 6), (5, 1, 1, 6), (2, 8, 8, 5))
    fast = weight_bytes(
        "arm_convolve_1x1_s8_fast",
        {"mm_block_4": 2 * 64, "mm_block_1": 2 * 64 * 2, "mm_row_pair_sum": 2 * 6, "mm_odd_rhs_col": 128 * 6},
    )
    assert fast == 64 * 2 * 8 + 2 * 6 * 2 + 128 * 6
    assert flash(pointwise, board) == pytest.approx(fast * per_byte)
    # 3x3 depthwise over 6x6 (padding 1): 36 pixels, 16 kernel rows inside the input per column x 6 columns,
    # 2 groups of 4 channels.
    three = weight_bytes("arm_depthwise_conv_3x3_s8", {"pixel": 36, "quad_row": 16 * 6 * 2})
    assert flash(depthwise((1, 6, 6, 8), (3, 3)), board) == pytest.approx(three * per_byte)
    assert flash(depthwise((1, 6, 6, 8), (3, 3)), board, "reference") == pytest.approx(72 * 36 * per_byte)
    # 3 rows x (5 pairs of units, then the odd unit) x (9 steps of 4 values, 3 single ones): every weight
    # once per row, 11 x 39 x 3 bytes (the measured bodies come within 1%).
    pairs, odd = {"pair": 15, "pair_4": 15 * 9, "pair_1": 15 * 3}, {"odd": 3, "odd_4": 3 * 9, "odd_1": 3 * 3}
    fc = weight_bytes("arm_fully_connected_s8", {**pairs, **odd})
    assert fc == pytest.approx(11 * 39 * 3, rel=0.01)
    assert flash(fully_connected(), board) == pytest.approx(fc * per_byte)
    assert flash(fully_connected(), board, "reference") == pytest.approx(11 * 39 * 3 * per_byte)
    one_pixel = conv((1, 3, 3, 3), (5, 3, 3, 3), (1, 1, 1, 5), padding="VALID")
    assert flash(one_pixel, board) == pytest.approx(135 * per_byte)  # fewer loads than the filter: one read
    helium = profiles.board("ek-ra8d1")  # Cortex-M85, D-cache off
    per_byte = helium.flash_line_stall(helium.clock_mhz) / helium.weight_line_bytes()
    assert flash(STRIDED, helium) == pytest.approx(135 * 25 / 4 * per_byte)
    assert flash(pointwise, helium) == pytest.approx(30 * 128 / 4 * per_byte)


def test_a_data_cache_keeps_a_filter_that_fits() -> None:
    """With the M85's 32 KB D-cache on, a filter re-read after the kernel's other reads stays cached when the
    whole filter fits (the MVE kernels go over all of it between two uses of a weight): read once, in cache
    lines; 64 filters of 3x3x64 (36,864 bytes) do not fit."""
    board = profiles.with_settings(profiles.board("ek-ra8d1"), ["dcache=true"])
    per_byte = board.flash_line_stall(board.clock_mhz) / board.weight_line_bytes()
    assert board.weight_line_bytes() == 32
    assert flash(STRIDED, board) == pytest.approx(135 * per_byte)
    pointwise = conv((2, 8, 8, 6), (5, 1, 1, 6), (2, 8, 8, 5))
    assert flash(pointwise, board) == pytest.approx(30 * per_byte)
    large = conv((1, 4, 4, 64), (64, 3, 3, 64), (1, 4, 4, 64))
    assert flash(large, board) == pytest.approx(36_864 * 16 / 4 * per_byte)
    # The same holds for a pointwise filter on MVE: 256 filters of 160 channels (40,960 bytes) do not fit.
    large_pointwise = conv((1, 4, 4, 160), (256, 1, 1, 160), (1, 4, 4, 256))
    assert flash(large_pointwise, board) == pytest.approx(40_960 * 16 / 4 * per_byte)


def test_a_data_cache_keeps_a_pointwise_filter_when_two_rows_fit() -> None:
    """On DSP and plain C, arm_convolve_1x1_s8_fast goes over two filter rows (2 x input channels) between
    two uses of a weight: with the M7's 4 KB D-cache (on by default), rows of 1,500 channels (3,000 bytes)
    stay cached, and the filter is read from flash once; rows of 2,100 (4,200 bytes) do not, and it costs
    what it costs without a cache. 4 pixels in 2 pairs: the uncached kernel reads the filter about twice."""
    board = profiles.board("disco-f746ng")
    uncached = profiles.with_settings(board, ["dcache=false"])
    per_byte = board.flash_line_stall(board.clock_mhz) / board.weight_line_bytes()
    assert (board.cache_kb, board.core, board.dcache) == (4, "cortex-m7", True)
    fits = conv((1, 1, 4, 1500), (2, 1, 1, 1500), (1, 1, 4, 2))
    assert flash(fits, board) == pytest.approx(3000 * per_byte)
    assert flash(fits, uncached) > 1.5 * 3000 * per_byte
    spills = conv((1, 1, 4, 2100), (2, 1, 1, 2100), (1, 1, 4, 2))
    assert flash(spills, board) == pytest.approx(flash(spills, uncached))
    assert flash(spills, board) > 1.5 * 4200 * per_byte


def test_a_one_row_convolution_over_one_channel() -> None:
    # One channel at stride 4: a row step of 4 bytes, so arm_convolve_1_x_n_s8; (9 - 3) // 4 + 1 = 2 outputs.
    model = conv((1, 1, 9, 1), (4, 1, 3, 1), (1, 1, 2, 4), padding="VALID", stride_w=4)
    found = work(model, DSP)
    assert found.kernel == "arm_convolve_1_x_n_s8"
    shape = KernelShape(1, 1, 9, 1, 1, 2, 4, 1, 3, 1, 4)
    assert_terms(found, loop_terms("arm_convolve_1_x_n_s8", DSP, shape, wrapped=True))


def test_a_fully_connected_layer_of_one_unit() -> None:
    # 5 rows of 39 values into one unit: 5 rows of the kernel, 5 requantizations on the reference kernels.
    found = work(fully_connected(rows=5, units=1), DSP)
    assert_terms(found, loop_terms("arm_fully_connected_s8", DSP, KernelShape(n=5, in_c=39, out_c=1)))
    reference = work(fully_connected(rows=5, units=1), DSP, "reference")
    assert reference.terms["requant"] == pytest.approx(5 * 19 * cycles.REFERENCE_REQUANTIZE)


def test_a_one_byte_filter_stalls_and_a_slow_flash_bus_costs_without_wait_states() -> None:
    """Every flash read of a weight stalls, even of a 1-byte filter: TFLM's reference 1x1 conv of one channel
    reads it once per pixel (4 reads, no cache on the L4R5's data path). A flash with 1 ns access has no wait
    state below 1 GHz, but read over a bus at half the core's clock each line costs 2 core cycles, 1 more
    than a load from SRAM."""
    board = profiles.board("nucleo-l4r5zi")
    per_byte = board.flash_line_stall(board.clock_mhz) / board.weight_line_bytes()
    one_byte = conv((1, 2, 2, 1), (1, 1, 1, 1), (1, 2, 2, 1))
    assert flash(one_byte, board, "reference") == pytest.approx(4 * per_byte)
    slow_bus = replace(board, flash_access_ns=1.0, flash_bus_mhz=board.clock_mhz / 2)
    assert slow_bus.wait_states(board.clock_mhz) == 0
    assert flash(STRIDED, slow_bus, "reference") == pytest.approx(135 * 25 * 1 / board.flash_line_bytes)


def test_a_context_names_absent_tensors_none_and_keeps_tensor_0() -> None:
    # The output is tensor 0 (made first); the conv has no bias (-1): inputs at 2 and beyond are absent.
    b = ModelBuilder()
    y = b.tensor("y", (1, 2, 2, 3), "int8", **Q)
    x = b.input("x", (1, 2, 2, 4), "int8", **Q)
    w = b.constant("w", np.ones((3, 1, 1, 4)), "int8", scale=[0.01] * 3, zero_point=0)
    b.op("CONV_2D", [x, w, -1], [y], padding="VALID", stride_w=1, stride_h=1)
    b.output(y)
    model = b.build()
    board = profiles.generic_board("cortex-m4", 100)
    ctx = cycles.Context(model.main, model.main.operators[0], DSP, board, 100, "dsp")
    assert (ctx.tensor(0).name, ctx.tensor(1).name, ctx.tensor(0, output=True).name) == ("x", "w", "y")
    assert ctx.tensor(2) is None and ctx.tensor(3) is None and ctx.tensor(1, output=True) is None
    assert [t.name for t in ctx.outputs()] == ["y"]
    assert [t.name for t in ctx.inputs()] == ["x", "w"]
    # the arena bytes: the 16 input and 12 output bytes
    assert work(model, DSP).activation_bytes == 16 + 12


def test_bytes_of_an_even_number_of_int4_values() -> None:
    # 4 units x 6 int4 weights: 24 nibbles in 12 bytes.
    model = fully_connected(rows=1, depth=6, units=4)
    retyped = tuple(replace(t, dtype=TensorType.INT4) if t.name == "w" else t for t in model.main.tensors)
    found = work(Model((replace(model.main, tensors=retyped),)), DSP)
    assert found.weight_bytes == 12


def test_a_pool_over_a_3d_tensor_is_refused_naming_op_and_tensor() -> None:
    """TFLM's pooling, conv and depthwise kernels take 4-D tensors only; the cost model refuses the others."""
    b = ModelBuilder()
    x = b.input("x", (1, 4, 4), "int8", scale=0.1, zero_point=0)
    y = b.tensor("y", (1, 2, 2), "int8", scale=0.1, zero_point=0)
    b.op("MAX_POOL_2D", [x], [y], padding="VALID", stride_h=2, stride_w=2, filter_height=2, filter_width=2)
    b.output(y)
    refusal = r"operator 0 \(MAX_POOL_2D\): tensor 0 'x' has shape \[1, 4, 4\], expected rank 4"
    with pytest.raises(ModelError, match=refusal):
        work(b.build(), DSP)
