"""The `tinyinterp` command line: run and inspect models (more commands register themselves here).

Exit codes: 0 success; 2 bad usage or bad input (unreadable model, wrong input file, ...).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinyinterp.cost import cli as cost_commands
from tinyinterp.errors import TinyInterpError
from tinyinterp.suite import cli as suite_commands
from tinyinterp.zoo import open_model

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def _read_input(path: Path, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A .npy array ([*shape] or batched [N, *shape[1:]]) or a raw .bin of one or more items."""
    if path.suffix == ".npy":
        array = np.load(path, allow_pickle=False)
    else:
        raw = np.frombuffer(path.read_bytes(), dtype=dtype)
        item = int(np.prod(shape[1:]))
        if item == 0 or raw.size % item:
            raise TinyInterpError(
                f"{path}: {raw.size} values are not a whole number of inputs of shape {list(shape)}"
            )
        array = raw.reshape(-1, *shape[1:])
    if array.shape == tuple(shape[1:]):
        array = array[np.newaxis]
    return array


def _run(args: argparse.Namespace) -> int:
    from tinyinterp.interpreter import Interpreter

    interpreter = Interpreter(model=open_model(args.model))
    details = interpreter.get_input_details()
    if len(details) != 1:
        raise TinyInterpError(f"the model has {len(details)} inputs; `run` feeds exactly one")
    shape, dtype = tuple(int(d) for d in details[0]["shape"]), np.dtype(details[0]["dtype"])
    if args.input:
        x = _read_input(Path(args.input), shape, dtype)
    else:
        info = np.iinfo(dtype)
        x = np.random.default_rng(args.seed).integers(info.min, info.max + 1, size=shape, dtype=dtype)
        print(f"no --input: running one random input (seed {args.seed})")
    outputs = interpreter.run(x)
    for detail, output in zip(interpreter.get_output_details(), outputs):
        scale, zero_point = detail["quantization"]
        print(f"output '{detail['name']}' {output.dtype.name} {list(output.shape)}")
        for item in output.reshape(output.shape[0], -1):
            values = ", ".join(str(int(v)) for v in item)
            real = ", ".join(f"{scale * (int(v) - zero_point):.6g}" for v in item)
            print(f"  int: [{values}]")
            print(f"  real: [{real}]")
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
        "MODEL is a .tflite path or zoo:kws|vww|ic|ad|sww (built-in stand-ins with random weights).",
        epilog="Exit codes: 0 ok, 2 bad usage or input (each subcommand lists its own).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a model on an input and print its outputs")
    run.add_argument("model", help="a .tflite file or zoo:NAME")
    run.add_argument("--input", help=".npy array or raw .bin bytes of the input tensor (one or more items)")
    run.add_argument("--output", help="save the first output as .npy")
    run.add_argument("--seed", type=int, default=0, help="seed of the random input used without --input")
    run.set_defaults(handler=_run)
    info = commands.add_parser("info", help="table of the model's operators, shapes, MACs and parameters")
    info.add_argument("model", help="a .tflite file or zoo:NAME")
    info.set_defaults(handler=_info)
    cost_commands.register_commands(commands)
    suite_commands.register_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except BrokenPipeError:  # e.g. `tinyinterp boards | head`: the reader left, nothing to report
        return EXIT_OK
    except (TinyInterpError, OSError) as error:
        print(f"tinyinterp {args.command}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
