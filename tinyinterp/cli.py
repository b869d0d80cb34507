"""The `tinyinterp` command line: run and inspect models (more commands register themselves here).

Exit codes: 0 success; 2 bad usage or bad input (unreadable model, wrong input file, ...).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tinyinterp.cost import cli as cost_commands
from tinyinterp.cost import rank_cli as rank_commands
from tinyinterp.errors import TinyInterpError
from tinyinterp.rig import cli as rig_commands
from tinyinterp.suite import cli as suite_commands
from tinyinterp.suite.protocol import MODELS
from tinyinterp.zoo import open_model

if TYPE_CHECKING:
    from tinyinterp.suite.datasets import Stimulus

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def _read_input(path: Path, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A .npy array ([*shape] or batched [N, *shape[1:]]) or a raw .bin of one or more items."""
    if path.suffix == ".npy":
        array = np.load(path, allow_pickle=False)
    else:
        data = path.read_bytes()
        _warn_if_runner_image(path, len(data), shape, dtype)
        item_bytes = int(np.prod(shape[1:])) * dtype.itemsize
        if item_bytes == 0 or len(data) % item_bytes:
            raise TinyInterpError(
                f"{path}: {len(data)} bytes are not a whole number of inputs of shape {list(shape)} "
                f"({dtype.name}, {item_bytes} bytes each)"
            )
        array = np.frombuffer(data, dtype=dtype).reshape(-1, *shape[1:])
    if array.shape == tuple(shape[1:]):
        array = array[np.newaxis]
    return array


def _warn_if_runner_image(path: Path, size: int, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """The runner's ic01 / vww01 dataset files are uint8 RGB images, which need the firmware's conversion."""
    from tinyinterp.suite.datasets import IMAGE_BENCHMARKS

    pixels = int(np.prod(shape[1:]))
    if len(shape) == 4 and shape[-1] == 3 and pixels and size % pixels == 0:
        print(
            f"tinyinterp run: warning: {path} has the size of uint8 RGB images of shape {list(shape[1:])}, "
            f"as the runner's dataset files; it is read as {dtype.name} tensor bytes. For a runner "
            f"stimulus, give --benchmark {' or '.join(IMAGE_BENCHMARKS)} (uint8 - 128, as the firmware does)",
            file=sys.stderr,
        )


def _labelled_stimulus(path: Path) -> Stimulus | None:
    """The file's row in the y_labels.csv beside it, if any (ad01: its window and stride)."""
    from tinyinterp.suite.datasets import DatasetError, read_labels

    try:
        return next((s for s in read_labels(path.parent) if s.file == path.name), None)
    except DatasetError:
        return None


def _runner_input(path: Path, benchmark: str, detail: dict) -> np.ndarray:
    """A runner's stimulus file converted as the benchmark's reference firmware does (th_load_tensor)."""
    from tinyinterp.suite.datasets import DatasetError, model_inputs

    if path.suffix == ".npy":
        raise TinyInterpError(
            f"--benchmark converts a runner's .bin stimulus; {path} is a .npy array: "
            "give it without --benchmark"
        )
    if detail["dtype"] is not np.int8:
        raise TinyInterpError(
            f"--benchmark {benchmark} makes int8 inputs, as the reference firmware does; the model's input "
            f"is {np.dtype(detail['dtype']).name}"
        )
    scale, zero_point = detail["quantization"]
    shape = tuple(int(d) for d in detail["shape"])
    try:
        return model_inputs(benchmark, path.read_bytes(), shape, scale, zero_point, _labelled_stimulus(path))
    except DatasetError as error:
        raise DatasetError(f"{path}: {error}") from None


def _random_input(shape: tuple[int, ...], dtype: np.dtype, seed: int) -> np.ndarray:
    """Integers over the dtype's whole range; floats uniform in [-1, 1)."""
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    if np.issubdtype(dtype, np.floating):
        return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)
    raise TinyInterpError(f"no random inputs of type {dtype.name}: give --input")


