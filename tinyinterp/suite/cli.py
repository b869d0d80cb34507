"""The MLPerf Tiny commands: `suite`, `models`, `dut` and `validate-log` (registered by tinyinterp.cli).

Heavy modules (interpreter, numba kernels, cost model) are imported inside the handlers, so
`tinyinterp --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinyinterp.cost.cli import add_set_option, board_with_settings
from tinyinterp.errors import TinyInterpError
from tinyinterp.numerics import PROFILES as NUMERICS_PROFILES
from tinyinterp.suite.benchmarks import BENCHMARKS
from tinyinterp.suite.protocol import MODELS
from tinyinterp.suite.replay import ARENAS, NO_ARENA

if TYPE_CHECKING:
    from tinyinterp.cost.profiles import BoardProfile
    from tinyinterp.suite.device import EmulatedDevice
    from tinyinterp.suite.dut import VirtualDut
    from tinyinterp.suite.runner import Outcome
    from tinyinterp.suite.sww.detection import DetectionScore
    from tinyinterp.suite.validate import ParsedLog, Summary, Validation

EXIT_OK = 0
EXIT_FAILED = 1
SUITE_BENCHMARKS = ",".join(BENCHMARKS)
MODES = {"accuracy": ("a",), "performance": ("p",), "energy": ("e",), "all": ("a", "p", "e")}
DEFAULT_BOARD = "nucleo-l4r5zi"  # the reference submissions' board
DEFAULT_OUT = Path("tinyinterp-results")
MAX_TCP_PORT = 65535
# MLPerf Inference's LoadGen names: the runner times one inference at a time, the single-stream scenario.
SCENARIO_NOTE = (
    "single-stream (MLPerf LoadGen scenario): one inference at a time; inf./sec. is the runner's median "
    "throughput of those runs"
)
STREAMING_NOTE = (
    "{benchmark} (streaming): ms is one 32 ms frame's processing (front end + model), inf./sec. the "
    "runner's estimated throughput (1 / that), uJ/inf. the average power over a frame"
)
HOP_MS = 32.0


def _add_device_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--board", help=f"board to emulate (see `tinyinterp boards`; default {DEFAULT_BOARD})")
    where.add_argument("--core", help="a generic board with this core (e.g. cortex-m4); needs --mhz")
    parser.add_argument("--mhz", type=float, help="clock in MHz (default: the board's)")
    parser.add_argument("--stack", default="tflm-cmsisnn", help="software stack (default tflm-cmsisnn)")
    add_set_option(parser)


def _device_location(args: argparse.Namespace) -> tuple[str | BoardProfile | None, str | None]:
    """(board, core) from the device options; commands without them (validate-log) get the default board.
    With --set what-ifs the board is the changed profile."""
    core = getattr(args, "core", None)
    board = None if core else (getattr(args, "board", None) or DEFAULT_BOARD)
    settings = getattr(args, "set", [])
    if settings:  # --set comes with the other device options, --mhz among them
        return board_with_settings(board, core, args.mhz, settings), None
    return board, core


def register_commands(commands: argparse._SubParsersAction) -> None:
    suite = commands.add_parser(
        "suite",
        help="run the MLPerf Tiny benchmarks on an emulated board (accuracy, performance, energy)",
        description="Run kws01, vww01, ic01, ad01 and sww01 as the MLPerf Tiny runner would on a board, "
        "with bit-exact inference and device time and energy from the cost model. Without the reference "
        "models, runs performance and energy on built-in stand-ins and says how to get the real ones.",
        epilog="Exit codes: 0 the suite ran and wrote its results; 2 bad usage or input.",
    )
    _add_device_options(suite)
    suite.add_argument("--models-dir", type=Path, help="folder with the reference .tflite files")
    suite.add_argument("--datasets-dir", type=Path, help="folder of the runner's dataset folders")
    suite.add_argument(
        "--benchmarks",
        help=f"comma list of {SUITE_BENCHMARKS} (default: all; sww01 only when its dataset is found)",
    )
    suite.add_argument(
        "--trace", type=Path, metavar="DIR", help="sww01: write per wav its features and outputs (.npy)"
    )
    suite.add_argument("--json", action="store_true", help="print the run's summary as JSON")
    suite.add_argument("--mode", choices=list(MODES), default="all", help="which runs (default all)")
    suite.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"results folder, created if needed (default: {DEFAULT_OUT}/ in the current folder)",
    )
    suite.add_argument("--system", help="system name in results/<system>/ (default: board, clock and stack)")
    suite.set_defaults(handler=_suite)

    models = commands.add_parser(
        "models",
        help="list or download the MLPerf Tiny reference models",
        epilog="Exit codes: 0 ok; 1 a download failed or its MD5 was wrong; 2 bad usage.",
    )
    models.add_argument("action", choices=["list", "download"])
    models.add_argument(
        "--dir",
        type=Path,
        help="list: the folder to look in; download: where to save (default: the cache, see `models list`)",
    )
    models.add_argument(
        "--from", dest="base", help="download: upstream base URL or local folder laid out like it"
    )
    models.add_argument("--benchmarks", default=",".join(BENCHMARKS), help="comma list")
    models.add_argument("--force", action="store_true", help="download: even when a good copy is present")
    models.set_defaults(handler=_models)

    dut = commands.add_parser(
        "dut",
        help="emulate a device under test on the EEMBC / MLPerf Tiny serial protocol",
        description="A virtual DUT: answers name, profile, timestamp, help, db load N, db HEX, db print, "
        "infer N [W] and results (each ending with %) as the reference firmware does, with m-lap-us "
        "timestamps in emulated device time. Serves stdin/stdout, a pseudo-terminal (--pty, its path "
        "printed on stdout) or a TCP port.",
        epilog="Exit codes: 0 stopped (Ctrl-C or end of input); 2 bad usage or input.",
    )
    dut.add_argument("--model", help=".tflite file or zoo:NAME (default: reference model, else stand-in)")
    dut.add_argument("--benchmark", required=True, choices=MODELS)
    _add_device_options(dut)
    dut.add_argument("--models-dir", type=Path, help="where to look for the reference model")
    serve = dut.add_mutually_exclusive_group()
    serve.add_argument("--pty", action="store_true", help="serve a pseudo-terminal and print its path")
    serve.add_argument(
        "--tcp",
        type=int,
        metavar="PORT",
        help=f"serve TCP on 127.0.0.1:PORT (0..{MAX_TCP_PORT}; 0: any free)",
    )
    dut.add_argument("--realtime", action="store_true", help="pace replies to the emulated device time")
    dut.set_defaults(handler=_dut)

    check = commands.add_parser(
        "validate-log",
        help="recompute the results of an EEMBC or MLPerf Tiny runner log with tinyinterp",
        epilog="Exit codes (the first that holds): 1 logged outputs differ from tinyinterp's; 4 the log is "
        "unreadable or truncated; 3 some of the log's stimuli are not in the dataset given; 0 every logged "
        "result reproduced; 2 not a runner log, a benchmark not validated, or bad usage or input.",
    )
    check.add_argument(
        "log",
        type=Path,
        help="log.txt of an accuracy or performance run (sww01: or energy), or a results tree "
        "(<system>/<benchmark>/accuracy/log.txt below it) for a reviewer's table",
    )
    check.add_argument(
        "--benchmark", choices=list(BENCHMARKS), help="default: the one the log names (m-model-[...])"
    )
    output = check.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="the summary and per-file reports as JSON")
    output.add_argument("--quiet", action="store_true", help="print the verdict line only")
    check.add_argument(
        "--numerics",
        default="tflm",
        choices=[*NUMERICS_PROFILES, "auto"],
        help="recompute with this numerics profile (tinyinterp.numerics; default tflm), or with each "
        "and keep the one that explains the log best (auto)",
    )
    check.add_argument(
        "--arena",
        default="tflm",
        choices=[*ARENAS, NO_ARENA],
        help="a result after `infer N W` (N + W > 1: performance runs) is the last of N + W invocations "
        "on an input loaded once, replayed on one tensor arena laid out as: tflm (today's TFLM, reference "
        "kernels; the default), tflm-2020 (TF v2.3.1 with CMSIS-NN of 2020, as the MLPerf Tiny v0.5 "
        "reference submission), tflm-2021 (TFLM with CMSIS-NN of 2021, as Renesas' EK-RA6M4 of v0.7), none "
        "(each invocation on the loaded input)",
    )
    check.add_argument("--out", type=Path, help="with a results tree: also write the table as Markdown here")
    check.add_argument("--model", help="the model the log was made with (default: the reference model)")
    check.add_argument("--models-dir", type=Path, help="where to look for the reference model")
    check.add_argument("--datasets-dir", type=Path, help="folder with the runner's dataset folders")
    check.set_defaults(handler=_validate_log)


# ---- suite ---------------------------------------------------------------------------------


def _benchmarks(text: str) -> tuple[str, ...]:
    return tuple(b.strip() for b in text.split(",") if b.strip())


def _check_folder(path: Path | None, option: str) -> None:
    """An explicitly given folder must exist: a typo must not fall back silently to the defaults."""
    if path is not None and not path.is_dir():
        what = "is not a folder" if path.exists() else "does not exist"
        raise TinyInterpError(f"{option} {path}: {what}")


def _check_model_options(args: argparse.Namespace) -> None:
    if args.model and args.models_dir:
        raise TinyInterpError("give --model or --models-dir (where to find the reference model), not both")
    _check_folder(args.models_dir, "--models-dir")


def _suite(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress

    from tinyinterp.cache import cache_dir
    from tinyinterp.suite.models import HOW_TO_GET_DATA
    from tinyinterp.suite.runner import SuiteOptions, run_suite

    _check_folder(args.models_dir, "--models-dir")
    _check_folder(args.datasets_dir, "--datasets-dir")
    board, core = _device_location(args)
    options = SuiteOptions(
        benchmarks=None if args.benchmarks is None else _benchmarks(args.benchmarks),
        modes=MODES[args.mode],
        board=board,
        core=core,
        clock_mhz=args.mhz,
        stack=args.stack,
        models_dir=args.models_dir,
        datasets_dir=args.datasets_dir,
        out=args.out,
        system=args.system,
        trace=args.trace,
    )
    with Progress(console=Console(stderr=True), transient=True) as bars:

        def progress(description: str, total: int) -> Callable[[int], None]:
            task = bars.add_task(description, total=total)
            return lambda steps: bars.advance(task, steps)

        system, outcomes = run_suite(options, progress)
    if args.json:
        print(json.dumps(summary(system, outcomes, options.out / "results" / system), indent=2))
        return EXIT_OK
    _print_summary(outcomes, options.out / "results" / system)
    if any(o.setup.stand_in or o.setup.dataset is None for o in outcomes):
        print()
        print(HOW_TO_GET_DATA.format(cache=cache_dir() / "models"))
    return EXIT_OK


def _accuracy_cell(outcome: Outcome) -> str:
    stream_score = outcome.stream.score if outcome.stream else None
    if stream_score is not None:
        s = stream_score
        return f"{s.true_positives} TP, {s.false_negatives} FN, {s.false_positives} FP"
    if outcome.score is None:
        return outcome.accuracy_skipped or "-"
    name, value = outcome.score.headline(outcome.setup.benchmark)
    if value is None:
        return "AUC undefined"
    return f"AUC {value:.3f}" if name == "AUC" else f"{value:.1f}% top-1"


def _print_summary(outcomes: list[Outcome], folder: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    device = outcomes[0].setup.device.cost
    table = Table(title=f"MLPerf Tiny, emulated on {device.label}")
    for column in ("benchmark", "model", "accuracy", "single-stream ms", "inf./sec.", "uJ/inf."):
        table.add_column(column, justify="right" if column[0] in "siu" else "left")
    for o in outcomes:
        figures = _timed_figures(o)
        latency = f"{figures['latency_ms']:.2f}" if "latency_ms" in figures else "-"
        throughput = f"{figures['throughput']:.3f}" if "throughput" in figures else "-"
        energy = f"{figures['energy_uj']:.1f}" if "energy_uj" in figures else "-"
        table.add_row(o.setup.benchmark, _model_kind(o), _accuracy_cell(o), latency, throughput, energy)
    Console(width=None if sys.stdout.isatty() else 120).print(table)  # no wrapping in files and pipes
    print(SCENARIO_NOTE)
    for o in outcomes:
        if o.stream is not None:
            print(STREAMING_NOTE.format(benchmark=o.setup.benchmark))
            if o.stream.power_mw is not None:
                print(f"{o.setup.benchmark}: average power {o.stream.power_mw:.4f} mW over the energy window")
            if o.stream.frame.over_budget:
                frame_ms = o.stream.frame.frame_us / 1e3
                print(f"{o.setup.benchmark}: warning: a frame takes {frame_ms:.2f} ms, over the 32 ms budget")
    print(f"results: {folder}/ (log.txt, results.txt, results.json per run)")
    if any(o.setup.stand_in for o in outcomes):
        print(
            "stand-in: a built-in model with the reference's layers and random weights; it costs the same "
            "(latency, energy) but classifies nothing, so accuracy needs the real model."
        )
    random = [o.setup.benchmark for o in outcomes if o.random_inputs and o.stream is None]
    if random:
        print(f"no dataset for {', '.join(random)}: their timed runs used random inputs (same cost).")
    silent = [o.setup.benchmark for o in outcomes if o.random_inputs and o.stream is not None]
    if silent:
        print(
            f"no dataset or real model for {', '.join(silent)}: its timed runs played digital silence "
            "(same cost)."
        )


def _model_kind(outcome: Outcome) -> str:
    return "stand-in" if outcome.setup.stand_in else ("reference" if outcome.setup.reference else "custom")


def _timed_figures(outcome: Outcome) -> dict[str, float]:
    """latency_ms, throughput (inf./sec.) and energy_uj (per inference) of the timed runs that ran.

    Streaming: one frame's processing time, the runner's estimated throughput (1 / processing time) and
    the average power over a 32 ms frame."""
    stream = outcome.stream
    if stream is not None:
        figures: dict[str, float] = {}
        if stream.duty is not None:
            figures["latency_ms"] = stream.duty.processing_time * 1e3
            figures["throughput"] = 1 / stream.duty.processing_time
        if stream.power_mw is not None:
            figures["energy_uj"] = stream.power_mw * HOP_MS
        return figures
    figures = {}
    if outcome.throughput:
        figures["latency_ms"] = 1000 / outcome.throughput
        figures["throughput"] = outcome.throughput
    if outcome.energy_uj is not None:
        figures["energy_uj"] = outcome.energy_uj
    return figures


def summary(system: str, outcomes: list[Outcome], folder: Path) -> dict[str, Any]:
    """The run as JSON: the emulated device, and per benchmark its metrics and latency/energy figures."""
    device = outcomes[0].setup.device.cost
    return {
        "system": system,
        "device": {
            "board": device.board,
            "core": device.core,
            "clock_mhz": device.clock_mhz,
            "stack": device.stack,
        },
        "results": str(folder),
        "benchmarks": {o.setup.benchmark: _benchmark_summary(o) for o in outcomes},
    }


def _benchmark_summary(outcome: Outcome) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "model": _model_kind(outcome),
        "model_label": outcome.setup.model_label,
        "dataset": None if outcome.setup.dataset is None else str(outcome.setup.dataset),
        "metrics": {},
        **_timed_figures(outcome),
    }
    if outcome.accuracy_skipped:
        entry["accuracy_skipped"] = outcome.accuracy_skipped
    if outcome.score is not None:
        entry["metrics"] = {"top1": outcome.score.top1, "auc": outcome.score.auc}
    stream = outcome.stream
    if stream is not None:
        if stream.score is not None:
            entry["metrics"] = {
                "true_positives": stream.score.true_positives,
                "false_negatives": stream.score.false_negatives,
                "false_positives": stream.score.false_positives,
                "tests": {name: _counts(played.score) for name, played in stream.tests if played.score},
            }
        entry["frame"] = {
            "frontend_ms": stream.frame.frontend_us / 1e3,
            "model_ms": stream.frame.model_us / 1e3,
            "frame_ms": stream.frame.frame_us / 1e3,
            "over_budget": stream.frame.over_budget,
        }
        if stream.duty is not None:
            entry["duty_cycle"] = stream.duty.duty_cycle
            entry["period_s"] = stream.duty.period
        if stream.power_mw is not None:
            entry["power_mw"] = stream.power_mw
            entry["stream_energy_uj"] = stream.energy_uj
            entry["energy_window_s"] = stream.energy_window_s
    return entry


def _counts(score: DetectionScore) -> dict[str, Any]:
    return {
        "true_positives": score.true_positives,
        "false_negatives": score.false_negatives,
        "false_positives": score.false_positives,
        "missed_windows_s": list(score.missed_windows_s),
        "false_positives_s": list(score.false_positive_s),
    }


# ---- models --------------------------------------------------------------------------------


def _models(args: argparse.Namespace) -> int:
    from tinyinterp.cache import cache_dir
    from tinyinterp.suite import models

    benchmarks = _benchmarks(args.benchmarks)
    unknown = [b for b in benchmarks if b not in BENCHMARKS]
    if unknown or not benchmarks:
        given = ", ".join(unknown) or "(none given)"
        raise TinyInterpError(f"unknown benchmark(s) {given}; choose from {', '.join(BENCHMARKS)}")
    if args.action == "list":
        ignored = [option for option, given in (("--from", args.base), ("--force", args.force)) if given]
        if ignored:
            raise TinyInterpError(f"{' and '.join(ignored)}: for `models download`, not `models list`")
        _check_folder(args.dir, "--dir")
        print("looked up in: " + ", ".join(str(d) for d in models.model_dirs(args.dir)))
        for benchmark in benchmarks:
            path = models.find_model(benchmark, args.dir)
            state = (
                "missing"
                if path is None
                else ("ok" if models.md5_of(path) == BENCHMARKS[benchmark].md5 else "MD5 differs")
            )
            print(f"{benchmark:6} {BENCHMARKS[benchmark].model_file:30} {state:11} {path or ''}")
        return EXIT_OK
    if args.base and "://" not in args.base:
        _check_folder(Path(args.base), "--from")
    dest = args.dir or cache_dir() / "models"
    downloads = models.download_models(benchmarks, dest, args.base or models.UPSTREAM, args.force)
    for d in downloads:
        print(f"{d.benchmark:6} {d.status:10} {d.path}" + (f"  ({d.detail})" if d.status == "failed" else ""))
    return EXIT_FAILED if any(d.status == "failed" for d in downloads) else EXIT_OK


# ---- dut -----------------------------------------------------------------------------------


def _open_device(args: argparse.Namespace, allow_stand_in: bool) -> EmulatedDevice:
    """The benchmark's device with --model, the reference model found, or (if allowed) its stand-in."""
    from tinyinterp.suite.device import EmulatedDevice, device_cost
    from tinyinterp.suite.models import find_model
    from tinyinterp.zoo import open_model

    spec = args.model or find_model(args.benchmark, args.models_dir)
    if spec is None and not allow_stand_in:
        raise TinyInterpError(
            f"no reference model for {args.benchmark} found: give --model, or `tinyinterp models download`"
        )
    model = open_model(str(spec)) if spec is not None else BENCHMARKS[args.benchmark].stand_in()
    name = Path(str(spec)).name if spec is not None else f"zoo stand-in for {args.benchmark}"
    board, core = _device_location(args)
    cost = device_cost(model, board, core, getattr(args, "mhz", None), getattr(args, "stack", "tflm-cmsisnn"))
    return EmulatedDevice(args.benchmark, model, cost, name, getattr(args, "numerics", "tflm"))


