"""Built-in stand-ins for the five MLPerf Tiny reference models.

Each stand-in has exactly the reference model's layer shapes, op options, op versions and
quantization layout (per-channel conv weights, per-tensor fully connected weights, the same
input quantization), written with our own model writer. Weights, biases and the scales of
inner tensors are seeded random: the stand-ins run and cost like the references, but they
classify nothing. They give every command a default that works on a fresh install with no
download (`tinyinterp run zoo:kws`), and tests that need no shared data.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from tinyinterp.errors import ModelError
from tinyinterp.geometry import out_size
from tinyinterp.model import Model, ModelBuilder, load_model
from tinyinterp.model.recurrent import (
    HIDDEN_RANGE,
    add_gru,
    dense_constants,
    random_gru_weights,
    range_quantization,
)
from tinyinterp.suite.benchmarks import BENCHMARKS

ZOO_PREFIX = "zoo:"

# Input quantization of the reference models (so dataset conversions apply unchanged).
_INPUTS = {
    "kws": ((1, 49, 10, 1), 0.5847029, 83),
    "vww": ((1, 96, 96, 3), 0.003921569, -128),
    "ic": ((1, 32, 32, 3), 1.0, -128),
    "ad": ((1, 640), 0.39101523, 89),
    "sww": ((1, 30, 1, 40), 0.0037010426, -128),
}
ALIASES = {b.name: b.short for b in BENCHMARKS.values()}
REFERENCE_FILES = {b.short: b.model_file for b in BENCHMARKS.values()}


class _Net:
    """Appends layers to a ModelBuilder, tracking each activation's shape and quantization."""

    def __init__(self, name: str, seed: int) -> None:
        shape, scale, zero_point = _INPUTS[name]
        self.builder = ModelBuilder(f"tinyinterp zoo stand-in for {REFERENCE_FILES[name]} (random weights)")
        self.rng = np.random.default_rng(seed)
        self.shapes: dict[int, tuple[int, ...]] = {}
        self.scales: dict[int, float] = {}
        self.zero_points: dict[int, int] = {}
        self.count = 0
        self.input = self._activation("input", shape, scale, zero_point, is_input=True)

    def _activation(
        self, name: str, shape: tuple[int, ...], scale: float, zero_point: int, is_input: bool = False
    ) -> int:
        make = self.builder.input if is_input else self.builder.tensor
        index = make(name, shape, "int8", scale=scale, zero_point=zero_point)
        self.shapes[index], self.scales[index], self.zero_points[index] = shape, scale, zero_point
        return index

    def _name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}_{self.count}"

    def _output_quantization(self, x: int, activation: str) -> tuple[float, int]:
        scale = self.scales[x] * float(self.rng.uniform(0.7, 1.4))
        zero_point = -128 if activation != "NONE" else int(self.rng.integers(-16, 16))
        return scale, zero_point

    def _weights(self, shape: tuple[int, ...], fan_in: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
        """int8 weights and per-channel scales whose real values have a variance near 1 / fan_in."""
        weights = self.rng.integers(-127, 128, size=shape, dtype=np.int8)
        scales = self.rng.uniform(1.0, 2.0, size=channels) / (127.0 * math.sqrt(fan_in))
        return weights, scales.astype(np.float32)

    def _bias(self, name: str, input_scale: float, weight_scales: np.ndarray, channels: int) -> int:
        bias_scales = (np.float32(input_scale) * weight_scales).astype(np.float32)
        values = self.rng.integers(-2000, 2000, size=channels, dtype=np.int32)
        scale = bias_scales if bias_scales.size > 1 else float(bias_scales[0])
        return self.builder.constant(name, values, scale=scale, zero_point=0)

    def _windowed_shape(
        self, x: int, kernel: tuple[int, int], stride: int | tuple[int, int], padding: str, channels: int
    ) -> tuple[int, ...]:
        n, h, w, _ = self.shapes[x]
        sh, sw = (stride, stride) if isinstance(stride, int) else stride
        return (n, out_size(padding, h, kernel[0], sh), out_size(padding, w, kernel[1], sw), channels)

    def conv(
        self,
        x: int,
        channels: int,
        kernel: tuple[int, int],
        stride: int = 1,
        padding: str = "SAME",
        activation: str = "RELU",
    ) -> int:
        in_channels = self.shapes[x][3]
        fan_in = kernel[0] * kernel[1] * in_channels
        weights, scales = self._weights((channels, *kernel, in_channels), fan_in, channels)
        name = self._name("conv")
        w = self.builder.constant(
            f"{name}/weights", weights, scale=scales, zero_point=0, quantized_dimension=0
        )
        b = self._bias(f"{name}/bias", self.scales[x], scales, channels)
        y = self._activation(
            name,
            self._windowed_shape(x, kernel, stride, padding, channels),
            *self._output_quantization(x, activation),
        )
        self.builder.op(
            "CONV_2D",
            [x, w, b],
            [y],
            version=3,
            padding=padding,
            stride_h=stride,
            stride_w=stride,
            fused_activation_function=activation,
        )
        return y

    def depthwise(
        self,
        x: int,
        kernel: tuple[int, int],
        stride: int = 1,
        padding: str = "SAME",
        activation: str = "RELU",
    ) -> int:
        channels = self.shapes[x][3]
        weights, scales = self._weights((1, *kernel, channels), kernel[0] * kernel[1], channels)
        name = self._name("depthwise")
        w = self.builder.constant(
            f"{name}/weights", weights, scale=scales, zero_point=0, quantized_dimension=3
        )
        b = self._bias(f"{name}/bias", self.scales[x], scales, channels)
        y = self._activation(
            name,
            self._windowed_shape(x, kernel, stride, padding, channels),
            *self._output_quantization(x, activation),
        )
        self.builder.op(
            "DEPTHWISE_CONV_2D",
            [x, w, b],
            [y],
            version=3,
            padding=padding,
            stride_h=stride,
            stride_w=stride,
            depth_multiplier=1,
            fused_activation_function=activation,
        )
        return y

    def average_pool(self, x: int) -> int:
        _, h, w, channels = self.shapes[x]
        y = self._activation(self._name("pool"), (1, 1, 1, channels), self.scales[x], self.zero_points[x])
        self.builder.op(
            "AVERAGE_POOL_2D",
            [x],
            [y],
            version=2,
            padding="VALID",
            stride_h=h,
            stride_w=w,
            filter_height=h,
            filter_width=w,
        )
        return y

    def flatten(self, x: int) -> int:
        size = int(np.prod(self.shapes[x][1:]))
        name = self._name("reshape")
        shape = self.builder.constant(f"{name}/shape", np.array([1, size], np.int32))
        y = self._activation(name, (1, size), self.scales[x], self.zero_points[x])
        self.builder.op("RESHAPE", [x, shape], [y], version=1)
        return y

    def dense(self, x: int, units: int, activation: str = "NONE") -> int:
        depth = self.shapes[x][-1]
        weights, scales = self._weights((units, depth), depth, 1)
        name = self._name("dense")
        w = self.builder.constant(f"{name}/weights", weights, scale=float(scales[0]), zero_point=0)
        b = self._bias(f"{name}/bias", self.scales[x], scales, units)
        y = self._activation(name, (1, units), *self._output_quantization(x, activation))
        self.builder.op("FULLY_CONNECTED", [x, w, b], [y], version=4, fused_activation_function=activation)
        return y

    def add(self, a: int, b: int, activation: str = "RELU") -> int:
        scale = max(self.scales[a], self.scales[b]) * float(self.rng.uniform(1.0, 1.5))
        y = self._activation(self._name("add"), self.shapes[a], scale, -128)
        self.builder.op("ADD", [a, b], [y], version=2, fused_activation_function=activation)
        return y

    def softmax(self, x: int) -> Model:
        y = self._activation(self._name("softmax"), self.shapes[x], 1.0 / 256, -128)
        self.builder.op("SOFTMAX", [x], [y], version=2, beta=1.0)
        return self.finish(y)

    def finish(self, y: int) -> Model:
        self.builder.output(y)
        return self.builder.build()


def _kws(seed: int) -> Model:
    """DS-CNN: a 10x4 stride-2 conv, four depthwise-separable blocks of 64 channels, pool, dense."""
    net = _Net("kws", seed)
    x = net.conv(net.input, 64, (10, 4), stride=2)
    for _ in range(4):
        x = net.conv(net.depthwise(x, (3, 3)), 64, (1, 1))
    return net.softmax(net.dense(net.flatten(net.average_pool(x)), 12))


def _vww(seed: int) -> Model:
    """MobileNetV1 0.25 at 96x96: 13 depthwise-separable blocks, pool, dense."""
    net = _Net("vww", seed)
    x = net.conv(net.input, 8, (3, 3), stride=2)
    blocks = [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2)] + [(128, 1)] * 5 + [(256, 2), (256, 1)]
    for channels, stride in blocks:
        x = net.conv(net.depthwise(x, (3, 3), stride=stride), channels, (1, 1))
    return net.softmax(net.dense(net.flatten(net.average_pool(x)), 2))