def _check_run_options(args: argparse.Namespace) -> None:
    if args.input is None and args.benchmark is not None:
        raise TinyInterpError("--benchmark converts the --input stimulus file: give --input")
    if args.input is not None and args.seed is not None:
        raise TinyInterpError("--seed draws the random input used without --input: give one or the other")
    if args.seed is not None and args.seed < 0:
        raise TinyInterpError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.output is not None and not Path(args.output).parent.is_dir():
        raise TinyInterpError(f"--output {args.output}: folder {Path(args.output).parent} does not exist")


def _print_output(detail: dict, output: np.ndarray) -> None:
    """Each item's values; for a quantized integer output, also the real values they stand for."""
    scale, zero_point = detail["quantization"]
    print(f"output '{detail['name']}' {output.dtype.name} {list(output.shape)}")
    for item in output.reshape(output.shape[0], -1):
        if np.issubdtype(output.dtype, np.floating):
            print(f"  values: [{', '.join(f'{v:.6g}' for v in item)}]")
            continue
        print(f"  int: [{', '.join(str(int(v)) for v in item)}]")
        if scale:
            print(f"  real: [{', '.join(f'{scale * (int(v) - zero_point):.6g}' for v in item)}]")


def _run(args: argparse.Namespace) -> int:
    from tinyinterp.interpreter import Interpreter

    _check_run_options(args)
    interpreter = Interpreter(model=open_model(args.model))
    details = interpreter.get_input_details()
    if len(details) != 1:
        raise TinyInterpError(f"the model has {len(details)} inputs; `run` feeds exactly one")
    shape, dtype = tuple(int(d) for d in details[0]["shape"]), np.dtype(details[0]["dtype"])
    if args.benchmark:
        x = _runner_input(Path(args.input), args.benchmark, details[0])
    elif args.input:
        x = _read_input(Path(args.input), shape, dtype)
    else:
        seed = args.seed or 0
        x = _random_input(shape, dtype, seed)
        print(f"no --input: running one random input (seed {seed})")
    outputs = interpreter.run(x)
    for detail, output in zip(interpreter.get_output_details(), outputs):
        _print_output(detail, output)
    if args.output:
        np.save(args.output, outputs[0])
        print(f"saved {args.output}")
    return EXIT_OK


def _info(args: argparse.Namespace) -> int:
    from tinyinterp.model.summary import print_summary

    print_summary(open_model(args.model), args.model)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinyinterp",
        description="Run TensorFlow Lite models bit-exactly as TFLM on a Cortex-M would. "
        "MODEL is a .tflite path or zoo:kws|vww|ic|ad|sww|tinyeats-gru "
        "(built-in models with random weights).",
        epilog="Exit codes: 0 ok, 2 bad usage or input (each subcommand lists its own).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a model on an input and print its outputs")
    run.add_argument("model", help="a .tflite file or zoo:NAME")
    run.add_argument("--input", help=".npy array or raw .bin bytes of the input tensor (one or more items)")
    run.add_argument(
        "--benchmark",
        choices=MODELS,
        help="--input is a runner dataset file of this benchmark: convert it as its reference firmware does "
        "(ic01, vww01: uint8 RGB - 128; kws01: as is; ad01: float32 windows of 640 values, quantized, "
        "with the window and stride of the file's row in a y_labels.csv beside it, else back to back)",
    )
    run.add_argument("--output", help="save the first output as .npy")
    run.add_argument("--seed", type=int, help="seed of the random input used without --input (default 0)")
    run.set_defaults(handler=_run)
    info = commands.add_parser("info", help="table of the model's operators, shapes, MACs and parameters")
    info.add_argument("model", help="a .tflite file or zoo:NAME")
    info.set_defaults(handler=_info)
    cost_commands.register_commands(commands)
    rank_commands.register_commands(commands)
    suite_commands.register_commands(commands)
    rig_commands.register_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except BrokenPipeError:  # e.g. `tinyinterp boards | head`: the reader left, nothing to report
        return EXIT_OK
    except TinyInterpError as error:
        print(f"tinyinterp {args.command}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as error:  # e.g. "nope.bin: No such file or directory"
        where = f"{error.filename}: " if error.filename else ""
        print(f"tinyinterp {args.command}: error: {where}{error.strerror or error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
