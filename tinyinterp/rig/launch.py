"""Run the unmodified MLPerf Tiny runner (`benchmark/runner` of mlcommons/tiny) against `tinyinterp rig`.

    python -m tinyinterp.rig.launch RUNNER_DIR DEVICES_FILE [runner arguments...]

The runner finds its boards by USB vendor and product id (`DeviceManager.scan`: pyserial's
`list_ports.comports()` and pyusb's `usb.core.find()`), which pseudo-terminals do not have. This is the
one thing answered for it: the serial ports listed are the `port`s of the devices file the rig wrote,
with that entry's USB ids, and no USB-only device (Joulescope) is present. Everything else is the
runner's own `main.py`, run as a script with `-d DEVICES_FILE` and the given arguments, in the current
folder (where it writes `sessions/<time>/`).
"""

from __future__ import annotations

import runpy
import sys
import types
from pathlib import Path

from tinyinterp.rig.interface import RigError


def rig_ports(devices_file: Path) -> list[object]:
    """pyserial port descriptions of the entries of the devices file that have a `port`."""
    import yaml
    from serial.tools.list_ports_common import ListPortInfo

    try:
        entries = yaml.safe_load(devices_file.read_text())
    except yaml.YAMLError as error:
        raise RigError(f"{devices_file}: not YAML ({error})") from error
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RigError(f"{devices_file}: a devices file is a list of devices")
    ports = []
    for entry in (e for e in entries if e.get("port")):
        usb = entry.get("usb")
        if not isinstance(usb, dict) or not usb:
            raise RigError(f"{devices_file}: device {entry.get('name')!r} has a port but no usb ids")
        info = ListPortInfo(str(entry["port"]), skip_link_detection=True)
        vid, pid = next(iter(usb.items()))
        info.vid, info.pid = vid, pid[0] if isinstance(pid, list) else pid
        info.description = f"{entry.get('name')} (tinyinterp rig)"
        ports.append(info)
    return ports


def _answer_discovery(devices_file: Path) -> None:
    import serial.tools.list_ports

    ports = rig_ports(devices_file)
    serial.tools.list_ports.comports = lambda include_links=False: list(ports)
    try:
        import usb.core as usb_core
    except ImportError:  # pyusb is only needed for a Joulescope; the runner imports it regardless
        usb_core = types.ModuleType("usb.core")
        package = types.ModuleType("usb")
        package.core = usb_core  # type: ignore[attr-defined]
        sys.modules["usb"], sys.modules["usb.core"] = package, usb_core
    usb_core.find = lambda **_: iter(())


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(
            "usage: python -m tinyinterp.rig.launch RUNNER_DIR DEVICES_FILE [runner arguments...]",
            file=sys.stderr,
        )
        return 2
    runner, devices_file = Path(argv[0]), Path(argv[1])
    for required in (runner / "main.py", devices_file):
        if not required.is_file():
            print(f"tinyinterp.rig.launch: {required} not found", file=sys.stderr)
            return 2
    try:
        _answer_discovery(devices_file)
    except RigError as error:
        print(f"tinyinterp.rig.launch: error: {error}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(runner))
    sys.argv = [str(runner / "main.py"), "-d", str(devices_file), *argv[2:]]
    runpy.run_path(str(runner / "main.py"), run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
