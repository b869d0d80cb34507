"""An emulated MLPerf Tiny device: a benchmark's model as a reference submission runs it, timed by the cost
model.

`EmulatedDevice` turns host loads (the bytes of `db` commands) into model inputs (`th_load_tensor`), runs
them bit-exactly with the interpreter (batched), and prints `th_results`. Its device time per inference
is the cost model's latency; no harness overhead is added (the reference `th_infer` loop only calls
Invoke), and energy per inference is the cost model's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tinyinterp.errors import ModelError
from tinyinterp.interpreter import Interpreter
from tinyinterp.model import Model
from tinyinterp.suite.benchmarks import BENCHMARKS
from tinyinterp.suite.datasets import convert_loads, float_loads, load_size
from tinyinterp.suite.protocol import result_payloads

if TYPE_CHECKING:
    from tinyinterp.cost.profiles import BoardProfile

BATCH = 512  # loads per batched run: bounds memory on large datasets (ad01 has 48,608 windows)


def batches(items: Sequence, size: int = BATCH) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class DeviceCost:
    """Where the device is emulated and what one inference costs there (cost model estimate)."""

    board: str
    core: str
    clock_mhz: float
    stack: str
    latency_us: float
    energy_uj: float

    @property
    def label(self) -> str:
        return f"{self.board} ({self.core} @ {self.clock_mhz:g} MHz, {self.stack})"


def device_cost(
    model: Model, board: str | BoardProfile | None, core: str | None, clock_mhz: float | None, stack: str
) -> DeviceCost:
    """Cost-model latency and energy per inference of `model` on a board, or on a generic `core` board."""
    from tinyinterp.cost import estimate

    result = estimate(model, board=board, clock_mhz=clock_mhz, stack=stack, core=core)
    return DeviceCost(
        result.board,
        result.core,
        result.clock_mhz,
        result.stack,
        result.totals.latency_ms * 1e3,
        result.totals.energy_uj,
    )


@dataclass(frozen=True)
class Quant:
    scale: float
    zero_point: int


def _single_int8(details: list[dict], kind: str, model_name: str) -> tuple[tuple[int, ...], Quant]:
    if len(details) != 1 or details[0]["dtype"] is not np.int8:
        raise ModelError(
            f"{model_name}: the MLPerf Tiny harness needs one int8 {kind} tensor; the model has "
            f"{len(details)} {kind}s of types {[np.dtype(d['dtype']).name for d in details]}"
        )
    scale, zero_point = details[0]["quantization"]
    return tuple(int(d) for d in details[0]["shape"]), Quant(scale, zero_point)


class EmulatedDevice:
    """One benchmark's firmware: input conversion, bit-exact inference and results printing."""

    def __init__(
        self, benchmark: str, model: Model, cost: DeviceCost, model_name: str, numerics: str = "tflm"
    ) -> None:
        if benchmark not in BENCHMARKS:
            raise ModelError(
                f"no MLPerf Tiny firmware for {benchmark!r}; choose one of {', '.join(BENCHMARKS)}"
            )
        self.benchmark = benchmark
        self.model_name = model_name
        self.cost = cost
        self.interpreter = Interpreter(model=model, numerics=numerics)
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        self.input_shape, self.input_quant = _single_int8(inputs, "input", model_name)
        output_shape, self.output_quant = _single_int8(outputs, "output", model_name)
        self.load_bytes = load_size(benchmark, self.input_shape)
        compares_input = BENCHMARKS[benchmark].payload == "anomaly score"  # ad01's reconstruction error
        if compares_input and np.prod(output_shape) != np.prod(self.input_shape):
            raise ModelError(
                f"{model_name}: {benchmark} compares output with input, but their shapes {output_shape}, "
                f"{self.input_shape} differ"
            )

    def inputs(self, loads: Sequence[bytes]) -> np.ndarray:
        quant = self.input_quant
        return convert_loads(self.benchmark, loads, self.input_shape, quant.scale, quant.zero_point)

    def outputs(self, loads: Sequence[bytes]) -> np.ndarray:
        """int8 outputs [len(loads), ...] of one batched run."""
        return self.interpreter.run(self.inputs(loads))[0]

    def payloads(self, loads: Sequence[bytes], outputs: np.ndarray) -> list[str]:
        """What `th_results` prints inside `m-results-[...]` after inferring each load with `outputs`."""
        floats = float_loads(loads) if BENCHMARKS[self.benchmark].stimulus == "float32 values" else None
        quant = self.output_quant
        return result_payloads(self.benchmark, outputs, quant.scale, quant.zero_point, floats)

    def results(self, loads: Sequence[bytes]) -> list[str]:
        """Each load's results payload."""
        return self.payloads(loads, self.outputs(loads))
