"""CONV_2D and DEPTHWISE_CONV_2D: int8, 16x8 (int16 activations, int8 weights) and float32.

Weights are int8 per-channel or per-tensor for the quantized kernels. TFLM's 16x8 kernels ignore
the zero points (16-bit activations are symmetric) and accumulate in 64 bits, or in 32 bits when
the bias is int32 (or, without a bias, when the `quantized_bias_type` option says INT32).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinyinterp.kernels.conv import (
    conv_float,
    conv_int8_implicit,
    depthwise_conv,
    pad_with_offset,
    patches_from_padded,
)
from tinyinterp.kernels.depthwise import depthwise_int8, tiled_weights, vector_depthwise_fits
from tinyinterp.kernels.epilogue import Int8OutputStage
from tinyinterp.kernels.gemm import exact_float_dtype, requantize_rows
from tinyinterp.kernels.int_gemm import (
    SHIFT,
    STEP,
    PackedWeights,
    padded_depth,
    vnni_available,
)
from tinyinterp.model.ir import Tensor, TensorType
from tinyinterp.model.options import (
    Conv2DOptions,
    DepthwiseConv2DOptions,
    FullyConnectedOptions,
    TransposeConvOptions,
)
from tinyinterp.numerics import TFLM_ROUNDING
from tinyinterp.ops.base import Array, Op, OpContext, batched_shape, register, required
from tinyinterp.ops.padding import Window, window
from tinyinterp.quant import activation_range, float_activation_range, quantize_multipliers

INT8, INT16, INT32, INT64, FLOAT32 = (
    TensorType.INT8,
    TensorType.INT16,
    TensorType.INT32,
    TensorType.INT64,
    TensorType.FLOAT32,
)
# The weights each activation dtype takes (TFLM refuses hybrid models).
WEIGHT_DTYPES = {INT8: INT8, INT16: INT8, FLOAT32: FLOAT32}
# Largest |input + input offset| of each quantized kernel, which bounds its exact BLAS sums.
MAX_ABS_INPUT = {INT8: 255, INT16: 32768}
# Bytes of patches and of their sums a quantized conv holds at once: they stay in L2.
TILE_BYTES = 1 << 20


def kernel_dtype(ctx: OpContext, input_: Tensor, weights: Tensor, output: Tensor) -> TensorType:
    """The activation dtype that picks the kernel, after checking the three tensors agree on it."""
    ctx.expect_dtype(input_, *WEIGHT_DTYPES)
    ctx.expect_dtype(output, input_.dtype)
    ctx.expect_dtype(weights, WEIGHT_DTYPES[input_.dtype])
    return input_.dtype


def accumulates_in_int64(ctx: OpContext[Conv2DOptions | FullyConnectedOptions], bias: Tensor | None) -> bool:
    """Whether a 16x8 conv or fully connected layer sums in 64 bits (its bias, else the option)."""
    if bias is not None:
        ctx.expect_dtype(bias, INT32, INT64)
        return bias.dtype == INT64
    return ctx.options.quantized_bias_type != "INT32"


def bias_values(ctx: OpContext, bias: Tensor | None, channels: int, *dtypes: TensorType) -> Array:
    """The constant bias as int64 (float32 for a float kernel, `dtypes` (FLOAT32,)), or zeros: TFLM adds
    0 when there is none. `dtypes` are those the kernel reads (TFLM reads others as garbage)."""
    dtype = np.float32 if dtypes == (FLOAT32,) else np.int64
    if bias is None:
        return np.zeros(channels, dtype)
    ctx.expect_dtype(bias, *dtypes)
    ctx.expect_shape(bias, (channels,))
    return ctx.expect_constant(bias).astype(dtype)


def per_channel_multipliers(ctx: OpContext, input_: Tensor, weights: Tensor, output: Tensor, channels: int):
    """PopulateConvolutionQuantizationParams: effective scale per output channel, in double."""
    input_scale, _ = ctx.quantization(input_)
    output_scale, _ = ctx.quantization(output)
    weight_scales = ctx.channel_scales(weights)
    if weight_scales.size not in (1, channels):
        ctx.fail(f"{ctx.describe(weights)} has {weight_scales.size} scales for {channels} output channels")
    scales = np.broadcast_to(weight_scales, (channels,)).astype(np.float64)
    return quantize_multipliers(np.float64(input_scale) * scales / np.float64(output_scale))


def read_extent(
    window: Window, kernel: tuple[int, int], strides: tuple[int, int], dilations: tuple[int, int]
) -> tuple[int, int]:
    """The rows and columns of the padded input the windows read (the input, its padding, maybe less)."""
    return (
        (window.out_h - 1) * strides[0] + (kernel[0] - 1) * dilations[0] + 1,
        (window.out_w - 1) * strides[1] + (kernel[1] - 1) * dilations[1] + 1,
    )


@dataclass(frozen=True)
class OpData:
    """A conv-like op's prepared output stage, bound once at prepare as TFLM's OpDataConv /
    OpDataFullyConnected: per-channel multipliers and shifts, the bias, the offsets and the clamp.

    Float kernels use `bias` (float32), `act_min` and `act_max` only (no multipliers or offsets).
    `wide`: a 16x8 kernel summing in 64 bits; `rounding`: the int8 requantization's (a numerics
    profile's). `dtype` is the output's.
    """

    bias: Array
    act_min: int | np.float32
    act_max: int | np.float32
    dtype: np.dtype
    multipliers: Array = field(default_factory=lambda: np.zeros(0, np.int32))
    shifts: Array = field(default_factory=lambda: np.zeros(0, np.int32))
    input_offset: int = 0
    output_offset: int = 0
    wide: bool = False
    rounding: int = TFLM_ROUNDING

    def requantize(self, acc: Array, columns: slice, out: Array) -> None:
        """out = clamp(multiplier * (acc + bias) + output offset), for the output channels `columns`."""
        requantize_rows(
            acc, self.bias[columns], self.multipliers[columns], self.shifts[columns], self.output_offset,
            self.act_min, self.act_max, out, self.rounding, self.wide,
        )  # fmt: skip

    def shifted_bias(self, columns: slice, packed: PackedWeights) -> Array:
        """The bias of `columns` with int_gemm's shift folded in (its products are of shifted bytes)."""
        return self.bias[columns] + packed.bias_shift

    def packed_stage(self, columns: slice, packed: PackedWeights) -> Int8OutputStage:
        """The output stage of int_gemm's sums with `packed`, for the output channels `columns`."""
        return self.int8_stage(columns, self.shifted_bias(columns, packed))

    def int8_stage(self, columns: slice, bias: Array, repeat: int = 1) -> Int8OutputStage:
        """The vector output stage of int32 sums into int8, for the output channels `columns`, with
        `bias` in place of the layer's (int_gemm's folds in its shift); `repeat`: for a row of that
        many output pixels, the channels of each in turn."""
        return Int8OutputStage.of(
            np.tile(bias, repeat), np.tile(self.multipliers[columns], repeat),
            np.tile(self.shifts[columns], repeat), self.output_offset, int(self.act_min), int(self.act_max),
            self.rounding,
        )  # fmt: skip


