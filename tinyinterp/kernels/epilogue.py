"""The int8 output stage of int32 sums, 16 output channels at once, emitted as LLVM vector IR through numba.

TFLM's `MultiplyByQuantizedMultiplier` takes each sum through int64 arithmetic one value at a time; here
a block of 16 sums stays in int32 lanes except for the one product that needs 64 bits:

- bias: added in int32, wrapping as TFLM's accumulator does (the bias is reduced modulo 2**32);
- the left shift of a positive `shift`: a multiplication by 2**shift modulo 2**32 (C's int32 wrap;
  0 from a shift of 32 on, where a shift instruction's count would be out of range);
- gemmlowp's SaturatingRoundingDoublingHighMul: `(a * b + 2**30) >> 31` on the 64-bit product. Its
  nudge (`1 - 2**30` for a negative product) and truncating division round every tie up, as this floor
  of the nudged product does; only a = b = INT32_MIN exceeds int32, which the `min` saturates;
- RoundingDivideByPOT, the output offset and the clamp, in int32; then one byte per lane.

The single-rounding profile (`tinyinterp.numerics.SINGLE_ROUNDING`) takes the 64-bit product of the sum
and the multiplier once, shifted by `30 - shift` and rounded half up, as fixedpoint's
`multiply_by_quantized_multiplier_single_rounding` does (its shift count masked to 6 bits as x86 masks it).
The IR is generic vectors, so LLVM lowers it on any CPU: AVX-512, AVX2 or other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from tinyinterp.jit import jit
from tinyinterp.numerics import SINGLE_ROUNDING

LANES = 16
# Rows of the per-channel table (int32, channels padded to whole blocks of LANES).
BIAS, FACTOR, MULTIPLIER, RIGHT_SHIFT, MASK, HALF_MASK, SINGLE_SHIFT = range(7)
TABLE_ROWS = 7


def stage_table(bias: np.ndarray, multipliers: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """The table the lanes read: per output channel, the int32 bias (modulo 2**32), 2**max(shift, 0)
    modulo 2**32, the multiplier, the right shift max(-shift, 0), its mask and half mask, and the
    single-rounding shift (30 - shift) & 63."""
    channels = len(multipliers)
    shifts = shifts.astype(np.int64)
    left = np.maximum(shifts, 0)
    right = np.maximum(-shifts, 0)
    mask = (np.int64(1) << right) - 1
    columns = [
        bias.astype(np.int64),
        np.where(left < 32, np.int64(1) << np.minimum(left, 31), 0),
        multipliers.astype(np.int64),
        right,
        mask,
        mask >> 1,
        (30 - shifts) & 63,
    ]
    table = np.zeros((TABLE_ROWS, -(-channels // LANES) * LANES), np.int64)
    table[:, :channels] = np.stack(columns)
    return table.astype(np.uint32).view(np.int32)  # modulo 2**32: the low bits of each value


def lane_address(
    builder: ir.IRBuilder, array: Any, row: ir.Value, column: ir.Value, lane: ir.Type
) -> ir.Value:
    """A pointer to `LANES` elements of `lane` type at [row, column] of a 2-D array whose rows are
    contiguous (the row stride is read from the array, so a view of some columns works)."""
    row_stride = cgutils.unpack_tuple(builder, array.strides, 2)[0]
    byte = builder.add(
        builder.mul(row, row_stride), builder.mul(column, ir.Constant(column.type, lane.width // 8))
    )
    start = builder.gep(builder.bitcast(array.data, ir.IntType(8).as_pointer()), [byte])
    return builder.bitcast(start, ir.VectorType(lane, LANES).as_pointer())


def _splat(builder: ir.IRBuilder, value: ir.Value, lane: ir.Type) -> ir.Value:
    vector = ir.VectorType(lane, LANES)
    scalar = builder.trunc(value, lane) if value.type.width > lane.width else value
    single = builder.insert_element(ir.Constant(vector, None), scalar, ir.Constant(ir.IntType(32), 0))
    mask = ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES)
    return builder.shuffle_vector(single, single, mask)


def _clamp(builder: ir.IRBuilder, value: ir.Value, low: ir.Value, high: ir.Value) -> ir.Value:
    above = builder.select(builder.icmp_signed("<", value, low), low, value)
    return builder.select(builder.icmp_signed(">", above, high), high, above)


def _vector_constant(vector: ir.VectorType, value: int) -> ir.Constant:
    return ir.Constant(vector, [value] * vector.count)


def _high_products(builder: ir.IRBuilder, a: ir.Value, b: ir.Value) -> ir.Value:
    """`(a * b + 2**30) >> 31` of int32 lanes, truncated to int32 (only INT32_MIN * INT32_MIN leaves
    int32). Even and odd lanes go separately through the 8 int64 lanes of the same registers (each
    product a sign-extended 32 x 32 bit multiply, x86's vpmuldq), then blend back: no lane crosses its
    64-bit slot, where widening to 16 int64 lanes would shuffle every value across the register."""
    halves = ir.VectorType(ir.IntType(64), LANES // 2)
    low, high = (_vector_constant(halves, 32), _vector_constant(halves, 31))
    a64, b64 = builder.bitcast(a, halves), builder.bitcast(b, halves)
    nudge = _vector_constant(halves, 1 << 30)

    def product(x: ir.Value, y: ir.Value) -> ir.Value:
        return builder.add(builder.mul(x, y), nudge)

    even = product(builder.ashr(builder.shl(a64, low), low), builder.ashr(builder.shl(b64, low), low))
    odd = product(builder.ashr(a64, low), builder.ashr(b64, low))
    # Even lanes: bits 31.. of the nudged product moved to the low half; odd: to the high half.
    even = builder.bitcast(builder.lshr(even, high), a.type)
    odd = builder.bitcast(builder.shl(odd, ir.Constant(halves, [1] * (LANES // 2))), a.type)
    blend = ir.Constant(ir.VectorType(ir.IntType(32), LANES), [k + LANES * (k % 2) for k in range(LANES)])
    return builder.shuffle_vector(even, odd, blend)


def _tflm_rounding(builder: ir.IRBuilder, sums: ir.Value, row: Any, left_shifts: ir.Value) -> ir.Value:
    """MultiplyByQuantizedMultiplier on the int32 lanes `sums` (bias included): int32 lanes.
    `left_shifts`: whether any channel's shift is positive (else the multiply by 2**0 is skipped: an
    int32 multiply is a long step on the way of every value)."""
    no = ir.Constant(left_shifts.type, 0)
    shifted = _either(
        builder,
        builder.icmp_signed("!=", left_shifts, no),
        lambda shift: builder.mul(sums, row(FACTOR)) if shift else sums,
    )
    multiplier = row(MULTIPLIER)
    smallest = _vector_constant(sums.type, -(2**31))
    overflow = builder.and_(
        builder.icmp_signed("==", shifted, smallest), builder.icmp_signed("==", multiplier, smallest)
    )
    high = builder.select(
        overflow, _vector_constant(sums.type, 2**31 - 1), _high_products(builder, shifted, multiplier)
    )
    negative = builder.ashr(high, _vector_constant(sums.type, 31))  # -1 below zero, else 0
    threshold = builder.sub(row(HALF_MASK), negative)
    round_up = builder.icmp_signed(">", builder.and_(high, row(MASK)), threshold)
    return builder.add(builder.ashr(high, row(RIGHT_SHIFT)), builder.zext(round_up, high.type))


def _single_rounding(builder: ir.IRBuilder, sums: ir.Value, row: Any, _: ir.Value) -> ir.Value:
    """multiply_by_quantized_multiplier_single_rounding on the int32 lanes `sums`: int64 lanes."""
    wide = ir.VectorType(ir.IntType(64), LANES)
    product = builder.mul(builder.sext(sums, wide), builder.sext(row(MULTIPLIER), wide))
    shifted = builder.ashr(product, builder.zext(row(SINGLE_SHIFT), wide))
    one = ir.Constant(wide, [1] * LANES)
    return builder.ashr(builder.add(shifted, one), one)


def _lane_mask(builder: ir.IRBuilder, count: ir.Value) -> ir.Value:
    """<16 x i1>: lane < count."""
    lanes = ir.Constant(ir.VectorType(count.type, LANES), list(range(LANES)))
    return builder.icmp_unsigned("<", lanes, _splat(builder, count, count.type))


def _masked(
    builder: ir.IRBuilder, name: str, vector: ir.VectorType, returns: ir.Type, args: list
) -> ir.Value:
    """A call of llvm.masked.load / llvm.masked.store on `vector` lanes (generic: any CPU lowers it)."""
    kind = f"v{LANES}i{vector.element.width}"
    function_type = ir.FunctionType(returns, [a.type for a in args])
    function = cgutils.get_or_insert_function(builder.module, function_type, f"llvm.masked.{name}.{kind}.p0")
    return builder.call(function, args)


def _either(builder: ir.IRBuilder, condition: ir.Value, make: Any) -> ir.Value:
    """make(True) where `condition` holds, else make(False): a branch on a value the same for a whole
    kernel call (so always predicted), joined by a phi."""
    with builder.if_else(condition) as (then, otherwise):
        with then:
            when_true, true_block = make(True), builder.block
        with otherwise:
            when_false, false_block = make(False), builder.block
    joined = builder.phi(when_true.type)
    joined.add_incoming(when_true, true_block)
    joined.add_incoming(when_false, false_block)
    return joined


def _partial(builder: ir.IRBuilder, count: ir.Value) -> ir.Value:
    return builder.icmp_signed("<", count, ir.Constant(count.type, LANES))


def output_stage(
    builder: ir.IRBuilder,
    sums: ir.Value,
    table: Any,
    channel: ir.Value,
    scalars: tuple[ir.Value, ir.Value, ir.Value, ir.Value],
    rounding: ir.Value,
) -> ir.Value:
    """The int8 lanes (<16 x i8>) of the int32 lanes `sums`, through the `stage_table` array `table`'s
    columns channel..channel + 15; `scalars`: the output offset, act_min, act_max and whether any
    shift is positive (int64, `Int8OutputStage.scalars`); `rounding`: TFLM's or SINGLE_ROUNDING (int64)."""
    i32 = ir.IntType(32)

    def row(index: int) -> ir.Value:
        at = lane_address(builder, table, ir.Constant(channel.type, index), channel, i32)
        return builder.load(at, align=4)

    biased = builder.add(sums, row(BIAS))

    def stage(single: bool) -> ir.Value:
        scaled = (_single_rounding if single else _tflm_rounding)(builder, biased, row, scalars[3])
        lane = scaled.type.element
        # clamp(scaled + offset) as clamp(scaled, act_min - offset, act_max - offset) + offset: the
        # sum of an int32 lane near its ends and the offset would wrap (the scalar kernels add in int64).
        output_offset, act_min, act_max, _ = scalars
        low, high = (_splat(builder, builder.sub(bound, output_offset), lane) for bound in (act_min, act_max))
        value = builder.add(_clamp(builder, scaled, low, high), _splat(builder, output_offset, lane))
        return builder.trunc(value, ir.VectorType(ir.IntType(8), LANES))

    single = builder.icmp_signed("==", rounding, ir.Constant(rounding.type, SINGLE_ROUNDING))
    return _either(builder, single, stage)


