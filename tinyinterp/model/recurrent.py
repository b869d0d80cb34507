"""A GRU layer built from TFLM operators, for models TFLM has no recurrent kernel for.

`add_gru` appends one GRU layer (Keras's `GRU(reset_after=True)`, gates ordered z, r, n) unrolled over
time steps to a ModelBuilder, as the TFLite converter lowers an unrolled Keras GRU:

    xw = FULLY_CONNECTED(x_t, W, b_x)       hw = FULLY_CONNECTED(h, U, b_h)
    xz, xr, xn = SPLIT(xw)                  hz, hr, hn = SPLIT(hw)
    z = LOGISTIC(ADD(xz, hz))               r = LOGISTIC(ADD(xr, hr))
    n = TANH(ADD(xn, MUL(r, hn)))           h' = ADD(n, MUL(z, SUB(h, n)))   (= z h + (1 - z) n)

int8 throughout, quantized as the converter does: per-channel int8 weights (symmetric, zero point 0),
int32 biases at input scale x weight scale, LOGISTIC outputs at 1/256 (zero point -128), TANH
outputs at 1/128 (zero point 0), and every other activation asymmetric over its real range. Where a
converter calibrates that range on data, this module bounds it from the weights (sum of |w| times the
largest input, plus |bias|), which needs no data and never saturates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tinyinterp.errors import ModelError
from tinyinterp.model.builder import ModelBuilder

GATES = 3  # z (update), r (reset), n (candidate)
LOGISTIC_QUANTIZATION = (1.0 / 256, -128)
TANH_QUANTIZATION = (1.0 / 128, 0)
HIDDEN_RANGE = 1.0  # |h| <= 1: each state is a convex combination of tanh outputs and h0 = 0


@dataclass(frozen=True)
class GruWeights:
    """A GRU layer's float weights in Keras's layout (`layer.get_weights()` of `GRU(reset_after=True)`)."""

    kernel: np.ndarray  # [inputs, 3 * units]
    recurrent_kernel: np.ndarray  # [units, 3 * units]
    bias: np.ndarray  # [2, 3 * units]: input bias, recurrent bias

    @property
    def units(self) -> int:
        return int(np.shape(self.recurrent_kernel)[0])

    @property
    def inputs(self) -> int:
        return int(np.shape(self.kernel)[0])

    def check(self) -> None:
        for name in ("kernel", "recurrent_kernel", "bias"):
            if np.ndim(getattr(self, name)) != 2 or 0 in np.shape(getattr(self, name)):
                raise ModelError(
                    f"GRU {name}: shape {list(np.shape(getattr(self, name)))}, expected a matrix"
                )
        units = self.units
        expected = {
            "kernel": (self.inputs, GATES * units),
            "recurrent_kernel": (units, GATES * units),
            "bias": (2, GATES * units),
        }
        for name, shape in expected.items():
            got = np.shape(getattr(self, name))
            if got != shape:
                raise ModelError(f"GRU {name}: shape {list(got)}, expected {list(shape)}")
            if not np.all(np.isfinite(getattr(self, name))):
                raise ModelError(f"GRU {name}: non-finite values")


def random_gru_weights(rng: np.random.Generator, inputs: int, units: int) -> GruWeights:
    """Glorot-uniform kernels and small biases, as a freshly initialised Keras GRU (plus bias noise)."""
    fan = GATES * units

    def glorot(rows: int) -> np.ndarray:
        limit = np.sqrt(6.0 / (rows + fan))
        return rng.uniform(-limit, limit, size=(rows, fan)).astype(np.float32)

    bias = rng.uniform(-0.1, 0.1, size=(2, fan)).astype(np.float32)
    return GruWeights(glorot(inputs), glorot(units), bias)


def range_quantization(low: float, high: float) -> tuple[float, int]:
    """int8 scale and zero point of the converter's asymmetric quantization of [low, high] (widened to
    hold 0, as the converter nudges it)."""
    low, high = min(low, 0.0), max(high, 0.0)
    if not high > low:
        raise ModelError(f"empty activation range [{low}, {high}]")
    scale = (high - low) / 255.0
    return scale, int(np.clip(round(-128 - low / scale), -128, 127))


def dense_constants(
    builder: ModelBuilder, name: str, x_scale: float, x_bound: float, matrix: np.ndarray, bias: np.ndarray
) -> tuple[int, int, float]:
    """FULLY_CONNECTED weight ([out, in], per-channel int8) and int32 bias constants for an input of
    scale `x_scale` whose real values stay within +-`x_bound`, and the bound of the output's values."""
    matrix, bias = np.asarray(matrix, np.float64), np.asarray(bias, np.float64)
    channel_max = np.abs(matrix).max(axis=1)
    scales = (np.where(channel_max > 0, channel_max, 1.0) / 127.0).astype(np.float32)
    quantized = np.clip(np.round(matrix / scales[:, None]), -127, 127).astype(np.int8)
    weights = builder.constant(f"{name}/weights", quantized, scale=scales, zero_point=0)
    bias_scales = (np.float32(x_scale) * scales).astype(np.float32)
    quantized_bias = np.round(bias / bias_scales).astype(np.int32)
    bias_index = builder.constant(f"{name}/bias", quantized_bias, scale=bias_scales, zero_point=0)
    bound = float((np.abs(matrix).sum(axis=1) * x_bound + np.abs(bias)).max())
    return weights, bias_index, bound


@dataclass(frozen=True)
class _Activation:
    index: int
    scale: float
    zero_point: int