def _dut(args: argparse.Namespace) -> int:
    from tinyinterp.suite.dut import DeviceClock, VirtualDut
    from tinyinterp.suite.transport import serve_pty, serve_stdio, serve_tcp

    if args.tcp is not None and not 0 <= args.tcp <= MAX_TCP_PORT:
        raise TinyInterpError(f"--tcp {args.tcp}: a TCP port is 0..{MAX_TCP_PORT} (0: any free port)")
    _check_model_options(args)
    device = _open_device(args, allow_stand_in=True)
    print(
        f"tinyinterp dut: {device.benchmark} running {device.model_name} on {device.cost.label}, "
        f"{device.cost.latency_us:.0f} us per inference{' (real time)' if args.realtime else ''}",
        file=sys.stderr,
    )

    def make_dut(write: Callable[[str], None]) -> VirtualDut:
        return VirtualDut(device, write, DeviceClock(args.realtime))

    def announce(where: str) -> None:
        print(where, flush=True)

    try:
        if args.pty:
            serve_pty(make_dut, announce)
        elif args.tcp is not None:
            serve_tcp(make_dut, args.tcp, announce)
        else:
            serve_stdio(make_dut)
    except KeyboardInterrupt:
        pass
    return EXIT_OK


# ---- validate-log --------------------------------------------------------------------------


