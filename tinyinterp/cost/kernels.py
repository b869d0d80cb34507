"""Per-op cycle formulas: which kernel TFLM + CMSIS-NN runs for an op's shapes on a core, and what it costs.

Each formula counts what the selected kernel executes, as separate terms (in cycles):
- `mac`: the inner loops, as instruction mixes read off CMSIS-NN's sources (loads, ALU/extend/pack
  instructions, SMLAD dual MACs, multiplies, loop branches, or MVE vector instructions) per MAC;
- `data`: data movement outside the MAC loops: im2col copies and s8->s16 widening, padding fills,
  element-wise work of pooling/add/softmax/copies;
- `requant`: the per-output requantization (multiplier, shift, offset, clamp, store);
- `flash`: wait-state stalls of weight reads from flash that no cache absorbs (a board term);
- `overhead`: the runtime's per-operator cost (a stack term, added by the estimator).
Only shapes, dtypes and options are read, and no kernel is compiled. int16 activations are costed with the
int8 kernels' structure (CMSIS-NN's s16 kernels have the same loops without the s8->s16 widening).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from tinyinterp.cost.profiles import BoardProfile, CoreProfile
from tinyinterp.errors import ModelError
from tinyinterp.geometry import op_macs, pad_before
from tinyinterp.model import schema
from tinyinterp.model.ir import Operator, Subgraph, Tensor, TensorType

# Ops without arithmetic: at most a copy of the input (none when input and output share memory).
NO_COMPUTE_OPS = frozenset({"RESHAPE", "SQUEEZE", "EXPAND_DIMS"})


@dataclass(frozen=True)
class Mix:
    """An instruction mix per unit of work (per MAC, per element, ...), priced by a core profile.

    `regs` is the number of registers the loop keeps live: beyond the core's general registers, each one is
    spilled (a store and a reload per iteration of `iteration` units), which is what makes the 2x2 kernels
    slow on Armv6-M with its 8 low registers.
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


# Inner loops of the CMSIS-NN kernels (Source/*/...c), per MAC.
# arm_nn_mat_mult_kernel_s8_s16 (DSP): 2 filters x 2 im2col columns x 4 values: 2 read_and_pad_reordered
# (1 LDR + 2 SXTB16 each), 4 LDR of s16 pairs, 8 SMLAD, loop counter and branch.
MAT_MULT_S8_S16_DSP = _per(16, regs=15, ld=6, alu=5, dmac=8, br=1)
# arm_nn_mat_mult_nt_t_s8 (DSP): 2 rows x 2 columns x 16 values per iteration: 16 LDR, 32 SXTB16, 32 SMLAD.
MAT_MULT_NT_T_DSP = _per(64, regs=13, ld=16, alu=33, dmac=32, br=1)
# arm_nn_mat_mult_nt_t_s8 (MVE): 4 rows x 16 values: 5 VLDRB, 4 VMLADAVA, 1 VADDVA (tail-predicated loop).
MAT_MULT_NT_T_MVE = _per(64, vec=10)
# Without DSP (M0+, M3) both paths are C loops: 2x2 outputs per column, LDRSB x4, MLA x4.
MAT_MULT_SCALAR = _per(4, regs=13, ld=4, mul=4, alu=1, br=1)
# arm_nn_vec_mat_mult_t_s8 (DSP): 2 rows x 4 values: 3 LDR, 6 SXTAB16, 4 SMLAD.
VEC_MAT_MULT_DSP = _per(8, regs=12, ld=3, alu=7, dmac=4, br=1)
# MVE: 4 rows x 16 values: 5 VLDRB, 4 VMLADAVA (offsets folded into precomputed kernel sums).
VEC_MAT_MULT_MVE = _per(64, vec=9)
# C loop: 2 rows x 1 value: 3 LDRSB, offset add, 2 MLA.
VEC_MAT_MULT_SCALAR = _per(2, regs=10, ld=3, alu=2, mul=2, br=1)
# arm_depthwise_conv_3x3_s8 (DSP): a kernel row (3 taps) x 4 channels: per tap 2 LDR, 4 SXTB16/SXTAB16,
# 4 SMLABB/SMLATT; per row pointer updates, bound checks and the branch.
DW_3X3_DSP = _per(12, regs=13, ld=6, alu=15, mul=12, br=1)
# Same kernel without DSP: bytes extracted with shifts, offset added, one MLA each.
DW_3X3_SCALAR = _per(12, regs=13, ld=6, alu=36, mul=12, br=1)
# arm_depthwise_conv_s8_opt (DSP): 4 channels x 2 taps: 6 LDR, 4 SXTB16, 8 PKHBT/PKHTB, 4 SMLAD.
DW_OPT_DSP = _per(8, regs=15, ld=6, alu=13, dmac=4, br=1)
# MVE depthwise: 4 channels per VMLA on 32-bit lanes, 2 widening loads each.
DW_MVE = _per(4, vec=3)
# arm_depthwise_conv_s8 (any channel multiplier or dilation): scalar, with per-tap bound checks.
DW_GENERIC = _per(1, regs=10, ld=2, alu=3, mul=1, br=0.5)
# TFLM reference kernels (reference_integer_ops): 4-D Offset() index arithmetic in the innermost loop,
# is-inside-image checks per tap, LDRSB x2, offset add, MLA.
REFERENCE_MAC = _per(1, regs=14, ld=2, alu=5, mul=3, br=1)
REFERENCE_FC_MAC = _per(1, regs=10, ld=2, alu=2, mul=1, br=1)
# The reference MultiplyByQuantizedMultiplier (64-bit rounding arithmetic) against CMSIS-NN's requantize.
REFERENCE_REQUANTIZE = 1.5