def float_op_data(
    ctx: OpContext[Conv2DOptions | DepthwiseConv2DOptions | FullyConnectedOptions | TransposeConvOptions],
    bias: Tensor | None,
    channels: int,
) -> OpData:
    """A float32 kernel's output stage: its bias and the fused activation as a float32 clamp."""
    act_min, act_max = float_activation_range(ctx.options.fused_activation_function)
    return OpData(bias_values(ctx, bias, channels, FLOAT32), act_min, act_max, np.dtype(np.float32))


def quantized_op_data(
    ctx: OpContext[Conv2DOptions | DepthwiseConv2DOptions | FullyConnectedOptions | TransposeConvOptions],
    input_: Tensor,
    output: Tensor,
    bias: Array,
    multipliers: tuple[Array, Array],
    wide: bool,
    zero_points: bool,
) -> OpData:
    """A quantized kernel's output stage. `zero_points`: whether the kernel applies them (TFLM's 16x8
    convolutions take none)."""
    dtype = output.dtype.numpy
    output_scale, output_zero_point = ctx.quantization(output)
    act_min, act_max = activation_range(
        ctx.options.fused_activation_function, output_scale, output_zero_point, dtype
    )
    return OpData(
        bias,
        act_min,
        act_max,
        dtype,
        *multipliers,
        input_offset=-ctx.quantization(input_)[1] if zero_points else 0,
        output_offset=output_zero_point if zero_points else 0,
        wide=wide,
        rounding=ctx.rounding,
    )