def _validate_log(args: argparse.Namespace) -> int:
    from tinyinterp.suite.validate import parse_log

    _check_model_options(args)
    _check_folder(args.datasets_dir, "--datasets-dir")
    if args.log.is_dir():
        return _validate_tree(args)
    if args.out is not None:
        raise TinyInterpError("--out writes the report over a results tree: give a folder, not a log file")
    # Bytes, not text mode: universal newlines would split `dut: \rm-results-[...]` (Andes' logs).
    log_text = args.log.read_bytes().decode("utf-8", errors="replace")
    if args.benchmark and BENCHMARKS[args.benchmark].streaming:
        return _validate_stream_log(args, log_text, _dataset(args.benchmark, args.datasets_dir))
    parsed = parse_log(log_text)
    benchmark = args.benchmark or parsed.model
    if benchmark is None:
        raise TinyInterpError(
            f"{args.log}: the log does not name its benchmark (m-model-[...]): give --benchmark"
        )
    summary, result = _best_validation(parsed, benchmark, args, {})
    if args.json:
        print(
            json.dumps({"log": str(args.log), **asdict(summary), "files": [asdict(f) for f in result.files]})
        )
    elif args.quiet:
        print(f"{args.log}: {summary.verdict}")
    else:
        _print_validation(args.log, summary, result, parsed.summary)
    return summary.exit_code


