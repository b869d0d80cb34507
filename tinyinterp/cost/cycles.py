"""Per-op cycle formulas (registry.py says which op uses which): the kernel TFLM + CMSIS-NN runs for an op's
shapes on a core, and what it costs.

CMSIS-NN's conv, depthwise, fully connected, ADD, average pool and softmax kernels are costed by their loops
(loops.py: trip counts from the shape x instructions by class per loop body, measured under emulation for the
DSP, plain-C and MVE paths), priced with the core's cost per instruction class. The other kernels (TFLM's
reference kernels, CMSIS-NN's max pool and MUL) are instruction mixes read off their sources, per MAC or
element. Either way, the cycles come as separate terms:
- `mac`: the loops that compute (MACs, with their requantization and stores);
- `data`: data movement: im2col copies and fills, s8->s16 widening, element-wise work of other kernels;
- `requant`: the reference kernels' per-output requantization (multiplier, shift, offset, clamp, store);
- `flash`: wait-state stalls of weight reads from flash that no cache absorbs (a board term);
- `overhead`: the runtime's per-operator cost (a stack term, added by the estimator).
Only shapes, dtypes and options are read, and no kernel is compiled. int16 activations are costed with the
int8 kernels' structure (CMSIS-NN's s16 kernels have the same loops without the s8->s16 widening).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Generic, cast

from tinyinterp.cost import loops
from tinyinterp.cost.loops import KernelShape
from tinyinterp.cost.profiles import BoardProfile, CoreProfile
from tinyinterp.errors import ModelError
from tinyinterp.geometry import WindowOptions, dilations, op_macs, pad_before
from tinyinterp.model.ir import Operator, Subgraph, Tensor, TensorType
from tinyinterp.model.options import (
    Conv2DOptions,
    DepthwiseConv2DOptions,
    OptionsT,
    Pool2DOptions,
    options_record,
)


@dataclass(frozen=True)
class Mix:
    """An instruction mix per unit of work (per MAC, per element, ...), priced by a core profile.

    `regs` is the number of registers the loop keeps live: beyond the core's general registers, each one is
    spilled (a store and a reload per iteration of `iteration` units), as the reference kernels' index
    arithmetic is on Armv6-M with its 8 low registers.
    """

    ld: float = 0.0
    st: float = 0.0
    alu: float = 0.0
    dmac: float = 0.0  # SMLAD (two 16-bit MACs)
    mul: float = 0.0  # MLA / SMLABB (one MAC) or MUL
    br: float = 0.0  # taken loop branches
    vec: float = 0.0  # 128-bit MVE instructions
    regs: float = 0.0
    iteration: float = 1.0  # units of work per loop iteration

    def cycles(self, core: CoreProfile) -> float:
        spills = max(0.0, self.regs - core.registers) / self.iteration
        scalar = (
            (self.ld + spills) * core.load
            + (self.st + spills) * core.store
            + self.alu * core.alu
            + self.dmac * core.dual_mac
            + self.mul * core.mul
            + self.br * core.branch
        )
        return scalar / core.issue_rate + self.vec * core.vector


def _per(n: float, regs: float = 0.0, **counts: float) -> Mix:
    """The mix of one loop iteration that does `n` units of work and keeps `regs` registers live, per unit."""
    return Mix(**{k: v / n for k, v in counts.items()}, regs=regs, iteration=n)


# TFLM reference kernels (reference_integer_ops): 4-D Offset() index arithmetic in the innermost loop,
# is-inside-image checks per tap, LDRSB x2, offset add, MLA.
REFERENCE_MAC = _per(1, regs=14, ld=2, alu=5, mul=3, br=1)
REFERENCE_FC_MAC = _per(1, regs=10, ld=2, alu=2, mul=1, br=1)
# The reference MultiplyByQuantizedMultiplier (64-bit rounding arithmetic) against CMSIS-NN's requantize.
REFERENCE_REQUANTIZE = 1.5

# Data movement and element-wise work of the kernels without measured loop costs (loops.py), per element.
COPY_BYTE = Mix(ld=0.25, st=0.25)  # word-wise memcpy/memset
POOL_ACCUMULATE = Mix(ld=2.0, alu=1.0, st=1.0)  # reference AveragePool: sum per tap
POOL_MAX = Mix(ld=1.0, alu=1.5, st=0.25)  # arm_max_pool_s8: compare-and-replace, SIMD on DSP
DIVIDE = Mix(alu=12.0)  # average pool rounding division per output
# Softmax per element: max search, exp(x - max) in fixed point (~30 ops), sum, 1/sum, second pass.
SOFTMAX_ELEMENT = Mix(ld=3.0, alu=60.0, mul=6.0, st=1.0, br=2.0)
# arm_elementwise_mul_s8 with MVE (4 int32 lanes): 2 VLDRB, 2 offset VADD, VMUL, one requantization,
# offset, clamp, VSTRB, loop.
MUL_MVE = _per(4, vec=14)
# arm_max_pool_s8 with MVE: 16 channels compared per VMAX.
POOL_MAX_MVE = _per(16, vec=2)
# Fallback for ops without a dedicated formula: the inputs read, per output a few ALU operations and half a
# requantization (many element-wise ops rescale, some do not).
GENERIC_ELEMENT = Mix(ld=1.0, alu=4.0, st=1.0, br=0.25)
GENERIC_REQUANTIZE = 0.5

# Kernel choice by stack and core: reference kernels, or CMSIS-NN's MVE / DSP / plain-C path.
PATH_REFERENCE, PATH_MVE, PATH_DSP, PATH_SCALAR = "reference", "mve", "dsp", "c"


def kernel_path(core: CoreProfile, kernels: str) -> str:
    if kernels == "reference":
        return PATH_REFERENCE
    if core.mve:
        return PATH_MVE
    return PATH_DSP if core.dsp else PATH_SCALAR


@dataclass(frozen=True)
class LayerWork:
    """One operator: the kernel TFLM would call, its size, and cycles by term (before stack factors)."""

    index: int
    opcode: str
    op_class: str  # one of profiles.OP_CLASSES
    kernel: str
    macs: int
    weight_bytes: int  # constant inputs: weights and bias (in flash)
    activation_bytes: int  # non-constant inputs and outputs (in the arena)
    terms: dict[str, float] = field(default_factory=dict)  # mac, data, requant, flash
    path: str = PATH_DSP  # the kernel path: reference, mve, dsp or c

    @property
    def vector(self) -> bool:
        return self.path == PATH_MVE


@dataclass(frozen=True)
class Context(Generic[OptionsT]):
    """What a formula needs: the op, its tensors and options, the core, the board's memory system and the
    kernel path. A formula declares the op's options record (`ctx: Context[Pool2DOptions]`) to read them."""

    subgraph: Subgraph
    op: Operator
    core: CoreProfile
    board: BoardProfile
    mhz: float
    path: str

    def tensor(self, position: int, *, output: bool = False) -> Tensor | None:
        indices = self.op.outputs if output else self.op.inputs
        if position >= len(indices) or indices[position] < 0:
            return None
        return self.subgraph.tensors[indices[position]]

    def inputs(self) -> list[Tensor]:
        return [self.subgraph.tensors[i] for i in self.op.inputs if i >= 0]

    def outputs(self) -> list[Tensor]:
        return [self.subgraph.tensors[i] for i in self.op.outputs if i >= 0]

    def nhwc(self, tensor: Tensor) -> tuple[int, int, int, int]:
        """A 4-D tensor's dimensions; any other rank is refused, as TFLM's kernels refuse it."""
        shape = tuple(tensor.shape)
        if len(shape) != 4:
            raise ModelError(
                f"operator {self.op.index} ({self.op.opcode}): tensor {tensor.index} '{tensor.name}' has "
                f"shape {list(shape)}, expected rank 4"
            )
        return shape[0], shape[1], shape[2], shape[3]

    @cached_property
    def options(self) -> OptionsT:
        """The op's options (the schema's defaults for those the model leaves out), read once."""
        return cast(OptionsT, options_record(self.op.opcode, self.op.options))

    def flash_stall(self, weight_bytes: int, read_bytes: float, reuse_bytes: float) -> float:
        """Stall cycles of a kernel's `read_bytes` of loads from `weight_bytes` of flash, a weight's uses
        `reuse_bytes` apart.

        The first read of a byte always comes from flash; later ones hit the board's data cache only when
        it is enabled and what the kernel touches between two uses of a weight fits in it. Each flash line
        costs the board's line stall (wait states at the flash bus clock, in core cycles). Weights placed
        in SRAM or TCM cost none.
        """
        board = self.board
        if weight_bytes == 0 or board.weights_in != "flash" or board.flash_access_ns == 0:
            return 0.0
        fetched = weight_bytes if board.weights_cached(reuse_bytes) else max(read_bytes, weight_bytes)
        return fetched * board.flash_line_stall(self.mhz) / board.weight_line_bytes()