def _ic(seed: int) -> Model:
    """ResNet-8 for CIFAR-10: a stem conv and three residual stages of 16, 32 and 64 channels."""
    net = _Net("ic", seed)
    x = net.conv(net.input, 16, (3, 3))
    for channels, stride in ((16, 1), (32, 2), (64, 2)):
        y = net.conv(x, channels, (3, 3), stride=stride)
        y = net.conv(y, channels, (3, 3), activation="NONE")
        shortcut = x if stride == 1 else net.conv(x, channels, (1, 1), stride=stride, activation="NONE")
        x = net.add(y, shortcut)
    return net.softmax(net.dense(net.flatten(net.average_pool(x)), 10))


def _ad(seed: int) -> Model:
    """The ToyADMOS dense autoencoder: 640 -> 4 x 128 -> 8 -> 4 x 128 -> 640."""
    net = _Net("ad", seed)
    x = net.input
    for units in [128] * 4 + [8] + [128] * 4:
        x = net.dense(x, units, activation="RELU")
    return net.finish(net.dense(x, 640))


def _sww(seed: int) -> Model:
    """The streaming wake-word model: 1-D depthwise-separable convolutions over 30 frames."""
    net = _Net("sww", seed)
    x = net.input
    for kernel, channels in ((3, 128), (5, 128), (10, 128)):
        x = net.conv(
            net.depthwise(x, (kernel, 1), padding="VALID", activation="NONE"),
            channels,
            (1, 1),
            padding="VALID",
        )
    x = net.conv(net.depthwise(x, (15, 1), padding="VALID", activation="NONE"), 32, (1, 1), padding="VALID")
    return net.softmax(net.dense(net.flatten(x), 3))


