"""Executed instructions of a CMSIS-NN kernel call, from its loop structure.

A kernel call executes each of its loop bodies a number of times that its shape decides: the trip counts
below are read off CMSIS-NN's sources (Source/*Functions/*.c, per path: MVE, DSP or plain C), e.g. the 2x2
block of `arm_nn_mat_mult_kernel_s8_s16` runs (pixels / 2) x (out_c / 2) x (rhs_cols / 4) times. What one
execution of a body costs, in instructions by class, is data (`data/loops/<path>.json`): measured by
`bench/executed_counts.py` under an instruction-level emulator and fitted by `bench/fit_loops.py`, which
also prints how closely trip counts x body costs reproduce every measured call.

    executed[class] = sum over bodies of trips(body, shape) x cost(kernel, path, body, class)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tinyinterp.cost.profiles import CoreProfile
from tinyinterp.errors import CostModelError

# Instruction classes of executed instructions (bench/executed_counts.py classifies mnemonics into these).
CLASSES = ("alu", "mul", "simd_mac", "load", "store", "branch", "other", "vector")
LOOP_DATA = Path(__file__).parent / "data" / "loops"


@dataclass(frozen=True)
class KernelShape:
    """A kernel call's shape as CMSIS-NN's dims see it (NHWC; `out_c` = units for FC, elements for ADD,
    row size for SOFTMAX with `n` rows)."""

    n: int = 1
    in_h: int = 1
    in_w: int = 1
    in_c: int = 1
    out_h: int = 1
    out_w: int = 1
    out_c: int = 1
    k_h: int = 1
    k_w: int = 1
    stride_h: int = 1
    stride_w: int = 1
    pad_h: int = 0
    pad_w: int = 0
    dilation_h: int = 1
    dilation_w: int = 1

    @property
    def pixels(self) -> int:
        return self.n * self.out_h * self.out_w

    @property
    def rhs_cols(self) -> int:
        return self.k_h * self.k_w * self.in_c

    def inside_rows(self) -> int:
        """Kernel rows inside the input, summed over output rows."""
        return _inside(self.out_h, self.in_h, self.k_h, self.stride_h, self.pad_h, self.dilation_h)

    def inside_cols(self) -> int:
        return _inside(self.out_w, self.in_w, self.k_w, self.stride_w, self.pad_w, self.dilation_w)

    def inside_taps(self) -> int:
        """Window taps that read the input (the others read padding), over all output pixels."""
        return self.n * self.inside_rows() * self.inside_cols()

    def padded_taps(self) -> int:
        return self.pixels * self.k_h * self.k_w - self.inside_taps()


def _inside(out: int, size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    return sum(1 for o in range(out) for k in range(kernel) if 0 <= o * stride - pad + k * dilation < size)


Trips = dict[str, float]


def _mat_mult_nt_t(lhs_rows: int, rhs_rows: int, cols: int, path: str, calls: int = 1) -> Trips:
    """arm_nn_mat_mult_nt_t_s8, called `calls` times. DSP and C: pairs of filter rows (each summed once for
    the input offset) against pairs of input rows, 16, then 4, then 1 column at a time; an odd input row and
    an odd filter row after. MVE: 4 input rows against each filter row, 16 columns per tail-predicated step;
    the rows left over one at a time."""
    if path == "mve":
        quads, rest, steps = lhs_rows // 4, lhs_rows % 4, math.ceil(cols / 16)
        return {
            "mm_call": calls,
            "mm_quad_row": calls * quads * rhs_rows,
            "mm_quad_step": calls * quads * rhs_rows * steps,
            "mm_rest_row": calls * rest * rhs_rows,
            "mm_rest_step": calls * rest * rhs_rows * steps,
        }
    pairs, odd_lhs = lhs_rows // 2, lhs_rows % 2
    blocks = calls * (rhs_rows // 2)
    by16, by4, by1 = cols // 16, (cols % 16) // 4, cols % 4
    return {
        "mm_call": calls,
        "mm_row_pair_sum": blocks * cols,
        "mm_block": blocks * pairs,
        "mm_block_16": blocks * pairs * by16,
        "mm_block_4": blocks * pairs * by4,
        "mm_block_1": blocks * pairs * by1,
        "mm_odd_lhs": blocks * odd_lhs,
        "mm_odd_lhs_16": blocks * odd_lhs * by16,
        "mm_odd_lhs_4": blocks * odd_lhs * (by4 + by1),
        "mm_odd_rhs": calls * (rhs_rows % 2) * lhs_rows,
        "mm_odd_rhs_col": calls * (rhs_rows % 2) * lhs_rows * cols,
    }


def _conv_1x1_fast(s: KernelShape, path: str) -> Trips:
    # One product of all pixels against all filters.
    return {"call": 1, **_mat_mult_nt_t(s.pixels, s.out_c, s.in_c, path)}


def _conv_1x1(s: KernelShape, path: str) -> Trips:
    # Strided: one product per output row, its pixels read `stride_w` apart.
    return {"call": 1, "row": s.n * s.out_h, **_mat_mult_nt_t(s.out_w, s.out_c, s.in_c, path, s.n * s.out_h)}


def _conv_1_x_n(s: KernelShape, path: str) -> Trips:
    # One product over the output row (padded edges through a copy in the scratch buffer).
    return {
        "call": 1,
        "edge_bytes": s.padded_taps() * s.in_c,
        **_mat_mult_nt_t(s.out_w, s.out_c, s.rhs_cols, path, s.n),
    }


def _im2col(s: KernelShape, path: str) -> Trips:
    """arm_convolve_s8's im2col: per tap a memcpy of the input's channels or a memset of the padding; on
    DSP/C each column is then widened to s16 with the input offset (4 values per step on DSP)."""
    inside, padded = s.inside_taps(), s.padded_taps()
    trips = {"pixel": s.pixels, "copy": inside, "fill": padded}
    if path == "mve":
        steps = math.ceil(s.in_c / 16)
        return {**trips, "copy_step": inside * steps, "fill_step": padded * steps}
    return {
        **trips,
        "copy_byte": inside * s.in_c,
        "fill_byte": padded * s.in_c,
        "widen_4": s.pixels * (s.rhs_cols // 4),
        "widen_1": s.pixels * (s.rhs_cols % 4),
    }


def _conv(s: KernelShape, path: str) -> Trips:
    """arm_convolve_s8: im2col, then products of 4 columns (MVE, arm_nn_mat_mult_nt_t_s8) or 2 columns
    (arm_nn_mat_mult_kernel_s8_s16: filter pairs x 4 values, an odd filter after), the odd column alone."""
    cols = s.rhs_cols
    if path == "mve":
        quads, rest = divmod(s.pixels, 4)
        products = _mat_mult_nt_t(4, s.out_c, cols, path, quads)
        if rest:
            leftover = _mat_mult_nt_t(rest, s.out_c, cols, path)
            products = {k: v + leftover[k] for k, v in products.items()}
        return {"call": 1, **_im2col(s, path), **products}
    calls, odd = divmod(s.pixels, 2)
    pairs = calls * (s.out_c // 2)
    single = calls * (s.out_c % 2)
    return {
        "call": 1,
        **_im2col(s, path),
        "mk_call": calls,
        "mk_pair": pairs,
        "mk_pair_4": pairs * (cols // 4),
        "mk_pair_1": pairs * (cols % 4),
        "mk_single": single,
        "mk_single_4": single * (cols // 4),
        "mk_single_1": single * (cols % 4),
        "odd_filter": odd * s.out_c,
        "odd_filter_4": odd * s.out_c * (cols // 4),
        "odd_filter_1": odd * s.out_c * (cols % 4),
    }


def _depthwise_3x3(s: KernelShape, path: str) -> Trips:
    """arm_depthwise_conv_3x3_s8: per output pixel, 4 channels at a time over the kernel rows inside the
    input (3 taps each), then the channels left one at a time."""
    rows = s.n * s.inside_rows() * s.out_w
    return {
        "call": 1,
        "out_row": s.n * s.out_h,
        "pixel": s.pixels,
        "quad": s.pixels * (s.in_c // 4),
        "quad_row": rows * (s.in_c // 4),
        "single": s.pixels * (s.in_c % 4),
        "single_row": rows * (s.in_c % 4),
    }


def _depthwise_generic(s: KernelShape) -> Trips:
    """arm_depthwise_conv_s8: per output, the taps inside the input one at a time."""
    multiplier = s.out_c // max(s.in_c, 1)
    return {
        "call": 1,
        "out_row": s.n * s.out_h,
        "pixel": s.pixels,
        "channel": s.pixels * s.in_c,
        "output": s.pixels * s.out_c,
        "tap_row": s.n * s.inside_rows() * s.out_w * s.out_c,
        "tap": s.inside_taps() * s.in_c * multiplier,
    }


def _depthwise_opt(s: KernelShape, path: str) -> Trips:
    """arm_depthwise_conv_s8_opt. DSP: per pixel the window is copied and widened to s16 (padding filled),
    then 4 channels x 2 taps per step, an odd tap, the channels left one at a time. MVE: per pixel the
    window is copied (see `_depthwise_opt_mve`). Plain C runs the generic kernel's loops."""
    if path == "c":
        return _depthwise_generic(s)
    inside, padded = s.inside_taps(), s.padded_taps()
    if path == "mve":
        return _depthwise_opt_mve(s, inside, padded)
    taps = s.k_h * s.k_w
    quads, rest = s.in_c // 4, s.in_c % 4
    return {
        "call": 1,
        "pixel": s.pixels,
        "kernel_row": s.n * s.inside_rows() * s.out_w,
        "copy_byte": inside * s.in_c,
        "fill_byte": padded * s.in_c,
        "quad": s.pixels * quads,
        "quad_pair": s.pixels * quads * (taps // 2),
        "quad_odd": s.pixels * quads * (taps % 2),
        "single": s.pixels * rest,
        "single_tap": s.pixels * rest * taps,
    }


MVE_CHANNEL_BLOCK = 124  # CH_IN_BLOCK_MVE: channels the MVE depthwise kernel gathers per pass


def _depthwise_opt_mve(s: KernelShape, inside: int, padded: int) -> Trips:
    """The MVE arm_depthwise_conv_s8_opt, per block of up to 124 channels: every tap of every pixel copied
    (or filled) 16 channels a step; per 4 pixels, arm_nn_depthwise_conv_nt_t_s8 runs 4 channels x 4 pixels
    per vector step over the taps; the pixels left over one at a time."""
    blocks = [min(MVE_CHANNEL_BLOCK, s.in_c - start) for start in range(0, s.in_c, MVE_CHANNEL_BLOCK)]
    steps = sum(math.ceil(active / 16) for active in blocks)
    lanes = sum(math.ceil(active / 4) for active in blocks)
    groups, rest = divmod(s.pixels, 4)
    taps = s.k_h * s.k_w
    return {
        "call": 1,
        "block": len(blocks),
        "pixel": s.pixels * len(blocks),
        "copy": inside * len(blocks),
        "fill": padded * len(blocks),
        "copy_step": inside * steps,
        "fill_step": padded * steps,
        "group": groups * len(blocks),
        "group_lane": groups * lanes,
        "group_lane_tap": groups * lanes * taps,
        "rest_lane": rest * lanes,
        "rest_lane_tap": rest * lanes * taps,
    }


def _fully_connected(s: KernelShape, path: str) -> Trips:
    """arm_fully_connected_s8 -> arm_nn_vec_mat_mult_t_s8 per batch row. MVE: 4 filter rows x 16 values per
    step, the rows left one at a time; DSP: 2 rows x 4 values, then single values, an odd row; C: 3 rows x 1
    value, then the rows left."""
    rows, depth, units = s.n, s.in_c, s.out_c
    if path == "mve":
        steps = math.ceil(depth / 16)
        return {
            "call": 1,
            "batch": rows,
            "quad": rows * (units // 4),
            "quad_step": rows * (units // 4) * steps,
            "single": rows * (units % 4),
            "single_step": rows * (units % 4) * steps,
        }
    if path == "dsp":
        pairs, odd = rows * (units // 2), rows * (units % 2)
        return {
            "call": 1,
            "batch": rows,
            "pair": pairs,
            "pair_4": pairs * (depth // 4),
            "pair_1": pairs * (depth % 4),
            "odd": odd,
            "odd_4": odd * (depth // 4),
            "odd_1": odd * (depth % 4),
        }
    triples, rest = rows * (units // 3), rows * (units % 3)
    return {
        "call": 1,
        "batch": rows,
        "triple": triples,
        "triple_value": triples * depth,
        "single": rest,
        "single_value": rest * depth,
    }


def _add(s: KernelShape, path: str) -> Trips:
    """arm_elementwise_add_s8: 16 (MVE, 4 lanes at a time in 4 steps) or 4 elements (DSP) per iteration,
    the rest one at a time."""
    block = 16 if path == "mve" else 4
    elements = s.n * s.in_c
    return {"call": 1, "block": elements // block, "element": elements % block}


def _avgpool(s: KernelShape, path: str) -> Trips:
    """arm_avgpool_s8. MVE and DSP: per output pixel, the taps inside the input accumulated channel by
    channel (16 per step on MVE), then a rounding division per output. C: per output, every tap of the
    window visited (bounds checked), then the division."""
    if path == "c":
        outputs = s.pixels * s.in_c
        return {
            "call": 1,
            "pixel": s.pixels,
            "output": outputs,
            "output_row": outputs * s.k_h,
            "output_tap": outputs * s.k_h * s.k_w,
            "inside_tap": s.inside_taps() * s.in_c,
        }
    taps = s.inside_taps()
    channels = math.ceil(s.in_c / 16) if path == "mve" else s.in_c
    return {
        "call": 1,
        "pixel": s.pixels,
        "tap": taps,
        "tap_channel": taps * channels,
        "output": s.pixels * channels,
        "division": s.pixels * s.in_c,
    }


def _softmax(s: KernelShape, path: str) -> Trips:
    """arm_softmax_s8: per row a max search, the sum of exponentials and the outputs (4 lanes on MVE)."""
    values = math.ceil(s.in_c / 4) if path == "mve" else s.in_c
    return {"call": 1, "row": s.n, "value": s.n * values, "element": s.n * s.in_c}


TRIPS: dict[str, Callable[[KernelShape, str], Trips]] = {
    "arm_convolve_1x1_s8_fast": _conv_1x1_fast,
    "arm_convolve_1x1_s8": _conv_1x1,
    "arm_convolve_1_x_n_s8": _conv_1_x_n,
    "arm_convolve_s8": _conv,
    "arm_depthwise_conv_3x3_s8": _depthwise_3x3,
    "arm_depthwise_conv_s8_opt": _depthwise_opt,
    "arm_depthwise_conv_s8": lambda s, path: _depthwise_generic(s),
    "arm_fully_connected_s8": _fully_connected,
    "arm_elementwise_add_s8": _add,
    "arm_avgpool_s8": _avgpool,
    "arm_softmax_s8": _softmax,
}


def trips(kernel: str, path: str, shape: KernelShape, wrapped: bool = False) -> Trips:
    """How many times each loop body of `kernel` runs for `shape` on `path` (`wrapped`: called through
    CMSIS-NN's wrapper, as TFLM calls conv and depthwise)."""
    counts = TRIPS[kernel](shape, path)
    return {**counts, "wrapper": 1.0} if wrapped else counts


@cache
def _loop_data(data: str) -> dict:
    file = LOOP_DATA / f"{data}.json"
    try:
        loaded = json.loads(file.read_text())
    except (OSError, ValueError) as error:
        raise CostModelError(f"{file}: cannot read the loop costs ({error})") from error
    if not isinstance(loaded, dict) or "kernels" not in loaded:
        raise CostModelError(f"{file}: cannot read the loop costs (no 'kernels' table)")
    return loaded


def body_costs(data: str) -> dict[str, dict[str, dict[str, float]]]:
    """Instructions by class per execution of each loop body, {kernel: {body: {class: count}}}, of the
    measurements `data` (a path, or a path on an architecture: `dataset`)."""
    return _loop_data(data)["kernels"]


def weight_reads(
    kernel: str, path: str, shape: KernelShape, wrapped: bool = False, data: str | None = None
) -> float | None:
    """Bytes of weights one call reads (each byte as often as the loops load it), from the bytes each loop
    body loads as measured (`weight_read_bytes` of the data file); None where the measurements did not
    count data accesses (the MVE path) or the kernel reads no weights."""
    per_body = _loop_data(data or path).get("weight_read_bytes", {}).get(kernel)
    if per_body is None:
        return None
    return per_call(trips(kernel, path, shape, wrapped), per_body)


def per_call(trip_counts: Trips, per_body: dict[str, float]) -> float:
    """A call's total of an amount measured per loop body (bytes loaded, ...): trips x amount per body; a
    body without a measured amount adds none."""
    return sum(times * per_body.get(body, 0.0) for body, times in trip_counts.items())


def dataset(path: str, architecture: str) -> str:
    """The loop costs measured for a path on an architecture: the plain-C path compiles to more instructions
    in Armv6-M's smaller Thumb set (8 low registers, no MLA) than in Armv7-M's, where it was measured."""
    return f"{path}-armv6m" if path == "c" and architecture == "armv6-m" else path


# Loop bodies that move data (im2col copies and fills, s8->s16 widening), reported as the `data` term; the
# other bodies compute (MACs with their requantization and stores), the `mac` term.
DATA_BODIES = frozenset(
    {"copy", "fill", "copy_byte", "fill_byte", "copy_step", "fill_step", "widen_4", "widen_1", "edge_bytes"}
)


def executed_by_term(
    kernel: str, path: str, shape: KernelShape, wrapped: bool = False, data: str | None = None
) -> dict[str, dict[str, float]]:
    """`executed`, split into the data-moving bodies (`data`) and the computing ones (`mac`); `data` names
    the measurements (default: the path's)."""
    costs = body_costs(data or path)[kernel]
    terms = {"mac": dict.fromkeys(CLASSES, 0.0), "data": dict.fromkeys(CLASSES, 0.0)}
    for body, times in trips(kernel, path, shape, wrapped).items():
        term = terms["data" if body in DATA_BODIES else "mac"]
        for cls, count in costs.get(body, {}).items():
            term[cls] += times * count
    return terms


def executed(
    kernel: str, path: str, shape: KernelShape, wrapped: bool = False, data: str | None = None
) -> dict[str, float]:
    """Instructions by class that one call executes: trip counts x body costs."""
    terms = executed_by_term(kernel, path, shape, wrapped, data)
    return {cls: terms["mac"][cls] + terms["data"][cls] for cls in CLASSES}


# The core profile's cost of each instruction class ("other": IT, NOP, barriers cost as an ALU operation).
CLASS_COST = {
    "alu": "alu", "mul": "mul", "simd_mac": "dual_mac", "load": "load", "store": "store",
    "branch": "branch", "other": "alu", "vector": "vector",
}  # fmt: skip


def price(counts: dict[str, float], core: CoreProfile) -> float:
    """Cycles of executing `counts` (by class) on `core`: scalar classes at its issue rate, vector
    instructions at its cost per vector instruction; no memory stalls (the board's terms add them)."""
    scalar = sum(counts[c] * getattr(core, CLASS_COST[c]) for c in CLASSES if c != "vector")
    return scalar / core.issue_rate + counts["vector"] * core.vector