class _GruGraph:
    """Emits one GRU layer's operators into a builder; tensors are named `<name>/t<step>/<what>`.

    The weights are constants shared by every step, as in a converted model (stored once).
    """

    def __init__(
        self, builder: ModelBuilder, weights: GruWeights, name: str, input_quantization: tuple[float, int]
    ) -> None:
        self.builder, self.name, self.units = builder, name, weights.units
        self.split_axis = builder.constant(f"{name}/split_axis", np.array(1, np.int32))
        self.hidden_quantization = range_quantization(-HIDDEN_RANGE, HIDDEN_RANGE)
        x_scale, x_zero_point = input_quantization
        x_bound = x_scale * max(abs(-128 - x_zero_point), abs(127 - x_zero_point))
        self.w, self.b_x, self.xw_bound = dense_constants(
            builder,
            f"{name}/input",
            x_scale,
            x_bound,
            np.transpose(weights.kernel),
            np.asarray(weights.bias)[0],
        )
        self.u, self.b_h, self.hw_bound = dense_constants(
            builder,
            f"{name}/recurrent",
            self.hidden_quantization[0],
            HIDDEN_RANGE,
            np.transpose(weights.recurrent_kernel),
            np.asarray(weights.bias)[1],
        )

    def initial_state(self) -> _Activation:
        scale, zero_point = self.hidden_quantization
        zeros = np.full((1, self.units), zero_point, np.int8)
        index = self.builder.constant(f"{self.name}/h0", zeros, scale=scale, zero_point=zero_point)
        return _Activation(index, scale, zero_point)

    def step(self, prefix: str, x: _Activation, h: _Activation) -> _Activation:
        """One time step: the next hidden state from input x and state h."""
        xw = self.projection(f"{prefix}/xw", x, self.w, self.b_x, self.xw_bound)
        hw = self.projection(f"{prefix}/hw", h, self.u, self.b_h, self.hw_bound)
        xz, xr, xn = self.split(f"{prefix}/xw", xw)
        hz, hr, hn = self.split(f"{prefix}/hw", hw)
        gate_bound = self.xw_bound + self.hw_bound
        z_in = self.binary("ADD", f"{prefix}/z_in", xz, hz, gate_bound)
        z = self.unary("LOGISTIC", f"{prefix}/z", z_in, LOGISTIC_QUANTIZATION)
        r_in = self.binary("ADD", f"{prefix}/r_in", xr, hr, gate_bound)
        r = self.unary("LOGISTIC", f"{prefix}/r", r_in, LOGISTIC_QUANTIZATION)
        reset = self.binary("MUL", f"{prefix}/r_hn", r, hn, self.hw_bound)
        n_in = self.binary("ADD", f"{prefix}/n_in", xn, reset, gate_bound)
        n = self.unary("TANH", f"{prefix}/n", n_in, TANH_QUANTIZATION)
        gap = self.binary("SUB", f"{prefix}/h_minus_n", h, n, 2 * HIDDEN_RANGE)
        kept = self.binary("MUL", f"{prefix}/z_gap", z, gap, 2 * HIDDEN_RANGE)
        return self.binary("ADD", f"{prefix}/h", n, kept, HIDDEN_RANGE)

    def activation(self, name: str, scale: float, zero_point: int, width: int | None = None) -> _Activation:
        shape = (1, self.units if width is None else width)
        index = self.builder.tensor(name, shape, "int8", scale=scale, zero_point=zero_point)
        return _Activation(index, scale, zero_point)

    def projection(self, name: str, x: _Activation, weights: int, bias: int, bound: float) -> _Activation:
        y = self.activation(name, *range_quantization(-bound, bound), width=GATES * self.units)
        self.builder.op("FULLY_CONNECTED", [x.index, weights, bias], [y.index], version=4)
        return y

    def split(self, name: str, x: _Activation) -> list[_Activation]:
        """SPLIT copies bytes, so each third keeps the input's quantization."""
        parts = [self.activation(f"{name}_{gate}", x.scale, x.zero_point) for gate in "zrn"]
        self.builder.op(
            "SPLIT", [self.split_axis, x.index], [p.index for p in parts], version=2, num_splits=3
        )
        return parts

    def binary(self, opcode: str, name: str, a: _Activation, b: _Activation, bound: float) -> _Activation:
        y = self.activation(name, *range_quantization(-bound, bound))
        self.builder.op(opcode, [a.index, b.index], [y.index], version=2)
        return y

    def unary(self, opcode: str, name: str, x: _Activation, quantization: tuple[float, int]) -> _Activation:
        y = self.activation(name, *quantization)
        self.builder.op(opcode, [x.index], [y.index], version=2)
        return y


def add_gru(
    builder: ModelBuilder,
    steps: Sequence[int],
    input_quantization: tuple[float, int],
    weights: GruWeights,
    name: str = "gru",
) -> tuple[int, float, int]:
    """Append a GRU layer over `steps` (int8 tensors [1, inputs], one per time step, all quantized
    as `input_quantization` = (scale, zero point)), starting from h = 0.

    Returns the last hidden state's tensor index, scale and zero point (a [1, units] int8 tensor).
    """
    weights.check()
    if not steps:
        raise ModelError(f"GRU {name!r}: no time steps")
    graph = _GruGraph(builder, weights, name, input_quantization)
    h = graph.initial_state()
    for t, step in enumerate(steps):
        h = graph.step(f"{name}/t{t}", _Activation(step, *input_quantization), h)
    return h.index, h.scale, h.zero_point