def conv_op_data(
    ctx: OpContext[Conv2DOptions | DepthwiseConv2DOptions | TransposeConvOptions],
    input_: Tensor,
    weights: Tensor,
    output: Tensor,
    channels: int,
    bias: Tensor | None,
    bias_dtypes: tuple[TensorType, ...],
    wide: bool = False,
) -> OpData:
    """The OpData of a quantized convolution: per-channel multipliers, the bias as int64 (`bias_dtypes`
    are the types the kernel reads), no zero points for 16x8."""
    multipliers = per_channel_multipliers(ctx, input_, weights, output, channels)
    values = bias_values(ctx, bias, channels, *bias_dtypes)
    return quantized_op_data(
        ctx, input_, output, values, multipliers, wide, zero_points=input_.dtype != INT16
    )


@register("CONV_2D", dtypes=("int8", "int16", "float32"))
class Conv2D(Op):
    def __init__(self, ctx: OpContext[Conv2DOptions]) -> None:
        ctx.expect_count((2, 3))
        input_, weights, output = ctx.input(0), ctx.input(1), ctx.output()
        self.dtype = kernel_dtype(ctx, input_, weights, output)
        for tensor in (input_, weights, output):
            ctx.expect_rank(tensor, 4)
        filters = ctx.expect_constant(weights)
        out_channels, kernel_h, kernel_w, group_channels = filters.shape
        batch, in_h, in_w, in_channels = input_.shape
        if group_channels == 0 or in_channels == 0 or in_channels % group_channels:
            ctx.fail(f"input channels {in_channels} are not a multiple of filter channels {group_channels}")
        self.groups = in_channels // group_channels
        if out_channels % self.groups:
            ctx.fail(f"{out_channels} output channels cannot be split into {self.groups} groups")
        self.window: Window = window(ctx, in_h, in_w, kernel_h, kernel_w)
        ctx.expect_shape(output, (batch, self.window.out_h, self.window.out_w, out_channels))
        self.kernel = (kernel_h, kernel_w)
        self.strides = (ctx.options.stride_h, ctx.options.stride_w)
        self.dilations = (ctx.options.dilation_h_factor, ctx.options.dilation_w_factor)
        self.group_channels = group_channels
        self.in_shape, self.out_shape = input_.shape, output.shape
        bias = ctx.optional_input(2)
        self.run: Callable[[Array, tuple[int, ...]], Array]
        if self.dtype == FLOAT32:
            self.op_data = float_op_data(ctx, bias, out_channels)
            self.float_weights = np.ascontiguousarray(filters.transpose(1, 2, 3, 0), dtype=np.float32)
            self.run = self._float
            return
        wide = self.dtype == INT16 and accumulates_in_int64(ctx, bias)
        bias_dtypes = (INT32,) if self.dtype == INT8 else (INT32, INT64)
        self.op_data = conv_op_data(ctx, input_, weights, output, out_channels, bias, bias_dtypes, wide)
        per_group = out_channels // self.groups
        self.columns = [slice(g * per_group, (g + 1) * per_group) for g in range(self.groups)]
        self.padded_size = read_extent(self.window, self.kernel, self.strides, self.dilations)
        if self.dtype == INT8 and vnni_available() and self.dilations[1] == 1:
            self._prepare_implicit(
                filters.reshape(self.groups, per_group, kernel_h, kernel_w * group_channels)
            )
            return
        self.run = self._quantized
        self._prepare_products(filters.reshape(self.groups, per_group, -1))
        # A 1x1 kernel at stride 1 reads every input position once: the padded input is the patches
        # (unless int_gemm's rows need padding to whole steps).
        self.pointwise = (
            self.kernel == (1, 1) and self.strides == (1, 1) and self.patch_length == group_channels
        )
        item_patches = self.window.out_h * self.window.out_w * self.patch_length * self.patch_dtype.itemsize
        padded_item = self.padded_size[0] * self.padded_size[1] * group_channels * self.patch_dtype.itemsize
        self.scratch_bytes = padded_item + (0 if self.pointwise else item_patches)
        item_sums = self.window.out_h * self.window.out_w * self.sums_row_bytes
        self.tile_items = max(1, TILE_BYTES // max(item_patches + item_sums, 1))

    def _prepare_implicit(self, filters: Array) -> None:
        """int8 on AVX-512 VNNI without a patch matrix (`gemm_u8s8_int8`): the register tiles read each
        window from the padded input of shifted bytes, a run of kernel_w * channels bytes per kernel
        row (`filters` [groups, out channels per group, kh, kw * c]), each run padded with zero weights
        to whole 4-byte steps; the output stage runs on every tile's sums."""
        q = self.op_data
        groups, per_group, kernel_h, run = filters.shape
        run_bytes = padded_depth(run)
        weights = np.zeros((groups, per_group, kernel_h, run_bytes), np.int8)
        weights[..., :run] = filters
        packed = [PackedWeights(w.reshape(per_group, -1), q.input_offset) for w in weights]
        stages = [q.packed_stage(c, p) for c, p in zip(self.columns, packed, strict=True)]
        rows, columns = self.padded_size
        row_bytes = columns * self.group_channels
        oy, ox = np.meshgrid(np.arange(self.window.out_h), np.arange(self.window.out_w), indexing="ij")
        # Where each output pixel's window starts in an item's padded input.
        pixel_offsets = (
            oy * self.strides[0] * row_bytes + ox * self.strides[1] * self.group_channels
        ).ravel()
        reduction = (kernel_h, run_bytes // STEP, self.dilations[0] * row_bytes)
        self.scratch_bytes = rows * row_bytes
        tile_items = max(1, TILE_BYTES // self.scratch_bytes)
        # What `conv_int8_implicit` takes between the input and the output, per group.
        padding = (self.window.pad_top, self.window.pad_left, (*self.padded_size, self.group_channels))
        windows = (tile_items, pixel_offsets, reduction)
        self.group_arguments = [
            (g * self.group_channels, *padding, group.pad_byte, *windows, group.packed, *stage.arguments)
            for g, (group, stage) in enumerate(zip(packed, stages, strict=True))
        ]
        self.run = self._implicit

    def _prepare_products(self, filters: Array) -> None:
        """How the patches ([groups, out channels per group, kh * kw * c] `filters`) are multiplied:
        int8 on AVX-512 VNNI (dilated along the width, so not `_prepare_implicit`), through int_gemm on
        shifted bytes; else through BLAS, in the float dtype that keeps it exact, on patches that hold
        `x + input_offset`."""
        q = self.op_data
        per_group = filters.shape[1]
        self.packed: list[PackedWeights] | None = None
        # The output stage of each group's int32 sums (int_gemm's), else `requantize` of float sums.
        self.stages: list[Int8OutputStage] | None = None
        # What pad_with_offset adds to the input values, and writes where the windows leave the input.
        self.patch_offset: np.number
        self.pad_value: np.number
        if self.dtype == INT8 and vnni_available():
            self.packed = [PackedWeights(weights, q.input_offset) for weights in filters]
            self.stages = [q.packed_stage(c, p) for c, p in zip(self.columns, self.packed, strict=True)]
            self.patch_dtype = np.dtype(np.uint8)
            self.patch_offset, self.pad_value = np.int16(SHIFT), self.packed[0].pad_byte
            self.patch_length = self.packed[0].row_bytes
            self.sums_row_bytes = per_group * np.dtype(np.int32).itemsize
            return
        self.calls_blas = True
        matrix = filters.transpose(0, 2, 1)  # [groups, kh * kw * c, out channels per group]
        self.patch_dtype = exact_float_dtype(matrix, reduce_axis=1, max_abs_input=MAX_ABS_INPUT[self.dtype])
        self.weights = np.ascontiguousarray(matrix, dtype=self.patch_dtype)
        self.patch_offset, self.pad_value = self.patch_dtype.type(q.input_offset), self.patch_dtype.type(0)
        self.patch_length = matrix.shape[1]
        self.sums_row_bytes = per_group * self.patch_dtype.itemsize

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = required(inputs[0])
        return [self.run(x, batched_shape(self.out_shape, x, self.in_shape))]

    def _float(self, x: Array, out_shape: tuple[int, ...]) -> Array:
        """reference_ops::Conv's summation order, in one kernel call."""
        q = self.op_data
        out = np.empty(out_shape, np.float32)
        window = (*self.strides, *self.dilations, self.window.pad_top, self.window.pad_left)
        conv_float(x, self.float_weights, q.bias, *window, q.act_min, q.act_max, out)
        return out

    def _implicit(self, x: Array, out_shape: tuple[int, ...]) -> Array:
        """One kernel call per channel group: padding, products and output stage (`conv_int8_implicit`)."""
        out = np.empty(out_shape, np.int8)
        out_rows = out.reshape(-1, out_shape[3])
        for columns, arguments in zip(self.columns, self.group_arguments, strict=True):
            conv_int8_implicit(x, *arguments, out_rows[:, columns])
        return out

    def _quantized(self, x: Array, out_shape: tuple[int, ...]) -> Array:
        """Tile by tile of items (sized to stay in cache): pad and offset the input, gather its
        patches (a pointwise conv's padded input already is its patch matrix), multiply, requantize."""
        q = self.op_data
        items, out_h, out_w, _ = out_shape
        out = np.empty(out_shape, q.dtype)
        out_rows = out.reshape(items * out_h * out_w, -1)
        tile = max(1, min(self.tile_items, items))
        padded = np.empty((tile, *self.padded_size, self.group_channels), self.patch_dtype)
        # int_gemm's rows may end in bytes no patch writes: their weights are zero.
        patches = (
            None if self.pointwise else np.empty((tile * out_h * out_w, self.patch_length), self.patch_dtype)
        )
        acc = self._sums_buffer(tile * out_h * out_w)
        for start in range(0, items, tile):
            count = min(tile, items - start)
            rows = slice(start * out_h * out_w, (start + count) * out_h * out_w)
            for g, columns in enumerate(self.columns):
                pad_with_offset(
                    x[start : start + count],
                    self.patch_offset,
                    g * self.group_channels,
                    self.window.pad_top,
                    self.window.pad_left,
                    padded[:count],
                    self.pad_value,
                )
                matrix = self._patches(padded[:count], patches, out_h, out_w)
                products = self._products(g, matrix, acc[: len(matrix)])
                if self.stages is None:
                    q.requantize(products, columns, out_rows[rows, columns])
                else:
                    self.stages[g](products, out_rows[rows, columns])
        return out

    def _sums_buffer(self, rows: int) -> Array:
        if self.packed is not None:
            return self.packed[0].empty_sums(rows)
        return np.empty((rows, self.weights.shape[2]), self.patch_dtype)

    def _products(self, group: int, matrix: Array, acc: Array) -> Array:
        """The exact sums of the patch rows `matrix` with the weights of `group`, computed into `acc`."""
        if self.packed is not None:
            return self.packed[group].sums(matrix, acc)
        return np.matmul(matrix, self.weights[group], out=acc)

    def _patches(self, padded: Array, patches: Array | None, out_h: int, out_w: int) -> Array:
        """The patch matrix of the items in `padded`, gathered into `patches` unless pointwise."""
        if patches is None:
            return padded.reshape(-1, self.group_channels)
        rows = patches[: len(padded) * out_h * out_w]
        patches_from_padded(padded, *self.kernel, *self.strides, *self.dilations, out_h, out_w, rows)
        return rows


@register("DEPTHWISE_CONV_2D", dtypes=("int8", "int16", "float32"))
class DepthwiseConv2D(Op):
    def __init__(self, ctx: OpContext[DepthwiseConv2DOptions]) -> None:
        ctx.expect_count((2, 3))
        input_, weights, output = ctx.input(0), ctx.input(1), ctx.output()
        self.dtype = kernel_dtype(ctx, input_, weights, output)
        for tensor in (input_, weights, output):
            ctx.expect_rank(tensor, 4)
        filters = ctx.expect_constant(weights)
        one, kernel_h, kernel_w, out_channels = filters.shape
        batch, in_h, in_w, in_channels = input_.shape
        if one != 1:
            ctx.fail(
                f"{ctx.describe(weights)} has shape {list(filters.shape)}, expected [1, kh, kw, channels]"
            )
        if in_channels == 0 or out_channels % in_channels:
            ctx.fail(f"output channels {out_channels} are not a multiple of input channels {in_channels}")
        depth_multiplier = out_channels // in_channels
        declared = ctx.options.depth_multiplier
        if declared != depth_multiplier:
            ctx.fail(f"depth_multiplier option is {declared}, but the shapes imply {depth_multiplier}")
        self.window = window(ctx, in_h, in_w, kernel_h, kernel_w)
        ctx.expect_shape(output, (batch, self.window.out_h, self.window.out_w, out_channels))
        self.in_shape, self.out_shape = input_.shape, output.shape
        bias = ctx.optional_input(2)
        if self.dtype == FLOAT32:
            self.op_data = float_op_data(ctx, bias, out_channels)
        else:
            # TFLM's 16x8 depthwise kernel reads the bias as int64 whatever its type.
            bias_dtypes = (INT32,) if self.dtype == INT8 else (INT64,)
            self.op_data = conv_op_data(
                ctx, input_, weights, output, out_channels, bias, bias_dtypes, wide=self.dtype == INT16
            )
        self.filters = np.ascontiguousarray(
            filters[0], dtype=np.float32 if self.dtype == FLOAT32 else np.int32
        )
        self.depth_multiplier = depth_multiplier
        self.strides = (ctx.options.stride_h, ctx.options.stride_w)
        self.dilations = (ctx.options.dilation_h_factor, ctx.options.dilation_w_factor)
        q = self.op_data
        self.run: Callable[[Array, Array], None]
        self.arguments: tuple[Any, ...]  # what the kernel takes between the input and the output
        if self.dtype == INT8 and vector_depthwise_fits(in_channels, depth_multiplier, self.strides[1]):
            self._prepare_vector(filters[0], (kernel_h, kernel_w))
            return
        # Everything `depthwise_conv` takes between the input and the output, bound once.
        self.arguments = (
            self.filters, q.bias, q.multipliers, q.shifts, q.input_offset, q.output_offset, q.act_min,
            q.act_max, q.rounding, depth_multiplier, *self.strides, *self.dilations, self.window.pad_top,
            self.window.pad_left,
        )  # fmt: skip
        self.run = self._per_pixel

    def _prepare_vector(self, filters: Array, kernel: tuple[int, int]) -> None:
        """`depthwise_int8`'s arguments: the input is padded with the byte that stands for 0 (the input
        zero point), so the input offset's share of every sum, the same at every pixel, joins the bias."""
        q = self.op_data
        out_w = self.window.out_w
        bias = q.bias + q.input_offset * filters.sum(axis=(0, 1), dtype=np.int64)
        stage = q.int8_stage(slice(None), bias, repeat=out_w)
        self.padded_size = read_extent(self.window, kernel, self.strides, self.dilations)
        self.scratch_bytes = self.padded_size[0] * self.padded_size[1] * len(q.bias)  # the padded input
        self.arguments = (
            self.window.pad_top, self.window.pad_left, np.int8(-q.input_offset), *self.padded_size, *kernel,
            *self.strides, *self.dilations, tiled_weights(filters, out_w), *stage.arguments,
        )  # fmt: skip
        self.run = self._vector

    def __call__(self, inputs: Sequence[Array | None]) -> list[Array]:
        x = required(inputs[0])
        out = np.empty(batched_shape(self.out_shape, x, self.in_shape), self.op_data.dtype)
        self.run(x, out)
        return [out]

    def _vector(self, x: Array, out: Array) -> None:
        depthwise_int8(x, *self.arguments, out)

    def _per_pixel(self, x: Array, out: Array) -> None:
        depthwise_conv(x, *self.arguments, out)