@dataclass(frozen=True)
class Weights:
    """A CMSIS-NN kernel's constant operand in flash: its bytes, the passes its loops make over it (what
    the kernel reads where the loads of its loops were not measured: the MVE path) and the bytes read
    between two uses of a weight (whether a data cache keeps it)."""

    size: int
    passes: float
    reuse_bytes: float


def _scalar(ctx: Context) -> Context:
    """The context of a kernel without an MVE loop: on an MVE core it runs its DSP/C code, which the
    stack's fitted factors do scale."""
    return replace(ctx, path=PATH_DSP) if ctx.path == PATH_MVE else ctx


def _elements(tensor: Tensor | None) -> int:
    return math.prod(tensor.shape) if tensor is not None else 0


def _bytes(tensor: Tensor | None) -> int:
    if tensor is None:
        return 0
    if tensor.dtype == TensorType.INT4:
        return (_elements(tensor) + 1) // 2
    try:
        return _elements(tensor) * tensor.dtype.numpy.itemsize
    except ModelError:  # strings, resources: no fixed size
        return 0


def window(ctx: Context[WindowOptions], k_h: int, k_w: int) -> KernelShape:
    """The op's geometry (NHWC), padding as TFLM's kernels/padding.h computes it."""
    x, y = ctx.tensor(0), ctx.tensor(0, output=True)
    assert x is not None and y is not None
    n, in_h, in_w, in_c = ctx.nhwc(x)
    _, out_h, out_w, out_c = ctx.nhwc(y)
    options = ctx.options
    sh, sw = options.stride_h, options.stride_w
    dh, dw = dilations(options)
    same = options.padding == "SAME"
    return KernelShape(
        n,
        in_h,
        in_w,
        in_c,
        out_h,
        out_w,
        out_c,
        k_h,
        k_w,
        sh,
        sw,
        pad_before(in_h, k_h, sh, dh, out_h) if same else 0,
        pad_before(in_w, k_w, sw, dw, out_w) if same else 0,
        dh,
        dw,
    )


