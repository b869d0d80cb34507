"""int8 products of the reference models' layers: int_gemm's AVX-512 VNNI kernel beside float32 BLAS.

    python bench/int_gemm.py [--rows 8192] [--seconds 0.3]

For each CONV_2D and FULLY_CONNECTED layer shape of the MLPerf Tiny stand-ins (`zoo:kws`, `zoo:vww`,
`zoo:ic`, `zoo:ad`: the reference models' shapes), the int32 sums of `--rows` patch rows of `depth`
int8 values with `channels` filters, in GMAC/s of CPU time on one thread (the machine may be shared):
- BLAS: the portable path, `patches @ weights` in float32 (exact: the sums stay below 2**24);
- VNNI: `PackedWeights.sums` on the shifted bytes (tinyinterp/kernels/int_gemm.py).
Both get their operands ready-made (the bytes or floats the conv's patches are gathered into), and
their sums are checked equal. Each is the median of the calls within `--seconds` of CPU time.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import numpy as np
from rich.console import Console
from rich.table import Table

from tinyinterp.kernels.gemm import single_threaded_blas
from tinyinterp.kernels.int_gemm import PackedWeights, shifted_rows, vnni_available
from tinyinterp.zoo import stand_in

MODELS = ("kws", "vww", "ic", "ad")
INPUT_OFFSET = 128  # the widest |x + input_offset|: the float sums' largest case


def layer_shapes(name: str) -> list[tuple[int, int]]:
    """The distinct (channels, depth) of the model's CONV_2D and FULLY_CONNECTED weights, in order."""
    subgraph = stand_in(name).main
    shapes: list[tuple[int, int]] = []
    for op in subgraph.operators:
        if op.opcode in ("CONV_2D", "FULLY_CONNECTED"):
            weights = subgraph.tensors[op.inputs[1]].shape
            shape = (weights[0], math.prod(weights[1:]))
            if shape not in shapes:
                shapes.append(shape)
    return shapes


def cpu_seconds(call: Callable[[], object], budget: float) -> float:
    """Median CPU time of one call, over the calls that fit in `budget` seconds of CPU time."""
    call()
    times: list[float] = []
    while sum(times) < budget or len(times) < 3:
        start = time.thread_time()
        call()
        times.append(time.thread_time() - start)
    return statistics.median(times)


def measure(
    rows: int, channels: int, depth: int, budget: float, rng: np.random.Generator
) -> tuple[float, float]:
    """GMAC/s of BLAS and of VNNI (nan without VNNI) on one shape, after checking their sums agree."""
    x = rng.integers(-128, 128, (rows, depth)).astype(np.int8)
    weights = rng.integers(-127, 128, (channels, depth)).astype(np.int8)
    patches = x.astype(np.float32) + INPUT_OFFSET
    weights_t = np.ascontiguousarray(weights.T, dtype=np.float32)
    products = np.empty((rows, channels), np.float32)
    macs = rows * channels * depth
    blas = macs / cpu_seconds(lambda: np.matmul(patches, weights_t, out=products), budget) / 1e9
    if not vnni_available():
        return blas, math.nan
    packed = PackedWeights(weights, INPUT_OFFSET)
    shifted = shifted_rows(x, np.zeros((rows, packed.row_bytes), np.uint8))
    sums = packed.empty_sums(rows)
    vnni = macs / cpu_seconds(lambda: packed.sums(shifted, sums), budget) / 1e9
    exact = packed.sums(shifted, sums) + packed.bias_shift
    if not np.array_equal(exact, products.astype(np.int64)):
        raise SystemExit(f"int_gemm.py: VNNI and BLAS sums differ on channels={channels} depth={depth}")
    return blas, vnni


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=8192, help="patch rows per product (items x pixels)")
    parser.add_argument("--seconds", type=float, default=0.3, help="CPU time per measurement")
    args = parser.parse_args()
    if args.rows < 1 or not args.seconds > 0:
        parser.error("--rows and --seconds must be positive")
    console = Console()
    if not vnni_available():
        console.print("this CPU has no AVX-512 VNNI: only BLAS is measured")
    table = Table(title=f"int8 products, {args.rows} rows, GMAC/s of CPU time on one thread")
    for column in ("model", "channels", "depth", "BLAS float32", "VNNI", "VNNI / BLAS"):
        table.add_column(column, justify="left" if column == "model" else "right")
    rng = np.random.default_rng(7)
    ratios = []
    with single_threaded_blas():
        for name in MODELS:
            for channels, depth in layer_shapes(name):
                blas, vnni = measure(args.rows, channels, depth, args.seconds, rng)
                ratios.append(vnni / blas)
                row = (
                    f"zoo:{name}",
                    str(channels),
                    str(depth),
                    f"{blas:.1f}",
                    f"{vnni:.1f}",
                    f"{vnni / blas:.1f}x",
                )
                table.add_row(*row)
    console.print(table)
    if vnni_available():
        geometric_mean = math.exp(statistics.fmean(math.log(r) for r in ratios))
        faster = sum(r >= 1.5 for r in ratios)
        console.print(
            f"VNNI / BLAS: geometric mean {geometric_mean:.1f}x; >= 1.5x on {faster} of {len(ratios)} shapes"
        )


if __name__ == "__main__":
    main()