def load_lanes(builder: ir.IRBuilder, source: ir.Value, lane: ir.Type, count: ir.Value) -> ir.Value:
    """The 16 `lane` values at `source`, or (count < 16) the first `count` of them and zeros: the
    others are not read."""
    vector = ir.VectorType(lane, LANES)
    alignment = ir.Constant(ir.IntType(32), lane.width // 8)

    def load(partial: bool) -> ir.Value:
        if not partial:
            return builder.load(source, align=lane.width // 8)
        zeros = ir.Constant(vector, [0] * LANES)
        return _masked(
            builder, "load", vector, vector, [source, alignment, _lane_mask(builder, count), zeros]
        )

    return _either(builder, _partial(builder, count), load)


def store_lanes(builder: ir.IRBuilder, value: ir.Value, target: ir.Value, count: ir.Value) -> None:
    """Store the 16 lanes `value` at `target`, or (count < 16) only the first `count` of them."""
    alignment = ir.Constant(ir.IntType(32), value.type.element.width // 8)
    with builder.if_else(_partial(builder, count)) as (partial, whole):
        with partial:
            mask = _lane_mask(builder, count)
            _masked(builder, "store", value.type, ir.VoidType(), [value, target, alignment, mask])
        with whole:
            builder.store(value, target, align=value.type.element.width // 8)


@intrinsic
def stage_block(typingctx, sums, m, c, table, out, out_m, out_c, count, scalars, rounding):
    """stage_block(sums, m, c, table, out, out_m, out_c, count, scalars, rounding): out[out_m, out_c +
    lane] = the int8 output stage of sums[m, c + lane] for the table's channel out_c + lane, lane <
    count <= 16 (only those lanes are read and written). sums: int32, out: int8, both 2-D with
    contiguous rows; scalars: `Int8OutputStage.scalars`."""

    def codegen(context, builder, signature, args):
        sums_array, table_array, out_array = (
            context.make_array(signature.args[k])(context, builder, args[k]) for k in (0, 3, 4)
        )
        m, c, _, _, out_m, out_c, count, scalars, rounding = args[1:]
        i32 = ir.IntType(32)
        sums_value = load_lanes(builder, lane_address(builder, sums_array, m, c, i32), i32, count)
        scalar_values = tuple(cgutils.unpack_tuple(builder, scalars, 4))
        result = output_stage(builder, sums_value, table_array, out_c, scalar_values, rounding)
        store_lanes(builder, result, lane_address(builder, out_array, out_m, out_c, ir.IntType(8)), count)
        return context.get_dummy_value()

    index = types.intp
    return types.void(sums, index, index, table, out, index, index, index, scalars, types.int64), codegen


@jit
def requantize_int8(sums, table, scalars, rounding, out):
    """out[m, c] = the int8 output stage of the int32 sums[m, c] (bias not yet added) for the table's
    channel c. sums and out are 2-D with contiguous rows (out may be a view of some columns); a last
    partial block of channels is read and written through lane masks."""
    rows, channels = sums.shape
    for m in range(rows):
        for c in range(0, channels, LANES):
            stage_block(sums, m, c, table, out, m, c, min(LANES, channels - c), scalars, rounding)


@dataclass(frozen=True)
class Int8OutputStage:
    """An int8 kernel's output stage bound at prepare: `stage_table` of its channels and the scalars."""

    table: np.ndarray
    output_offset: int
    act_min: int
    act_max: int
    rounding: int
    left_shifts: bool  # whether any channel's shift is positive

    @classmethod
    def of(
        cls, bias: np.ndarray, multipliers: np.ndarray, shifts: np.ndarray, output_offset: int,
        act_min: int, act_max: int, rounding: int,
    ) -> Int8OutputStage:  # fmt: skip
        """The stage of channels with these biases (int64), multipliers and shifts."""
        table = stage_table(bias, multipliers, shifts)
        return cls(table, output_offset, act_min, act_max, rounding, bool((shifts > 0).any()))

    @property
    def scalars(self) -> tuple[int, int, int, int]:
        """The output offset, act_min, act_max and whether any shift is positive."""
        return self.output_offset, self.act_min, self.act_max, int(self.left_shifts)

    @property
    def arguments(self) -> tuple[np.ndarray, tuple[int, int, int, int], int]:
        """What the kernels that end in this stage take: the table, the scalars, the rounding."""
        return self.table, self.scalars, self.rounding

    def __call__(self, sums: np.ndarray, out: np.ndarray) -> None:
        """out ([m, channels] int8, contiguous rows) = the output stage of sums ([m, channels] int32)."""
        requantize_int8(sums, *self.arguments, out)