def _activation_bytes(ctx: Context) -> int:
    return sum(_bytes(t) for t in ctx.inputs() + ctx.outputs() if not t.is_constant)


def _weight_bytes(ctx: Context) -> int:
    return sum(_bytes(t) for t in ctx.inputs() if t.is_constant)


def _layer(ctx: Context, op_class: str, kernel: str, macs: int, **terms: float) -> LayerWork:
    return LayerWork(
        ctx.op.index,
        ctx.op.opcode,
        op_class,
        kernel,
        macs,
        _weight_bytes(ctx),
        _activation_bytes(ctx),
        {k: float(v) for k, v in terms.items()},
        ctx.path,
    )


def _counted(
    ctx: Context,
    op_class: str,
    kernel: str,
    macs: int,
    shape: KernelShape,
    weights: Weights | None = None,
    calls: int = 1,
) -> LayerWork:
    """A CMSIS-NN kernel costed by its loops (`calls` calls of `shape`): trip counts x the instructions
    by class per loop body measured under emulation (loops.py), priced with the core's cost per class;
    flash stalls on the weight bytes its loops load (measured the same way; else `weights`' passes).
    Conv and depthwise are called through CMSIS-NN's wrapper, as TFLM calls them."""
    wrapped = op_class not in ("fc", "elementwise")
    data = loops.dataset(ctx.path, ctx.core.architecture)
    counts = loops.executed_by_term(kernel, ctx.path, shape, wrapped, data)
    terms = {term: calls * loops.price(by_class, ctx.core) for term, by_class in counts.items()}
    flash = 0.0
    if weights is not None:
        counted = loops.weight_reads(kernel, ctx.path, shape, wrapped, data)
        read = calls * counted if counted is not None else weights.size * weights.passes
        flash = ctx.flash_stall(weights.size, read, weights.reuse_bytes)
    return _layer(ctx, op_class, kernel, macs, **terms, flash=flash)