# Data movement, per element.
COPY_BYTE = Mix(ld=0.25, st=0.25)  # word-wise memcpy/memset
WIDEN_S8_S16_DSP = _per(4, ld=1, alu=2, st=2)  # arm_s8_to_s16_unordered_with_offset: SXTAB16 x2
WIDEN_S8_S16_SCALAR = Mix(ld=1.0, alu=1.0, st=1.0)  # arm_q7_to_q15_with_offset without DSP
Q7_TO_Q15_DSP = _per(4, ld=1, alu=6, st=2)  # arm_q7_to_q15_with_offset: SXTB16 x2, SADD16 x2, PKH x2
VECTOR_COPY_BYTE = _per(16, vec=2)
CALL = Mix(alu=8.0, br=2.0)  # a memcpy/memset call per kernel tap: prologue, size checks, return
POOL_ACCUMULATE = Mix(ld=2.0, alu=1.0, st=1.0)  # arm_avgpool_s8: QADD into the s32 channel buffer
POOL_MAX = Mix(ld=1.0, alu=1.5, st=0.25)  # arm_max_pool_s8: compare-and-replace, SIMD on DSP
DIVIDE = Mix(alu=12.0)  # avgpool rounding division per output
# Softmax per element: max search, exp(x - max) in fixed point (~30 ops), sum, 1/sum, second pass.
SOFTMAX_ELEMENT = Mix(ld=3.0, alu=60.0, mul=6.0, st=1.0, br=2.0)
# MVE paths, 4 int32 lanes per instruction unless said otherwise.
# arm_elementwise_add_s8: 2 widening VLDRB, 2 offset VADD, 2 VSHL, 3 requantizations (VQRDMULH, VRSHL and a
# shift fix-up each), the sum, the output offset, VMAX/VMIN clamp, a predicated VSTRB, VCTP and the loop.
ADD_MVE = _per(4, vec=22)
# arm_elementwise_mul_s8: 2 VLDRB, 2 offset VADD, VMUL, one requantization, offset, clamp, VSTRB, loop.
MUL_MVE = _per(4, vec=14)
# arm_softmax_s8 with MVE: VMAXV search, then exp and the scaled output 4 lanes at a time.
SOFTMAX_MVE = _per(4, vec=70)
# arm_avgpool_s8 / arm_max_pool_s8 with MVE: 16 channels per VLDRB, accumulated in 4 int32 vectors or
# compared in one VMAX.
POOL_ACCUMULATE_MVE = _per(16, vec=5)
POOL_MAX_MVE = _per(16, vec=2)
DIVIDE_MVE = _per(4, vec=6)  # rounding division of 4 sums by the tap count, then VSTRB
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
    op_class: str  # conv | pointwise | depthwise | fc | elementwise
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
class Context:
    """What a formula needs: the op, its tensors, the core, the board's memory system and the kernel path."""

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

    def option(self, name: str) -> Any:
        """The op's option `name` (the schema's default when the model leaves it out)."""
        return schema.option(self.op.opcode, self.op.options, name)

    def requantize(self) -> float:
        """Cycles per requantized output: vectorised 4 at a time on MVE, else the scalar routine."""
        return 2.0 * self.core.vector if self.path == PATH_MVE else self.core.requantize

    def flash_stall(self, weight_bytes: int, passes: float, reuse_bytes: float) -> float:
        """Stall cycles of reading `weight_bytes` of flash `passes` times, `reuse_bytes` apart.

        The first pass always comes from flash; later passes hit the board's data cache only when it is
        enabled and what the kernel touches between two uses of a weight fits in it. Each flash line
        costs the board's line stall (wait states at the flash bus clock, in core cycles). Weights placed
        in SRAM or TCM cost none.
        """
        board = self.board
        if weight_bytes == 0 or board.weights_in != "flash" or board.flash_access_ns == 0:
            return 0.0
        fetched = weight_bytes * (1.0 if board.weights_cached(reuse_bytes) else max(passes, 1.0))
        return fetched * board.flash_line_stall(self.mhz) / board.weight_line_bytes()


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