Devices = dict[tuple[str, str], "EmulatedDevice"]  # by (benchmark, numerics profile)


def _best_validation(
    parsed: ParsedLog, benchmark: str, args: argparse.Namespace, devices: Devices
) -> tuple[Summary, Validation]:
    """The log validated with --numerics, or with each profile (auto): the one with the fewest differing
    results (then the smallest max LSB; on a tie the earlier profile, TFLM's first)."""
    from dataclasses import replace

    from tinyinterp.numerics import PROFILES

    names = list(PROFILES) if args.numerics == "auto" else [args.numerics]
    tried = []
    for name in names:
        if (benchmark, name) not in devices:
            options = argparse.Namespace(**{**vars(args), "benchmark": benchmark, "numerics": name})
            devices[benchmark, name] = _open_device(options, allow_stand_in=False)
        tried.append(_validate_parsed(parsed, devices[benchmark, name], args.datasets_dir, name, args.arena))
    summary, result = min(tried, key=lambda t: (t[0].results_different, t[0].max_lsb))
    if args.numerics != "auto":
        return summary, result
    candidates = tuple((s.numerics, s.results_different, s.max_lsb) for s, _ in tried)
    return replace(summary, candidates=candidates), result


def _validate_parsed(
    parsed: ParsedLog, device: EmulatedDevice, datasets_dir: Path | None, numerics: str, arena: str
) -> tuple[Summary, Validation]:
    from tinyinterp.suite.validate import summarize, validate

    dataset = _dataset(device.benchmark, datasets_dir)
    result = validate(parsed, device, dataset, arena)
    return summarize(parsed, result, device.benchmark, dataset, numerics), result