# --- convolutions ------------------------------------------------------------------------------------------


# Below this many input channels CMSIS-NN's 1x1 kernels run their 16-channel inner block fewer than 4
# times per output, and requantization, stores and loop setup are most of their instructions (47-74% in
# VWW's 8-32-channel layers, 30% at 64): the regime where stacks' own kernels depart most from CMSIS-NN's
# (X-CUBE-AI 8.1 and Plumerai 2023 run VWW twice as fast as their previous releases, KWS 1.2x), so it is
# an op class of its own.
SHALLOW_POINTWISE_CHANNELS = 64


def pointwise_class(in_c: int) -> str:
    return "pointwise_shallow" if in_c < SHALLOW_POINTWISE_CHANNELS else "pointwise"


def conv_2d(ctx: Context[Conv2DOptions]) -> LayerWork:
    weights = ctx.tensor(1)
    assert weights is not None
    out_c, k_h, k_w, group_c = ctx.nhwc(weights)
    w = window(ctx, k_h, k_w)
    macs = op_macs(ctx.subgraph, ctx.op)
    filter_bytes = _elements(weights)
    one_by_one = (
        k_h == k_w == 1
        and w.pad_h == w.pad_w == 0
        and w.dilation_h == w.dilation_w == 1
        and group_c == w.in_c
    )
    if ctx.path == PATH_REFERENCE:
        taps = w.pixels * k_h * k_w
        return _layer(
            ctx,
            pointwise_class(w.in_c) if one_by_one else "conv",
            "reference_integer_ops::ConvPerChannel",
            macs,
            mac=macs * REFERENCE_MAC.cycles(ctx.core),
            data=taps * Mix(alu=6, br=1).cycles(ctx.core),
            requant=w.pixels * out_c * ctx.core.requantize * REFERENCE_REQUANTIZE,
            flash=ctx.flash_stall(filter_bytes, filter_bytes * w.pixels, filter_bytes),
        )
    # The whole filter is re-read per 2 pixels (DSP, C) or 4 (MVE).
    passes = w.pixels / (4 if ctx.path == PATH_MVE else 2)
    if one_by_one:
        fast = w.stride_h == w.stride_w == 1
        # Two filter rows live between uses of a weight on DSP and C.
        reuse = filter_bytes if ctx.path == PATH_MVE else 2 * w.in_c
        return _counted(
            ctx,
            pointwise_class(w.in_c),
            "arm_convolve_1x1_s8_fast" if fast else "arm_convolve_1x1_s8",
            macs,
            w,
            Weights(filter_bytes, passes, reuse),
        )
    groups = w.in_c // max(group_c, 1)
    one_row = w.in_h == 1 and k_h == 1 and w.dilation_w == 1 and (w.stride_w * w.in_c) % 4 == 0
    # Grouped convolutions run the kernel's loops once per group, on that group's channels.
    shape = replace(w, in_c=group_c, out_c=out_c // max(groups, 1))
    return _counted(
        ctx,
        "conv",
        "arm_convolve_1_x_n_s8" if one_row and groups == 1 else "arm_convolve_s8",
        macs,
        shape,
        Weights(filter_bytes, passes, filter_bytes),
        calls=max(groups, 1),
    )


def depthwise_conv_2d(ctx: Context[DepthwiseConv2DOptions]) -> LayerWork:
    weights = ctx.tensor(1)
    assert weights is not None
    _, k_h, k_w, out_c = ctx.nhwc(weights)
    w = window(ctx, k_h, k_w)
    macs = op_macs(ctx.subgraph, ctx.op)
    filter_bytes = _elements(weights)
    # The filter is read once per output pixel.
    filter_reads = Weights(filter_bytes, w.pixels, filter_bytes)
    if ctx.path == PATH_REFERENCE:
        return _layer(
            ctx,
            "depthwise",
            "reference_integer_ops::DepthwiseConvPerChannel",
            macs,
            mac=macs * REFERENCE_MAC.cycles(ctx.core),
            requant=w.pixels * out_c * ctx.core.requantize * REFERENCE_REQUANTIZE,
            flash=ctx.flash_stall(filter_bytes, filter_bytes * w.pixels, filter_bytes),
        )
    unit = w.in_c == out_c and w.n == 1 and w.dilation_h == w.dilation_w == 1
    three_by_three = k_h == k_w == 3 and w.pad_h <= 1 and w.pad_w <= 1 and ctx.path != PATH_MVE
    if not unit:
        kernel = "arm_depthwise_conv_s8"
    else:
        kernel = "arm_depthwise_conv_3x3_s8" if three_by_three else "arm_depthwise_conv_s8_opt"
    return _counted(ctx, "depthwise", kernel, macs, w, filter_reads)


def fully_connected(ctx: Context) -> LayerWork:
    weights, y = ctx.tensor(1), ctx.tensor(0, output=True)
    assert weights is not None and y is not None
    units, depth = weights.shape[0], weights.shape[-1]
    rows = _elements(y) // max(units, 1)
    macs = op_macs(ctx.subgraph, ctx.op)
    weight_bytes = _elements(weights)
    # Each batch row streams the whole weight matrix once: no reuse within a row.
    matrix_reads = Weights(weight_bytes, rows, weight_bytes)
    if ctx.path == PATH_REFERENCE:
        return _layer(
            ctx,
            "fc",
            "reference_integer_ops::FullyConnected",
            macs,
            mac=macs * REFERENCE_FC_MAC.cycles(ctx.core),
            requant=rows * units * ctx.core.requantize * REFERENCE_REQUANTIZE,
            flash=ctx.flash_stall(weight_bytes, weight_bytes * rows, weight_bytes),
        )
    shape = KernelShape(n=rows, in_c=depth, out_c=units)
    return _counted(ctx, "fc", "arm_fully_connected_s8", macs, shape, matrix_reads)


# --- element-wise and data ops -----------------------------------------------------------------------------


def average_pool_2d(ctx: Context[Pool2DOptions]) -> LayerWork:
    w = window(ctx, ctx.options.filter_height, ctx.options.filter_width)
    if ctx.path != PATH_REFERENCE:
        return _counted(ctx, "elementwise", "arm_avgpool_s8", 0, w)
    taps = w.inside_taps()
    return _layer(
        ctx,
        "elementwise",
        "reference_integer_ops::AveragePool",
        0,
        data=taps * w.in_c * POOL_ACCUMULATE.cycles(ctx.core),
        requant=w.pixels * w.out_c * DIVIDE.cycles(ctx.core),
    )


def max_pool_2d(ctx: Context[Pool2DOptions]) -> LayerWork:
    w = window(ctx, ctx.options.filter_height, ctx.options.filter_width)
    taps = w.inside_taps()
    kernel = "arm_max_pool_s8" if ctx.path != PATH_REFERENCE else "reference_integer_ops::MaxPool"
    mix = POOL_MAX_MVE if ctx.path == PATH_MVE else POOL_MAX
    return _layer(ctx, "elementwise", kernel, 0, data=taps * w.in_c * mix.cycles(ctx.core))


def _binary(
    ctx: Context, kernel: str, reference: str, requantizations: float, vector: Mix | None = None
) -> LayerWork:
    """ADD/SUB/MUL: CMSIS-NN's kernel costed by its loops when measured (loops.py); otherwise per output
    element, loads, offsets and `requantizations` fixed-point rescalings (scalar), or the kernel's `vector`
    loop on MVE cores when CMSIS-NN has one."""
    elements = _elements(ctx.tensor(0, output=True))
    if ctx.path != PATH_REFERENCE and kernel in loops.TRIPS:  # measured on every path
        return _counted(ctx, "elementwise", kernel, 0, KernelShape(in_c=elements))
    if ctx.path == PATH_MVE and vector is not None:
        return _layer(ctx, "elementwise", kernel, 0, data=elements * vector.cycles(ctx.core))
    per_element = Mix(ld=2.0, alu=4.0, st=1.0).cycles(ctx.core) + requantizations * ctx.core.requantize
    name = reference if ctx.path == PATH_REFERENCE else kernel
    return _layer(_scalar(ctx), "elementwise", name, 0, data=elements * per_element)


def softmax(ctx: Context) -> LayerWork:
    x = ctx.tensor(0)
    elements = _elements(x)
    if ctx.path != PATH_REFERENCE:
        row = x.shape[-1] if x is not None and x.shape else 1
        shape = KernelShape(n=elements // max(row, 1), in_c=row, out_c=row)
        return _counted(ctx, "elementwise", "arm_softmax_s8", 0, shape)
    return _layer(
        ctx, "elementwise", "reference_ops::Softmax", 0, data=elements * SOFTMAX_ELEMENT.cycles(ctx.core)
    )


def no_compute(ctx: Context) -> LayerWork:
    # TFLM's reshape copies the bytes unless input and output tensors share memory.
    data = _bytes(ctx.tensor(0)) * COPY_BYTE.cycles(ctx.core)
    return _layer(_scalar(ctx), "elementwise", "memcpy", 0, data=data)


def generic(ctx: Context) -> LayerWork:
    """Fallback for ops without a dedicated formula: every input element read, every output computed."""
    reads = sum(_elements(t) for t in ctx.inputs() if not t.is_constant)
    writes = sum(_elements(t) for t in ctx.outputs())
    data = reads * Mix(ld=1.0).cycles(ctx.core) + writes * GENERIC_ELEMENT.cycles(ctx.core)
    return _layer(
        _scalar(ctx),
        "elementwise",
        f"generic ({ctx.op.opcode.lower()})",
        0,
        data=data,
        requant=writes * ctx.core.requantize * GENERIC_REQUANTIZE,
    )


# ADD, SUB and MUL are functions calling _binary when costed (not closures built at import), so that a
# mutation test's changes to _binary reach them (docs/mutation.md).
def add(ctx: Context) -> LayerWork:
    return _binary(ctx, "arm_elementwise_add_s8", "reference_integer_ops::Add", 3.0)


def sub(ctx: Context) -> LayerWork:
    # TFLM's SUB has no CMSIS-NN kernel; its reference loop has the same three rescalings as ADD.
    return _binary(ctx, "reference_ops::Sub", "reference_ops::Sub", 3.0)


def mul(ctx: Context) -> LayerWork:
    return _binary(ctx, "arm_elementwise_mul_s8", "reference_integer_ops::Mul", 1.0, MUL_MVE)