@dataclass(frozen=True)
class Window:
    """Geometry of a windowed op (NHWC), padding as TFLM's kernels/padding.h computes it."""

    batch: int
    in_h: int
    in_w: int
    in_c: int
    out_h: int
    out_w: int
    out_c: int
    k_h: int
    k_w: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int
    dilation_h: int
    dilation_w: int

    @property
    def pixels(self) -> int:
        return self.batch * self.out_h * self.out_w

    def padded_taps(self) -> int:
        """Window taps that fall outside the input, over all output pixels (filled, not loaded)."""
        rows = _outside(self.out_h, self.in_h, self.k_h, self.stride_h, self.pad_h, self.dilation_h)
        cols = _outside(self.out_w, self.in_w, self.k_w, self.stride_w, self.pad_w, self.dilation_w)
        inside = (self.out_h * self.k_h - rows) * (self.out_w * self.k_w - cols)
        return self.batch * (self.out_h * self.k_h * self.out_w * self.k_w - inside)


def _outside(out: int, size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    return sum(
        1 for o in range(out) for k in range(kernel) if not 0 <= o * stride - pad + k * dilation < size
    )


def window(ctx: Context, k_h: int, k_w: int) -> Window:
    x, y = ctx.tensor(0), ctx.tensor(0, output=True)
    assert x is not None and y is not None
    n, in_h, in_w, in_c = _nhwc(x)
    _, out_h, out_w, out_c = _nhwc(y)
    sh, sw = int(ctx.option("stride_h")), int(ctx.option("stride_w"))
    dilated = ctx.op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D")  # pools have no dilation options
    dh, dw = (
        (int(ctx.option("dilation_h_factor")), int(ctx.option("dilation_w_factor"))) if dilated else (1, 1)
    )
    same = ctx.option("padding") == "SAME"
    return Window(
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


def _nhwc(tensor: Tensor) -> tuple[int, int, int, int]:
    shape = tuple(tensor.shape)
    padded = (1,) * (4 - len(shape)) + shape if len(shape) < 4 else shape[-4:]
    return padded[0], padded[1], padded[2], padded[3]


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


# --- convolutions ------------------------------------------------------------------------------------------


def conv_2d(ctx: Context) -> LayerWork:
    weights = ctx.tensor(1)
    assert weights is not None
    out_c, k_h, k_w, group_c = _nhwc(weights)
    w = window(ctx, k_h, k_w)
    macs = op_macs(ctx.subgraph, ctx.op)
    outputs = w.pixels * out_c
    filter_bytes = _elements(weights)
    one_by_one = (
        k_h == k_w == 1
        and w.pad_h == w.pad_w == 0
        and w.dilation_h == w.dilation_w == 1
        and group_c == w.in_c
    )
    requant = outputs * ctx.requantize()
    if ctx.path == PATH_REFERENCE:
        taps = w.pixels * k_h * k_w
        return _layer(
            ctx,
            "pointwise" if one_by_one else "conv",
            "reference_integer_ops::ConvPerChannel",
            macs,
            mac=macs * REFERENCE_MAC.cycles(ctx.core),
            data=taps * Mix(alu=6, br=1).cycles(ctx.core),
            requant=outputs * ctx.core.requantize * REFERENCE_REQUANTIZE,
            flash=ctx.flash_stall(filter_bytes, w.pixels, filter_bytes),
        )
    if one_by_one:
        return _conv_1x1(ctx, w, macs, requant, filter_bytes)
    rhs_cols = k_h * k_w * group_c
    taps = w.pixels * k_h * k_w
    # im2col: per output pixel, every tap's channels are copied (or the padding value filled) ...
    copy = VECTOR_COPY_BYTE if ctx.path == PATH_MVE else COPY_BYTE
    data = w.pixels * rhs_cols * copy.cycles(ctx.core) + taps * CALL.cycles(ctx.core)
    if ctx.path == PATH_MVE:
        # ... into an s8 buffer of 4 columns consumed by arm_nn_mat_mult_nt_t_s8.
        mac, passes = MAT_MULT_NT_T_MVE, w.pixels / 4
    elif ctx.path == PATH_DSP:
        # ... then widened to s16 with the input offset for arm_nn_mat_mult_kernel_s8_s16.
        data += w.pixels * rhs_cols * WIDEN_S8_S16_DSP.cycles(ctx.core)
        mac, passes = MAT_MULT_S8_S16_DSP, w.pixels / 2
    else:
        data += w.pixels * rhs_cols * WIDEN_S8_S16_SCALAR.cycles(ctx.core)
        mac, passes = MAT_MULT_SCALAR, w.pixels / 2
    kernel = (
        "arm_convolve_1_x_n_s8"
        if (w.in_h == 1 and k_h == 1 and w.dilation_w == 1 and (w.stride_w * w.in_c) % 4 == 0)
        else "arm_convolve_s8"
    )
    return _layer(
        ctx,
        "conv",
        kernel,
        macs,
        mac=macs * mac.cycles(ctx.core),
        data=data,
        requant=requant,
        flash=ctx.flash_stall(filter_bytes, passes, filter_bytes),
    )


def _conv_1x1(ctx: Context, w: Window, macs: int, requant: float, filter_bytes: int) -> LayerWork:
    fast = w.stride_h == w.stride_w == 1
    kernel = "arm_convolve_1x1_s8_fast" if fast else "arm_convolve_1x1_s8"
    if ctx.path == PATH_MVE:
        # Four pixels at a time against every filter row: the whole filter is re-read per 4 pixels.
        return _layer(
            ctx,
            "pointwise",
            kernel,
            macs,
            mac=macs * MAT_MULT_NT_T_MVE.cycles(ctx.core),
            requant=requant,
            flash=ctx.flash_stall(filter_bytes, w.pixels / 4, filter_bytes),
        )
    mac = MAT_MULT_NT_T_DSP if ctx.path == PATH_DSP else MAT_MULT_SCALAR
    # Filter rows in pairs outside, pixels inside: two rows (2 * in_c bytes) are reused for every pixel pair,
    # after summing each row once for the input-offset contribution.
    row_sums = w.out_c * w.in_c * Mix(ld=1, alu=1).cycles(ctx.core)
    return _layer(
        ctx,
        "pointwise",
        kernel,
        macs,
        mac=macs * mac.cycles(ctx.core),
        data=row_sums,
        requant=requant,
        flash=ctx.flash_stall(filter_bytes, w.pixels / 2, 2 * w.in_c),
    )


def depthwise_conv_2d(ctx: Context) -> LayerWork:
    weights = ctx.tensor(1)
    assert weights is not None
    _, k_h, k_w, out_c = _nhwc(weights)
    w = window(ctx, k_h, k_w)
    macs = op_macs(ctx.subgraph, ctx.op)
    outputs = w.pixels * out_c
    filter_bytes = _elements(weights)
    flash = ctx.flash_stall(filter_bytes, w.pixels, filter_bytes)
    requant = outputs * ctx.requantize()
    unit = w.in_c == out_c and w.batch == 1 and w.dilation_h == w.dilation_w == 1
    if ctx.path == PATH_REFERENCE:
        return _layer(
            ctx,
            "depthwise",
            "reference_integer_ops::DepthwiseConvPerChannel",
            macs,
            mac=macs * REFERENCE_MAC.cycles(ctx.core),
            requant=outputs * ctx.core.requantize * REFERENCE_REQUANTIZE,
            flash=flash,
        )
    if not unit:
        return _layer(
            _scalar(ctx),
            "depthwise",
            "arm_depthwise_conv_s8",
            macs,
            mac=macs * DW_GENERIC.cycles(ctx.core),
            requant=requant,
            flash=flash,
        )
    if ctx.path == PATH_MVE:
        return _layer(
            ctx,
            "depthwise",
            "arm_depthwise_conv_s8_opt",
            macs,
            mac=macs * DW_MVE.cycles(ctx.core),
            data=w.pixels * k_h * k_w * out_c * VECTOR_COPY_BYTE.cycles(ctx.core),
            requant=requant,
            flash=flash,
        )
    if k_h == k_w == 3 and w.pad_h <= 1 and w.pad_w <= 1:
        mix = DW_3X3_DSP if ctx.path == PATH_DSP else DW_3X3_SCALAR
        return _layer(
            ctx,
            "depthwise",
            "arm_depthwise_conv_3x3_s8",
            macs,
            mac=macs * mix.cycles(ctx.core),
            requant=requant,
            flash=flash,
        )
    if ctx.path == PATH_DSP:
        # Per output pixel the window of every channel is widened to s16 (im2col), then 4 channels x 2 taps.
        data = w.pixels * k_h * k_w * w.in_c * Q7_TO_Q15_DSP.cycles(ctx.core)
        return _layer(
            ctx,
            "depthwise",
            "arm_depthwise_conv_s8_opt",
            macs,
            mac=macs * DW_OPT_DSP.cycles(ctx.core),
            data=data,
            requant=requant,
            flash=flash,
        )
    # Without DSP the wrapper still picks arm_depthwise_conv_s8_opt, whose C loop executes as many
    # instructions per MAC as the generic kernel's (bench/data/executed_counts_m3.json: 28.4 each).
    return _layer(
        ctx,
        "depthwise",
        "arm_depthwise_conv_s8_opt",
        macs,
        mac=macs * DW_GENERIC.cycles(ctx.core),
        requant=requant,
        flash=flash,
    )


def fully_connected(ctx: Context) -> LayerWork:
    weights, y = ctx.tensor(1), ctx.tensor(0, output=True)
    assert weights is not None and y is not None
    units = weights.shape[0]
    rows = _elements(y) // max(units, 1)
    macs = op_macs(ctx.subgraph, ctx.op)
    outputs = rows * units
    weight_bytes = _elements(weights)
    # Each batch row streams the whole weight matrix once: no reuse within a row.
    flash = ctx.flash_stall(weight_bytes, rows, weight_bytes)
    if ctx.path == PATH_REFERENCE:
        return _layer(
            ctx,
            "fc",
            "reference_integer_ops::FullyConnected",
            macs,
            mac=macs * REFERENCE_FC_MAC.cycles(ctx.core),
            requant=outputs * ctx.core.requantize * REFERENCE_REQUANTIZE,
            flash=flash,
        )
    mix = {PATH_MVE: VEC_MAT_MULT_MVE, PATH_DSP: VEC_MAT_MULT_DSP}.get(ctx.path, VEC_MAT_MULT_SCALAR)
    return _layer(
        ctx,
        "fc",
        "arm_fully_connected_s8",
        macs,
        mac=macs * mix.cycles(ctx.core),
        requant=outputs * ctx.requantize(),
        flash=flash,
    )


# --- element-wise and data ops -----------------------------------------------------------------------------


def average_pool_2d(ctx: Context) -> LayerWork:
    w = window(ctx, int(ctx.option("filter_height")), int(ctx.option("filter_width")))
    taps = w.pixels * w.k_h * w.k_w - w.padded_taps()
    outputs = w.pixels * w.out_c
    kernel = "arm_avgpool_s8" if ctx.path != PATH_REFERENCE else "reference_integer_ops::AveragePool"
    vector = ctx.path == PATH_MVE
    return _layer(
        ctx,
        "elementwise",
        kernel,
        0,
        data=taps * w.in_c * (POOL_ACCUMULATE_MVE if vector else POOL_ACCUMULATE).cycles(ctx.core),
        requant=outputs * (DIVIDE_MVE if vector else DIVIDE).cycles(ctx.core),
    )


def max_pool_2d(ctx: Context) -> LayerWork:
    w = window(ctx, int(ctx.option("filter_height")), int(ctx.option("filter_width")))
    taps = w.pixels * w.k_h * w.k_w - w.padded_taps()
    kernel = "arm_max_pool_s8" if ctx.path != PATH_REFERENCE else "reference_integer_ops::MaxPool"
    mix = POOL_MAX_MVE if ctx.path == PATH_MVE else POOL_MAX
    return _layer(ctx, "elementwise", kernel, 0, data=taps * w.in_c * mix.cycles(ctx.core))


def _binary(
    kernel: str, reference: str, requantizations: float, vector: Mix | None
) -> Callable[[Context], LayerWork]:
    """ADD/SUB/MUL: per output element, loads, offsets and `requantizations` fixed-point rescalings
    (scalar), or the kernel's `vector` loop on MVE cores when CMSIS-NN has one."""

    def formula(ctx: Context) -> LayerWork:
        elements = _elements(ctx.tensor(0, output=True))
        if ctx.path == PATH_MVE and vector is not None:
            return _layer(ctx, "elementwise", kernel, 0, data=elements * vector.cycles(ctx.core))
        per_element = Mix(ld=2.0, alu=4.0, st=1.0).cycles(ctx.core) + requantizations * ctx.core.requantize
        name = reference if ctx.path == PATH_REFERENCE else kernel
        return _layer(_scalar(ctx), "elementwise", name, 0, data=elements * per_element)

    return formula


def softmax(ctx: Context) -> LayerWork:
    elements = _elements(ctx.tensor(0))
    kernel = "arm_softmax_s8" if ctx.path != PATH_REFERENCE else "reference_ops::Softmax"
    mix = SOFTMAX_MVE if ctx.path == PATH_MVE else SOFTMAX_ELEMENT
    return _layer(ctx, "elementwise", kernel, 0, data=elements * mix.cycles(ctx.core))


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


FORMULAS: dict[str, Callable[[Context], LayerWork]] = {
    "CONV_2D": conv_2d,
    "DEPTHWISE_CONV_2D": depthwise_conv_2d,
    "FULLY_CONNECTED": fully_connected,
    "AVERAGE_POOL_2D": average_pool_2d,
    "MAX_POOL_2D": max_pool_2d,
    "ADD": _binary("arm_elementwise_add_s8", "reference_integer_ops::Add", 3.0, ADD_MVE),
    # TFLM's SUB has no CMSIS-NN kernel; its reference loop has the same three rescalings as ADD.
    "SUB": _binary("reference_ops::Sub", "reference_ops::Sub", 3.0, None),
    "MUL": _binary("arm_elementwise_mul_s8", "reference_integer_ops::Mul", 1.0, MUL_MVE),
    "SOFTMAX": softmax,
    **{opcode: no_compute for opcode in NO_COMPUTE_OPS},
}


def layer_work(
    subgraph: Subgraph, op: Operator, core: CoreProfile, board: BoardProfile, mhz: float, kernels: str
) -> LayerWork:
    """The kernel and cycle terms of one operator (its formula, else the documented generic fallback)."""
    ctx = Context(subgraph, op, core, board, mhz, kernel_path(core, kernels))
    return FORMULAS.get(op.opcode, generic)(ctx)
