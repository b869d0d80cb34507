"""Where a performance log's results fall on a replay: per logged result, the invocation counts whose replayed
output equals it and the closest one, for each arena layout (tinyinterp.suite.replay.ARENAS).

For a log that no layout reproduces (the MLPerf Tiny v0.5 reference kws01 log: docs/numerics.md): a layout
that matches at another invocation count than the log's N + W, or comes within a few LSB, is the lead to
follow. `--model` takes another build's model (a `.tflite`, e.g. one cut from a submission's C array).
`--sensitivity K` says how much a near miss is worth: it changes K random bytes of each stimulus by 1 LSB,
one at a time, and prints how far each moves the output after the log's run count (on a chaotic replay, any
change of the stimulus, model or layout moves it by tens of LSB). What a chaotic replay can still tell is
where it drifts: per layout, the classes the logged results and the replayed outputs after SETTLED runs put
at least FLOOR LSB above the zero point (which model a build ran shows there).

    python tools/replay_perflog.py LOG --benchmark kws01 [--model M.tflite] [--arena tflm-2020 ...]
        [--sensitivity 4]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tinyinterp.suite.device import EmulatedDevice, device_cost
from tinyinterp.suite.models import find_dataset, find_model
from tinyinterp.suite.protocol import requantize
from tinyinterp.suite.replay import ARENAS, ArenaReplay
from tinyinterp.suite.validate import parse_log
from tinyinterp.zoo import open_model

SHOWN = 8  # matching invocation counts printed per result
SETTLED = 20  # invocations before a replayed output counts as drifted
FLOOR = 3  # LSB above the output zero point for a class to count as present


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("log", type=Path)
    parser.add_argument("--benchmark", required=True)
    parser.add_argument("--model", help="default: the benchmark's reference model")
    parser.add_argument("--arena", nargs="+", default=list(ARENAS), choices=list(ARENAS))
    parser.add_argument("--datasets-dir", type=Path)
    parser.add_argument("--sensitivity", type=int, default=0, metavar="K", help="stimulus bytes to change")
    args = parser.parse_args()
    model_path = args.model or find_model(args.benchmark)
    dataset = find_dataset(args.benchmark, args.datasets_dir)
    if model_path is None or dataset is None:
        parser.error(f"no {args.benchmark} model or dataset found: give --model and --datasets-dir")
    model = open_model(model_path)
    cost = device_cost(model, "nucleo-l4r5zi", None, None, "tflm-cmsisnn")  # printing needs no cost
    device = EmulatedDevice(args.benchmark, model, cost, str(model_path))
    entries = parse_log(args.log.read_bytes().decode("utf-8", errors="replace")).entries
    quant = device.output_quant
    for name in args.arena:
        replay = ArenaReplay(model, name, device.interpreter.numerics.rounding)
        print(f"== {name}: {ARENAS[name].description}")
        logged_all, drifted = [], []
        for entry in entries:
            logged = requantize(entry.values or [], quant.scale, quant.zero_point)
            stimulus = device.inputs([(dataset / entry.load.file).read_bytes()])[0]
            replay.load(stimulus)
            outputs = [replay.invoke().reshape(-1) for _ in range(entry.invocations)]
            logged_all.append(logged)
            drifted += outputs[SETTLED:]
            distance = [int(np.abs(output - logged).max()) for output in outputs]
            exact = [n + 1 for n, d in enumerate(distance) if d == 0][:SHOWN]
            closest = int(np.argmin(distance))
            print(
                f"{entry.load.file}: logged after {entry.invocations}; equal after {exact or 'none'}; "
                f"closest after {closest + 1} ({distance[closest]} LSB); after {entry.invocations}: "
                f"{distance[-1]} LSB"
            )
            if args.sensitivity:
                moved = _sensitivity(replay, stimulus, entry.invocations, args.sensitivity)
                print(f"  one stimulus byte +-1 LSB: the output after {entry.invocations} moves {moved} LSB")
        zero = quant.zero_point
        print(
            f"classes at least {FLOOR} LSB above the zero point: logged {_presence(logged_all, zero)}; "
            f"replayed after {SETTLED} runs {_presence(drifted, zero)}"
        )


def _presence(outputs: list[np.ndarray], zero_point: int) -> str:
    """In how many of the outputs each class is at least FLOOR LSB above the zero point (classes ever so)."""
    if not outputs:
        return "none"
    counts = (np.asarray(outputs, np.int64) - zero_point >= FLOOR).sum(axis=0)
    return ", ".join(f"class {c} {counts[c]}/{len(outputs)}" for c in np.flatnonzero(counts))


def _last_output(replay: ArenaReplay, stimulus: np.ndarray, runs: int) -> np.ndarray:
    replay.load(stimulus)
    for _ in range(runs - 1):
        replay.invoke()
    return replay.invoke().reshape(-1).astype(np.int32)


def _sensitivity(replay: ArenaReplay, stimulus: np.ndarray, runs: int, count: int) -> list[int]:
    """How far each of `count` seeded 1-LSB changes of one stimulus byte moves the output after `runs`."""
    if not np.issubdtype(stimulus.dtype, np.integer):
        raise SystemExit(f"--sensitivity needs an integer input tensor, not {stimulus.dtype}")
    base = _last_output(replay, stimulus, runs)
    flat = stimulus.reshape(-1)
    top = np.iinfo(flat.dtype).max
    moved = []
    for index in np.random.default_rng(0).choice(flat.size, size=min(count, flat.size), replace=False):
        changed = flat.copy()
        changed[index] = flat[index] + 1 if flat[index] < top else flat[index] - 1
        moved.append(int(np.abs(_last_output(replay, changed.reshape(stimulus.shape), runs) - base).max()))
    return moved


if __name__ == "__main__":
    main()