def _dataset(benchmark: str, datasets_dir: Path | None) -> Path:
    from tinyinterp.suite.models import find_dataset

    dataset = find_dataset(benchmark, datasets_dir)
    if dataset is None:
        where = datasets_dir or "the default places ($TINYINTERP_DATA/datasets, the cache's datasets/)"
        holds = "test json files" if BENCHMARKS[benchmark].streaming else "y_labels.csv"
        raise TinyInterpError(f"no {benchmark} dataset folder (with {holds}) in {where}: give --datasets-dir")
    return dataset


def _validate_tree(args: argparse.Namespace) -> int:
    """The reviewer's table over every accuracy log of a results tree; exit code as for one log, the first
    in VERDICTS' order that any log gets (2 if a log could not be validated at all)."""
    from tinyinterp.suite.validate import (
        VERDICTS,
        markdown_table,
        parse_log,
        report_row,
        text_table,
        tree_logs,
    )

    if args.model or args.benchmark:
        raise TinyInterpError(
            "a results tree is validated with each benchmark's reference model: drop --model/--benchmark"
        )
    logs = tree_logs(args.log)
    if not logs:
        raise TinyInterpError(f"{args.log}: no <system>/<benchmark>/accuracy/log.txt below it")
    devices: Devices = {}
    rows, codes = [], []
    for log in logs:
        try:
            parsed = parse_log(log.path.read_bytes().decode("utf-8", errors="replace"))
            summary, result = _best_validation(parsed, log.benchmark, args, devices)
        except TinyInterpError as error:  # one unusable log (or benchmark) does not stop the review
            rows.append(report_row(log, None, 0, str(error)))
            codes.append(2)
            continue
        rows.append(report_row(log, summary, sum(r.status == "mismatch" for r in result.files)))
        codes.append(summary.exit_code)
    print(text_table(rows))
    if args.out is not None:
        args.out.write_text(f"# validate-log: {args.log}\n\n" + markdown_table(rows))
        print(f"report: {args.out}")
    return next((code for code in (*VERDICTS, 2) if code in codes and code != 0), 0)


