"""`tinyinterp estimate` and `tinyinterp boards`: the cost model on the command line.

`register_commands(subparsers)` adds both to the main `tinyinterp` parser; `python -m tinyinterp.cost.cli`
runs them alone. Exit codes: 0 ok; 2 bad usage or input (unknown board, core or stack, non-positive
clock, unreadable model, profile or calibration file); 3 the model does not fit the board (--require-fit).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict

from tinyinterp.cost import energy, profiles
from tinyinterp.cost.estimate import DEFAULT_STACK, IDENTITY, Calibration, Estimate, estimate, resolve_board
from tinyinterp.cost.fit import fit, read_measurements
from tinyinterp.cost.profiles import BoardProfile, with_settings
from tinyinterp.errors import CostModelError, TinyInterpError

EXIT_OK, EXIT_BAD_INPUT, EXIT_DOES_NOT_FIT = 0, 2, 3
# Options that only mean something with another one: (option, attribute, the option it needs, attribute).
DEPENDENT_OPTIONS = (
    ("--sleep-mw", "sleep_mw", "--rate", "rate"),
    ("--battery-mah", "battery_mah", "--rate", "rate"),
    ("--battery-v", "battery_v", "--battery-mah", "battery_mah"),
)

EPILOG = """exit codes: 0 ok; 2 bad usage or input (unknown board, core or stack, non-positive or
non-finite clock or rate, an option that would be ignored, unreadable model, profile or calibration
file); 3 the model does not fit the board (with --require-fit).
MEASURED.csv has columns model,latency_ms[,energy_uj]; model paths are relative to the csv file."""


def register_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add the `estimate` and `boards` subcommands (each sets `handler`, returning the exit code)."""
    est = subparsers.add_parser(
        "estimate",
        help="latency, energy, RAM and flash of a model on a Cortex-M board",
        description="Estimate per-layer and total cycles, latency, energy, arena and flash of a .tflite "
        "model on a board, following the kernels TFLM + CMSIS-NN run (other stacks as efficiency factors).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    est.add_argument("model", help="a .tflite file")
    target = est.add_mutually_exclusive_group()
    target.add_argument(
        "--board", help="board name or alias (see `tinyinterp boards`), or a board .toml file"
    )
    target.add_argument("--core", help="a generic board with this core (e.g. cortex-m33); needs --mhz")
    target.add_argument("--compare", metavar="B1,B2,...", help="estimate on several boards, side by side")
    est.add_argument("--mhz", type=float, help="clock in MHz (default: the board's)")
    add_set_option(est)
    est.add_argument(
        "--stack",
        default=DEFAULT_STACK,
        help=f"software stack (default {DEFAULT_STACK}; see `tinyinterp boards --stacks`)",
    )
    est.add_argument(
        "--calibrate",
        metavar="MEASURED.csv",
        help="fit the board+stack on measured latencies (and energies) of models first",
    )
    est.add_argument(
        "--rate",
        type=float,
        metavar="N",
        help="duty cycle: N inferences per second, sleeping in between (average power, battery)",
    )
    est.add_argument(
        "--sleep-mw", type=float, help="with --rate: power between inferences (default: the board's sleep_mw)"
    )
    est.add_argument("--battery-mah", type=float, help="with --rate: battery capacity, for the battery life")
    est.add_argument(
        "--battery-v",
        type=float,
        help=f"with --battery-mah: battery voltage (default {energy.DEFAULT_BATTERY_V:g} V)",
    )
    est.add_argument("--json", action="store_true", help="print the estimate as JSON")
    est.add_argument(
        "--plot", metavar="FILE.png", help="draw the per-layer latency breakdown (needs matplotlib)"
    )
    est.add_argument("--require-fit", action="store_true", help="exit with 3 when the model does not fit")
    est.set_defaults(handler=run_estimate)

    boards = subparsers.add_parser(
        "boards", help="list the board (and stack) profiles of the cost model", epilog="exit codes: 0 ok."
    )
    boards.add_argument("--stacks", action="store_true", help="list the software stacks too")
    boards.add_argument("--json", action="store_true", help="print as JSON")
    boards.set_defaults(handler=run_boards)


def _check_options(args: argparse.Namespace) -> None:
    """Refuse options that would be silently ignored."""
    for option, attribute, needed, needed_attribute in DEPENDENT_OPTIONS:
        if getattr(args, attribute) is not None and getattr(args, needed_attribute) is None:
            raise CostModelError(f"{option} needs {needed} (it is ignored without it)")
    single_board = [option for option, given in (("--rate", args.rate), ("--plot", args.plot)) if given]
    if args.compare and single_board:
        raise CostModelError(f"{' and '.join(single_board)}: for one --board, not --compare")


def run_estimate(args: argparse.Namespace) -> int:
    try:
        _check_options(args)
        if args.compare:
            return _compare(args)
        if args.board is None and args.core is None:
            raise CostModelError("give --board B, --core C (with --mhz) or --compare B1,B2")
        board = board_with_settings(args.board, args.core, args.mhz, args.set)
        calibration = _calibration(args, board)
        result = estimate(args.model, board, args.mhz, args.stack, calibration=calibration)
        duty = _duty(args, result, board)
    except TinyInterpError as error:
        print(f"tinyinterp estimate: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        data = result.to_dict()
        if duty is not None:
            data["duty_cycle"] = asdict(duty)
        print(json.dumps(data, indent=2))
    else:
        print(format_estimate(result))
        if duty is not None:
            print(format_duty(duty))
    if args.plot:
        try:
            plot(result, args.plot)
            print(f"plot: wrote {args.plot}", file=sys.stderr if args.json else sys.stdout)
        except ImportError:
            print(
                "tinyinterp estimate: error: --plot needs matplotlib (pip install matplotlib)",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
        except OSError as error:
            print(f"tinyinterp estimate: error: cannot write {args.plot}: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
    if args.require_fit and not result.totals.fits:
        print(f"tinyinterp estimate: {args.model} does not fit {result.board}", file=sys.stderr)
        return EXIT_DOES_NOT_FIT
    return EXIT_OK


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="what-if: change a field of the board, e.g. dcache=false, weights_in=sram, flash_bus_mhz=120 "
        "(repeatable; the fields are documented in tinyinterp/cost/README.md)",
    )


def board_with_settings(
    board: str | None, core: str | None, mhz: float | None, settings: Sequence[str]
) -> BoardProfile:
    """The board (or generic --core board) the options name, with the --set what-ifs applied."""
    return with_settings(resolve_board(board, core, mhz), settings)


def _calibration(args: argparse.Namespace, board: str | BoardProfile) -> Calibration:
    if not args.calibrate:
        return IDENTITY
    return fit(read_measurements(args.calibrate), board, args.stack, args.mhz)


def _duty(args: argparse.Namespace, result: Estimate, board: BoardProfile) -> energy.DutyCycle | None:
    if args.rate is None:
        return None
    sleep_mw = args.sleep_mw if args.sleep_mw is not None else board.power.sleep_mw
    return energy.duty_cycle(
        result.totals.energy_uj,
        result.totals.latency_ms,
        args.rate,
        sleep_mw,
        args.battery_mah,
        energy.DEFAULT_BATTERY_V if args.battery_v is None else args.battery_v,
    )


def _compare(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.compare.split(",") if n.strip()]
    if not names:
        raise CostModelError("--compare needs board names separated by commas")
    boards = [board_with_settings(name, None, args.mhz, args.set) for name in names]
    results = [
        estimate(args.model, board, args.mhz, args.stack, calibration=_calibration(args, board))
        for board in boards
    ]
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        print(format_comparison(results))
    fits = all(r.totals.fits for r in results)
    return EXIT_DOES_NOT_FIT if args.require_fit and not fits else EXIT_OK


def run_boards(args: argparse.Namespace) -> int:
    boards = profiles.boards()
    if args.json:
        data = {
            "boards": [
                {
                    "name": b.name,
                    "mcu": b.mcu,
                    "core": b.core,
                    "clock_mhz": b.clock_mhz,
                    "flash_kb": b.flash_kb,
                    "sram_kb": b.sram_kb,
                    "active_mw": b.power.active_mw,
                    "aliases": list(b.aliases),
                }
                for b in boards
            ]
        }
        if args.stacks:
            data["stacks"] = [
                {"name": s.name, "description": s.description, "aliases": list(s.aliases)}
                for s in profiles.stacks()
            ]
        print(json.dumps(data, indent=2))
        return EXIT_OK
    print(f"{'board':22} {'core':14} {'MHz':>5} {'flash KB':>9} {'SRAM KB':>8} {'mW':>6}  mcu")
    for b in boards:
        sizes = f"{b.flash_kb:9} {b.sram_kb:8} {b.power.active_mw:6.1f}"
        print(f"{b.name:22} {b.core:14} {b.clock_mhz:5.0f} {sizes}  {b.mcu}")
    print(f"\ncores: {', '.join(profiles.core_names())} (--core C --mhz F for a generic board)")
    if args.stacks:
        print(f"\n{'stack':18} description")
        for s in profiles.stacks():
            print(f"{s.name:18} {s.description}")
    return EXIT_OK


# --- text output -------------------------------------------------------------------------------------------


def format_estimate(e: Estimate) -> str:
    t = e.totals
    lines = [
        f"{e.model} on {e.board} ({e.core} @ {e.clock_mhz:g} MHz), stack {e.stack}"
        + (" (calibrated)" if e.calibrated else ""),
        f"{'#':>3} {'op':18} {'kernel':32} {'MACs':>10} {'cycles':>11} {'ms':>8} {'%':>5} "
        f"{'weights':>8} {'activ.':>8}",
    ]
    for layer in e.layers:
        lines.append(
            f"{layer.index:3} {layer.opcode[:18]:18} {layer.kernel[:32]:32} {layer.macs:10,} "
            f"{layer.cycles:11,.0f} {layer.latency_ms:8.3f} {layer.percent:5.1f} "
            f"{layer.weight_bytes:8,} {layer.activation_bytes:8,}"
        )
    lines.append(
        f"total: {t.latency_ms:.3f} ms, {t.cycles:,.0f} cycles, {t.macs:,} MACs, "
        f"{t.energy_uj:,.1f} uJ at {t.power_mw:.1f} mW"
    )
    lines.append(
        f"memory: arena {t.arena_bytes:,} B (planned head), RAM {t.ram_bytes:,} B with persistent "
        f"data; flash {t.flash_bytes:,} B with code: {'fits' if t.fits else 'DOES NOT FIT'}"
    )
    lines += [f"note: {note}" for note in e.notes]
    return "\n".join(lines)


def format_duty(d: energy.DutyCycle) -> str:
    text = (
        f"duty cycle: {d.inferences_per_s:g} inferences/s, busy {100 * d.busy_fraction:.2f}% of the time, "
        f"average {d.average_mw:.3f} mW"
    )
    if d.battery_hours is not None:
        text += f", battery life {d.battery_hours:,.0f} h ({d.battery_hours / 24:,.1f} days)"
    return text


def format_comparison(results: Sequence[Estimate]) -> str:
    lines = [
        f"{results[0].model}, stack {results[0].stack}",
        f"{'board':22} {'core':14} {'MHz':>5} {'ms':>10} {'uJ':>10} {'mW':>7} {'RAM KB':>8} "
        f"{'flash KB':>9}  fits",
    ]
    for r in results:
        t = r.totals
        lines.append(
            f"{r.board:22} {r.core:14} {r.clock_mhz:5.0f} {t.latency_ms:10.3f} {t.energy_uj:10.1f} "
            f"{t.power_mw:7.1f} {t.ram_bytes / 1024:8.1f} {t.flash_bytes / 1024:9.1f}  "
            f"{'yes' if t.fits else 'NO'}"
        )
    return "\n".join(lines)


def plot(e: Estimate, path: str) -> None:
    """A horizontal bar per layer, split into the model's terms (MAC loops, data, requant, flash...)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    terms = ("mac", "data", "requant", "flash", "overhead")
    labels = [f"{layer.index} {layer.opcode}" for layer in e.layers]
    fig, ax = plt.subplots(figsize=(9, 0.3 * len(labels) + 1.5))
    left = [0.0] * len(labels)
    for term in terms:
        widths = [layer.terms.get(term, 0.0) / (e.clock_mhz * 1e3) for layer in e.layers]
        ax.barh(labels, widths, left=left, label=term)
        left = [a + b for a, b in zip(left, widths)]
    ax.invert_yaxis()
    ax.set_xlabel("ms")
    ax.set_title(f"{e.model} on {e.board} @ {e.clock_mhz:g} MHz ({e.stack}): {e.totals.latency_ms:.2f} ms")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tinyinterp", description="the tinyinterp cost model")
    register_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
