"""`tinyinterp rig` (registered by tinyinterp.cli)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tinyinterp.errors import TinyInterpError
from tinyinterp.rig import DUT_ENERGY_BAUD
from tinyinterp.suite.benchmarks import BENCHMARKS
from tinyinterp.suite.cli import (
    EXIT_OK,
    _add_device_options,
    _check_folder,
    _check_model_options,
    _open_device,
)

if TYPE_CHECKING:
    from tinyinterp.rig.rig import RigPorts
    from tinyinterp.suite.dut import VirtualDut

RIG_MODES = ("accuracy", "performance", "energy")
DEFAULT_DEVICES_FILE = Path("devices.yaml")


def register_commands(commands: argparse._SubParsersAction) -> None:
    rig = commands.add_parser(
        "rig",
        help="a virtual MLPerf Tiny test set-up (device, interface board, power monitor) on pseudo-terminals",
        description="Serve the set-up of one mode of the MLPerf Tiny runner on pseudo-terminals, on one "
        "emulated clock: accuracy and performance, the device alone; energy, the device behind a virtual "
        "enhanced interface board and powered by a virtual LPM01A energy monitor; sww01 (performance and "
        "energy) streams the board's audio (--sd-card) to the device. Writes the runner's "
        "devices file; `python -m tinyinterp.rig.launch RUNNER_DIR DEVICES_FILE -m a|p|e ...` runs the "
        "runner on it.",
        epilog="Exit codes: 0 stopped (Ctrl-C); 2 bad usage or input.",
    )
    rig.add_argument("--benchmark", required=True, choices=list(BENCHMARKS))
    rig.add_argument("--mode", required=True, choices=RIG_MODES, help="which set-up (the firmware differs)")
    rig.add_argument("--model", help=".tflite file or zoo:NAME (default: reference model, else stand-in)")
    _add_device_options(rig)
    rig.add_argument("--models-dir", type=Path, help="where to look for the reference model")
    rig.add_argument(
        "--devices-file",
        type=Path,
        default=DEFAULT_DEVICES_FILE,
        help=f"the runner's devices file to write (default {DEFAULT_DEVICES_FILE})",
    )
    rig.add_argument(
        "--dut-baud",
        type=int,
        help=f"energy mode: the device's baud rate behind the interface board (default {DUT_ENERGY_BAUD})",
    )
    rig.add_argument(
        "--sd-card", type=Path, help="energy mode and sww01: the interface board's SD card (a folder of wavs)"
    )
    rig.add_argument(
        "--realtime", action="store_true", help="pace the device's replies to its emulated time (performance)"
    )
    rig.set_defaults(handler=_rig)


def _check_mode_options(args: argparse.Namespace) -> None:
    """Options of another mode's set-up are refused rather than ignored."""
    energy = args.mode == "energy"
    streaming = BENCHMARKS[args.benchmark].streaming
    if streaming and args.mode == "accuracy":
        raise TinyInterpError(
            f"--benchmark {args.benchmark} --mode accuracy: the runner scores {args.benchmark} in its "
            "performance and energy modes (its accuracy script cannot stream); use --mode performance"
        )
    if args.dut_baud is not None and not energy:
        raise TinyInterpError("--dut-baud: only the energy set-up has the device behind the interface board")
    if args.sd_card and not (energy or streaming):
        raise TinyInterpError("--sd-card: only the energy set-up and sww01 have an interface board")
    if streaming and args.realtime:
        raise TinyInterpError(f"--realtime: {args.benchmark} needs no pacing (the board's timer times it)")
    if energy and args.realtime:
        raise TinyInterpError(
            "--realtime: the energy set-up needs no pacing (the runner times it by its samples)"
        )


def _rig(args: argparse.Namespace) -> int:
    from tinyinterp.rig.rig import RigPorts, serve_energy_rig, serve_streaming_rig, write_devices_file
    from tinyinterp.suite.dut import DeviceClock, VirtualDut
    from tinyinterp.suite.transport import serve_pty

    _check_model_options(args)
    _check_mode_options(args)
    _check_folder(args.sd_card, "--sd-card")
    dut_baud = DUT_ENERGY_BAUD if args.dut_baud is None else args.dut_baud
    if dut_baud <= 0:
        raise TinyInterpError(f"--dut-baud {dut_baud}: a baud rate is a positive number")
    if not args.devices_file.parent.is_dir():
        raise TinyInterpError(
            f"--devices-file {args.devices_file}: folder {args.devices_file.parent} does not exist"
        )
    device = _open_device(args, allow_stand_in=True)
    print(
        f"tinyinterp rig: {args.mode} set-up, {device.benchmark} running {device.model_name} on "
        f"{device.cost.label}, {device.cost.latency_us:.0f} us and {device.cost.energy_uj:.3f} uJ "
        "per inference",
        file=sys.stderr,
    )
    dut_name = f"tinyinterp-{device.cost.board}"

    def announce(ports: RigPorts) -> None:
        write_devices_file(args.devices_file, ports, dut_name, dut_baud)
        served = (("interface", ports.interface), ("power", ports.power), ("dut", ports.dut))
        lines = [f"{kind} {path}" for kind, path in served if path]
        print("\n".join([*lines, f"devices file {args.devices_file}"]), flush=True)  # one write, then serve

    def make_dut(write: Callable[[str], None]) -> VirtualDut:
        return VirtualDut(device, write, DeviceClock(args.realtime))

    try:
        if args.mode == "energy":
            serve_energy_rig(device, announce, args.sd_card)
        elif BENCHMARKS[args.benchmark].streaming:
            serve_streaming_rig(device, announce, args.sd_card)
        else:
            serve_pty(make_dut, lambda path: announce(RigPorts(None, None, path)))
    except KeyboardInterrupt:
        pass
    return EXIT_OK