def _print_validation(log: Path, summary: Summary, result: Validation, logged_summary: list[str]) -> None:
    print(f"{log}: {summary.runner} log, {summary.benchmark}, {summary.files_logged} files logged")
    for report in result.files:
        detail = f": {'; '.join(report.details)}" if report.details else ""
        print(f"{report.status:11} {report.file}{detail}")
    for problem in summary.problems:
        print(f"problem     {problem}")
    statuses = ("match", "mismatch", "unparseable", "missing")
    counts = {s: sum(r.status == s for r in result.files) for s in statuses}
    print(", ".join(f"{n} {s}" for s, n in counts.items()))
    print(
        f"coverage: {summary.files_in_dataset} of {summary.files_logged} logged files in the dataset "
        f"({summary.coverage:.0%})"
        + (f"; the log's files are {summary.stimulus_set}" if summary.stimulus_set else "")
    )
    print(
        f"results: {summary.results_equal} equal, {summary.results_different} different, "
        f"{summary.results_unreadable} unreadable, {summary.results_missing} missing; "
        f"max {summary.max_lsb} LSB, mean {summary.mean_lsb:.2f} LSB over differing values, "
        f"{summary.flips} top-class flips"
    )
    if summary.score_name is not None:
        unit = "%" if summary.score_name == "top-1" else ""
        partial = (
            f"only {summary.scored_files} of {summary.files_logged}"
            if summary.scored_files < summary.files_logged
            else summary.scored_files
        )
        scored = f"{summary.score_name} over {partial} files (scored {summary.scored_as})"
        logged, mine = _fmt(summary.logged_score), _fmt(summary.recomputed_score)
        print(f"{scored}: logged {logged}{unit}, tinyinterp {mine}{unit}")
    for line in logged_summary:
        print(f"logged summary: {line}")
    if summary.replayed:
        print(
            f"replayed: {summary.replayed} results as the last of their `infer N W` invocations on an input "
            f"loaded once, on one arena laid out as {summary.arena} (--arena)"
        )
    if summary.candidates:
        tried = "; ".join(f"{name}: {n} differ, max {lsb} LSB" for name, n, lsb in summary.candidates)
        print(f"numerics: {summary.numerics} explains the log best ({tried})")
    print(f"verdict: {summary.verdict}")


def _validate_stream_log(args: argparse.Namespace, log_text: str, dataset: Path) -> int:
    from tinyinterp.suite.sww.validate import parse_sww_log, validate_sww

    parsed = parse_sww_log(log_text, args.benchmark)
    device = _open_device(args, allow_stand_in=False)
    result = validate_sww(parsed, device.interpreter, dataset)
    print(
        f"{args.log}: MLPerf Tiny runner streaming log, {args.benchmark}, "
        f"{parsed.wav_file or 'no wav named'}, recomputed with {device.model_name}"
    )
    for line in result.lines:
        print(line)
    return EXIT_OK if result.ok else EXIT_FAILED


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4g}"
