"""docs/cli.md is the reference tools/cli_reference.py generates from the parser, so it cannot drift: an
option's help, default, choices or metavar changed in the code fails here until the reference is
regenerated (and reviewed)."""

from __future__ import annotations

from conftest import script


def test_cli_reference_is_current() -> None:
    tool = script("tools/cli_reference.py")
    assert tool.reference() == tool.REFERENCE.read_text(encoding="utf-8"), (
        "stale docs/cli.md: run python tools/cli_reference.py --write"
    )


def test_cli_reference_lists_every_command_once() -> None:
    tool = script("tools/cli_reference.py")
    headings = [
        line for line in tool.REFERENCE.read_text(encoding="utf-8").splitlines() if line.startswith("## ")
    ]
    expected = [
        "tinyinterp",
        *(
            f"tinyinterp {name}"
            for name in (
                "run",
                "info",
                "estimate",
                "boards",
                "rank",
                "suite",
                "models",
                "dut",
                "validate-log",
                "rig",
            )
        ),
    ]
    assert headings == [f"## `{name}`" for name in expected]