_FACTORIES = {"kws": _kws, "vww": _vww, "ic": _ic, "ad": _ad, "sww": _sww}
NAMES = tuple(_FACTORIES)

# Tiny Eats GRU (Nyamukuru and Odame, SenSys-ML 2020, arXiv:2003.06699): one ("shallow") GRU layer
# classifying eating vs non-eating (2 classes, from the abstract). The paper's frame count, features
# per frame and hidden size were not available to us: these are assumptions (docs/examples/tinyeats-gru.md).
TINYEATS = {"steps": 20, "features": 20, "units": 32, "classes": 2}
TINYEATS_INPUT = (0.05, 0)  # int8 input scale and zero point (assumed: standardised features within +-6.4)


def tinyeats_gru(seed: int = 0) -> Model:
    """A Tiny Eats-sized GRU from TFLM operators: UNPACK the frames, a GRU layer, dense, softmax."""
    steps, features, units, classes = (TINYEATS[k] for k in ("steps", "features", "units", "classes"))
    rng = np.random.default_rng(seed)
    builder = ModelBuilder("tinyinterp zoo: Tiny Eats GRU, unrolled from TFLM operators (random weights)")
    scale, zero_point = TINYEATS_INPUT
    x = builder.input("input", (1, steps, features), "int8", scale=scale, zero_point=zero_point)
    frames = [
        builder.tensor(f"frame_{t}", (1, features), "int8", scale=scale, zero_point=zero_point)
        for t in range(steps)
    ]
    builder.op("UNPACK", [x], frames, version=2, num=steps, axis=1)
    h, h_scale, _ = add_gru(builder, frames, TINYEATS_INPUT, random_gru_weights(rng, features, units))
    matrix = rng.uniform(-1, 1, size=(classes, units)) / math.sqrt(units)
    w, b, bound = dense_constants(builder, "dense", h_scale, HIDDEN_RANGE, matrix, np.zeros(classes))
    logit_scale, logit_zero_point = range_quantization(-bound, bound)
    logits = builder.tensor("logits", (1, classes), "int8", scale=logit_scale, zero_point=logit_zero_point)
    builder.op("FULLY_CONNECTED", [h, w, b], [logits], version=4)
    scores = builder.tensor("scores", (1, classes), "int8", scale=1.0 / 256, zero_point=-128)
    builder.op("SOFTMAX", [logits], [scores], version=2, beta=1.0)
    builder.output(scores)
    return builder.build()


# zoo models that stand in for no reference model, by name
MODELS = {"tinyeats-gru": tinyeats_gru}


def stand_in(name: str, seed: int = 0) -> Model:
    """The stand-in for a reference model, by short name (kws, vww, ic, ad, sww) or benchmark (kws01...)."""
    key = ALIASES.get(name, name)
    if key not in _FACTORIES:
        raise ModelError(f"no zoo model {name!r}; the zoo has {', '.join((*NAMES, *MODELS))}")
    return _FACTORIES[key](seed)


def open_model(spec: str | os.PathLike) -> Model:
    """A model from a .tflite path, or `zoo:NAME` for a built-in stand-in or zoo model."""
    text = os.fspath(spec)
    if text.startswith(ZOO_PREFIX):
        name = text[len(ZOO_PREFIX) :]
        return MODELS[name]() if name in MODELS else stand_in(name)
    if not Path(text).is_file():
        zoo_names = ", ".join(f"{ZOO_PREFIX}{name}" for name in (*NAMES, *MODELS))
        raise ModelError(f"{text}: no such model file (or use {zoo_names})")
    return load_model(text)
