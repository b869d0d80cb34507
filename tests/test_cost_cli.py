"""`tinyinterp estimate` and `boards` as a user reads them: every column of the tables, the JSON, the options'
wiring and messages, the plot's contents (issue 14: the survivors of tinyinterp/cost/cli.py).

The tables are checked on estimates written by hand (the expected lines typed from the documented formats),
the commands against the Python API they wire together (`estimate`, `fit`, `duty_cycle` called directly)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import import_required, plotted_figure

from tinyinterp.cli import main
from tinyinterp.cost import cli as cost_cli
from tinyinterp.cost import profiles
from tinyinterp.cost.energy import DutyCycle
from tinyinterp.cost.estimate import DEFAULT_STACK, Estimate, LayerEstimate, Totals, estimate
from tinyinterp.cost.fit import fit, read_measurements

BOARD = "nucleo-l4r5zi"
OTHER_STACK = "tflm-reference"


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def pretty(data: Any) -> str:
    """JSON as the commands print it: indented by two spaces, then a newline."""
    return json.dumps(data, indent=2) + "\n"


def as_json(e: Estimate) -> Any:
    """An estimate as the JSON output reads back (lists for tuples)."""
    return json.loads(json.dumps(e.to_dict()))


def layer(index: int, opcode: str, kernel: str, terms: dict[str, float], **values: Any) -> LayerEstimate:
    fields = dict(op_class="conv", macs=0, cycles=0.0, latency_ms=0.0, percent=0.0)
    fields |= dict(weight_bytes=0, activation_bytes=0) | values
    return LayerEstimate(index=index, opcode=opcode, kernel=kernel, terms=terms, **fields)


def totals(**values: Any) -> Totals:
    fields = dict(cycles=0.0, latency_ms=0.0, energy_uj=0.0, arena_bytes=0, flash_bytes=0, fits=True)
    return Totals(**(fields | dict(macs=0, power_mw=0.0, ram_bytes=0) | values))


# An opcode longer than the 18-character column and a kernel longer than the 32-character one.
LONG_LAYER = layer(
    0,
    "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "arm_convolve_1x1_s8_fast_and_a_longer_name",
    {"mac": 1200.0, "data": 600.0, "requant": 120.0, "flash": 0.0, "overhead": 60.0},
    macs=1234567,
    cycles=2345678.4,
    latency_ms=19.547,
    percent=87.26,
    weight_bytes=12345,
    activation_bytes=6789,
)
SHORT_LAYER = layer(1, "SOFTMAX", "arm_softmax_s8", {"mac": 240.0, "overhead": 120.0}, cycles=342.6)


def hand_estimate(**values: Any) -> Estimate:
    fields = dict(model="m.tflite", board=BOARD, core="cortex-m4", clock_mhz=120.0, stack=DEFAULT_STACK)
    fields |= dict(layers=(LONG_LAYER, SHORT_LAYER), notes=("a note",), calibrated=True)
    fields["totals"] = totals(
        cycles=2346021.0,
        latency_ms=19.5501,
        energy_uj=1782.04,
        arena_bytes=12000,
        flash_bytes=99123,
        macs=1234567,
        power_mw=40.0,
        ram_bytes=15000,
    )
    return Estimate(**(fields | values))


def test_format_estimate_prints_every_column() -> None:
    assert cost_cli.format_estimate(hand_estimate()).splitlines() == [
        "m.tflite on nucleo-l4r5zi (cortex-m4 @ 120 MHz), stack tflm-cmsisnn (calibrated)",
        "  # op                 kernel                                 MACs      cycles       ms     %"
        "  weights   activ.",
        "  0 UNIDIRECTIONAL_SEQ arm_convolve_1x1_s8_fast_and_a_l  1,234,567   2,345,678   19.547  87.3"
        "   12,345    6,789",
        "  1 SOFTMAX            arm_softmax_s8                            0         343    0.000   0.0"
        "        0        0",
        "total: 19.550 ms, 2,346,021 cycles, 1,234,567 MACs, 1,782.0 uJ at 40.0 mW",
        "memory: arena 12,000 B (planned head), RAM 15,000 B with persistent data; flash 99,123 B with code: "
        "fits",
        "note: a note",
    ]


def test_format_estimate_of_an_uncalibrated_model_that_does_not_fit() -> None:
    text = cost_cli.format_estimate(hand_estimate(calibrated=False, totals=totals(fits=False), notes=()))
    lines = text.splitlines()
    assert lines[0] == "m.tflite on nucleo-l4r5zi (cortex-m4 @ 120 MHz), stack tflm-cmsisnn"
    assert lines[-1] == (
        "memory: arena 0 B (planned head), RAM 0 B with persistent data; flash 0 B with code: DOES NOT FIT"
    )
    assert len(lines) == 6 and "\n".join(lines) == text


def test_format_duty() -> None:
    # busy 0.0123456 -> 1.23 %; 2431.2 h / 24 = 101.3 days
    with_battery = DutyCycle(
        inferences_per_s=2.0, busy_fraction=0.0123456, average_mw=1.23456, battery_hours=2431.2
    )
    assert cost_cli.format_duty(with_battery) == (
        "duty cycle: 2 inferences/s, busy 1.23% of the time, average 1.235 mW, "
        "battery life 2,431 h (101.3 days)"
    )
    without = DutyCycle(inferences_per_s=0.5, busy_fraction=0.001, average_mw=0.01, battery_hours=None)
    assert (
        cost_cli.format_duty(without)
        == "duty cycle: 0.5 inferences/s, busy 0.10% of the time, average 0.010 mW"
    )


def test_format_comparison_prints_every_column() -> None:
    # 100 KB of RAM and 1 MB of flash; the second board does not fit
    fast = totals(
        latency_ms=1.23456, energy_uj=1234.56, power_mw=150.0, ram_bytes=102400, flash_bytes=1 << 20
    )
    first = hand_estimate(board="nucleo-h7a3zi-q", core="cortex-m7", clock_mhz=280.0, totals=fast)
    slow = totals(latency_ms=1112.8884, energy_uj=22257.76, power_mw=20.0, ram_bytes=512, fits=False)
    second = hand_estimate(board="nucleo-g0b1re", core="cortex-m0plus", clock_mhz=64.0, totals=slow)
    assert cost_cli.format_comparison([first, second]).splitlines() == [
        "m.tflite, stack tflm-cmsisnn",
        "board                  core             MHz         ms         uJ      mW   RAM KB  flash KB  fits",
        "nucleo-h7a3zi-q        cortex-m7        280      1.235     1234.6   150.0    100.0    1024.0  yes",
        "nucleo-g0b1re          cortex-m0plus     64   1112.888    22257.8    20.0      0.5       0.0  NO",
    ]


# --- estimate: options wired to the API ---------------------------------------------------------------------


def test_json_with_a_duty_cycle(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    model = data_dir / "models" / "ad01_int8.tflite"
    code, out, _ = run(
        capsys, "estimate", model, "--board", BOARD, "--json", "--rate", "2", "--sleep-mw", "0.5",
        "--battery-mah", "1000", "--battery-v", "1.5",
    )  # fmt: skip
    data = json.loads(out)
    assert code == 0 and out == pretty(data)
    t = data["totals"]
    busy = 2 * t["latency_ms"] / 1000  # two inferences of latency_ms each second
    average_mw = 2 * t["energy_uj"] / 1000 + (1 - busy) * 0.5  # uJ per second = uW; asleep the rest
    assert data["duty_cycle"] == {
        "inferences_per_s": 2.0,
        "busy_fraction": pytest.approx(busy),
        "average_mw": pytest.approx(average_mw),
        "battery_hours": pytest.approx(1000 * 1.5 / average_mw),  # mAh * V = mWh
    }
    assert {k: v for k, v in data.items() if k != "duty_cycle"} == as_json(estimate(model, BOARD))


def test_a_generic_board_from_the_command_line(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    model = data_dir / "models" / "ad01_int8.tflite"
    code, out, _ = run(capsys, "estimate", model, "--core", "cortex-m33", "--mhz", "96", "--json")
    assert code == 0 and json.loads(out) == as_json(estimate(model, core="cortex-m33", clock_mhz=96))
    assert (json.loads(out)["board"], json.loads(out)["clock_mhz"]) == ("generic-cortex-m33", 96)


def write_measurements(data_dir: Path, tmp_path: Path) -> Path:
    models = data_dir / "models"
    path = tmp_path / "measured.csv"
    path.write_text(
        f"model,latency_ms,energy_uj\n{models / 'kws_ref_model.tflite'},99.8,5230\n"
        f"{models / 'pretrainedResnet_quant.tflite'},389.6,20236\n"
    )
    return path


def test_calibration_at_the_given_clock(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    model, measured = data_dir / "models" / "ad01_int8.tflite", write_measurements(data_dir, tmp_path)
    code, out, _ = run(
        capsys, "estimate", model, "--board", BOARD, "--mhz", "60", "--calibrate", measured, "--json"
    )
    calibration = fit(read_measurements(measured), BOARD, DEFAULT_STACK, 60)
    assert code == 0 and json.loads(out) == as_json(estimate(model, BOARD, 60, calibration=calibration))


def test_compare_passes_clock_stack_and_calibration_to_every_board(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    model, measured = data_dir / "models" / "ad01_int8.tflite", write_measurements(data_dir, tmp_path)
    boards = [BOARD, "nucleo-h7a3zi-q"]
    code, out, _ = run(
        capsys, "estimate", model, "--compare", ",".join(boards), "--mhz", "100", "--stack", OTHER_STACK,
        "--calibrate", measured, "--json",
    )  # fmt: skip
    expected = [
        estimate(
            model, b, 100, OTHER_STACK, calibration=fit(read_measurements(measured), b, OTHER_STACK, 100)
        )
        for b in boards
    ]
    assert code == 0 and out == pretty([e.to_dict() for e in expected])


def test_compare_with_require_fit(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    models = data_dir / "models"
    assert run(capsys, "estimate", models / "ad01_int8.tflite", "--compare", BOARD, "--require-fit")[0] == 0
    # the 96x96 VWW model's arena does not fit the F103's 20 KB of SRAM
    vww = models / "vww_96_int8.tflite"
    assert run(capsys, "estimate", vww, "--compare", f"{BOARD},nucleo-f103rb")[0] == 0
    assert run(capsys, "estimate", vww, "--compare", f"{BOARD},nucleo-f103rb", "--require-fit")[0] == 3


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "give --board B, --core C (with --mhz) or --compare B1,B2"),
        (["--compare", " , "], "--compare needs board names separated by commas"),
        (
            ["--compare", f"{BOARD},nucleo-g0b1re", "--plot", "x.png"],
            "--plot: for one --board, not --compare",
        ),
        (
            ["--compare", f"{BOARD},nucleo-g0b1re", "--rate", "1", "--plot", "x.png"],
            "--rate and --plot: for one --board, not --compare",
        ),
    ],
)
def test_estimate_messages_word_for_word(
    capsys: pytest.CaptureFixture[str], data_dir: Path, arguments: list[str], message: str
) -> None:
    code, out, err = run(capsys, "estimate", data_dir / "models" / "ad01_int8.tflite", *arguments)
    assert (code, out, err) == (2, "", f"tinyinterp estimate: error: {message}\n")


# --- estimate --plot ----------------------------------------------------------------------------------------


def test_plot_after_json_says_so_on_stderr(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    import_required("matplotlib")
    model, path = data_dir / "models" / "ad01_int8.tflite", tmp_path / "layers.png"
    code, out, err = run(capsys, "estimate", model, "--board", BOARD, "--json", "--plot", path)
    assert code == 0 and json.loads(out) == as_json(estimate(model, BOARD))
    assert err == f"plot: wrote {path}\n" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    model = data_dir / "models" / "ad01_int8.tflite"
    code, _, err = run(capsys, "estimate", model, "--board", BOARD, "--plot", tmp_path / "layers.png")
    assert (code, err) == (
        2,
        "tinyinterp estimate: error: --plot needs matplotlib (pip install matplotlib)\n",
    )


def test_plot_into_a_missing_folder(
    capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    import_required("matplotlib")
    path = tmp_path / "missing" / "layers.png"
    code, _, err = run(
        capsys, "estimate", data_dir / "models" / "ad01_int8.tflite", "--board", BOARD, "--plot", path
    )
    assert code == 2 and err.startswith(f"tinyinterp estimate: error: cannot write {path}: ")
    assert len(err.splitlines()) == 1 and "No such file or directory" in err


def test_plot_draws_each_layers_terms_in_ms(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "layers.png"
    figure, _ = plotted_figure(monkeypatch, lambda: cost_cli.plot(hand_estimate(), str(path)))
    (axes,) = figure.axes
    assert axes.get_title() == "m.tflite on nucleo-l4r5zi @ 120 MHz (tflm-cmsisnn): 19.55 ms"
    assert axes.get_xlabel() == "ms" and axes.yaxis_inverted()  # layer 0 on top
    assert [t.get_text() for t in axes.get_yticklabels()] == ["0 UNIDIRECTIONAL_SEQUENCE_LSTM", "1 SOFTMAX"]
    assert [t.get_text() for t in axes.get_legend().get_texts()] == [
        "mac",
        "data",
        "requant",
        "flash",
        "overhead",
    ]
    # cycles / (120 MHz * 1e3 cycles per ms), stacked term after term (a missing term is 0)
    bars = [(round(p.get_x(), 9), round(p.get_width(), 9)) for p in axes.patches]
    assert bars == [
        (0.0, 0.01), (0.0, 0.002),  # mac: 1200 and 240 cycles
        (0.01, 0.005), (0.002, 0.0),  # data: 600
        (0.015, 0.001), (0.002, 0.0),  # requant: 120
        (0.016, 0.0), (0.002, 0.0),  # flash
        (0.016, 0.0005), (0.002, 0.001),  # overhead: 60 and 120
    ]  # fmt: skip
    # 9 inches wide, 0.3 per layer + 1.5 high, at 120 dpi: the PNG's header holds width and height
    png = path.read_bytes()
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (1080, 252)


# --- boards -------------------------------------------------------------------------------------------------


def test_boards_table_lists_every_board_and_stack(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "boards", "--stacks")
    lines = out.splitlines()
    assert code == 0
    header = lines[0]
    assert header == "board                  core             MHz  flash KB  SRAM KB     mW  mcu"
    boards = profiles.boards()
    for line, b in zip(lines[1:], boards, strict=False):
        assert line.split() == [
            b.name, b.core, str(round(b.clock_mhz)), str(b.flash_kb), str(b.sram_kb),
            f"{b.power.active_mw:.1f}", *b.mcu.split(),
        ]  # fmt: skip
        # names start under their headers, numbers end under theirs
        assert line.index(b.core) == header.index("core") and line.index(f"  {b.mcu}") == header.index(
            "  mcu"
        )
        assert line[: header.index(" mW") + 3].endswith(f" {b.power.active_mw:.1f}")
    stacks = profiles.stacks()
    assert lines[len(boards) + 1 :] == [
        "",
        f"cores: {', '.join(profiles.core_names())} (--core C --mhz F for a generic board)",
        "",
        "stack              description",
        *(f"{s.name:18} {s.description}" for s in stacks),
    ]
    assert "cortex-m4, " in lines[len(boards) + 2] and f"{DEFAULT_STACK}     " in out


def test_boards_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "boards", "--json", "--stacks")
    data = json.loads(out)
    assert code == 0 and out == pretty(data)
    assert data == {
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
            for b in profiles.boards()
        ],
        "stacks": [
            {"name": s.name, "description": s.description, "aliases": list(s.aliases)}
            for s in profiles.stacks()
        ],
    }
    assert any(s["aliases"] for s in data["stacks"])
    assert "stacks" not in json.loads(run(capsys, "boards", "--json")[1])


# --- python -m tinyinterp.cost.cli --------------------------------------------------------------------------


def test_the_modules_own_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cost_cli.main(["--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert out.startswith("usage: tinyinterp [-h] {estimate,boards} ...\n\nthe tinyinterp cost model\n")
    with pytest.raises(SystemExit) as exit_:
        cost_cli.main([])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.endswith(
        "tinyinterp: error: the following arguments are required: command\n"
    )


# --- the options as `--help` and argparse show them ---------------------------------------------------------


def help_text(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str) -> str:
    monkeypatch.setenv("COLUMNS", "400")  # argparse wraps at COLUMNS: one line per option
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def commands_of(help_out: str) -> dict[str, str]:
    """The subcommands `tinyinterp --help` lists, with their one-line help."""
    block = help_out.split("positional arguments:\n")[1].split("\n\n")[0]
    return dict(line.split(None, 1) for line in block.splitlines()[1:])


def test_estimate_help(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    commands = commands_of(help_text(capsys, monkeypatch))
    assert commands["estimate"] == "latency, energy, RAM and flash of a model on a Cortex-M board"
    assert commands["boards"] == "list the board (and stack) profiles of the cost model"
    usage, description, positional, options, epilog = help_text(capsys, monkeypatch, "estimate").split("\n\n")
    assert " ".join(usage.split()) == (
        "usage: tinyinterp estimate [-h] [--board BOARD | --core CORE | --compare B1,B2,...] "
        "[--mhz MHZ] [--set KEY=VALUE] [--stack STACK] [--calibrate MEASURED.csv] [--rate N] "
        "[--sleep-mw SLEEP_MW] [--battery-mah BATTERY_MAH] [--battery-v BATTERY_V] [--json] "
        "[--plot FILE.png] [--require-fit] model"
    )
    # the description and the epilog keep their own line breaks (a raw description formatter)
    assert description == (
        "Estimate per-layer and total cycles, latency, energy, arena and flash of a .tflite model on a "
        "board, following the kernels TFLM + CMSIS-NN run (other stacks as efficiency factors)."
    )
    assert " ".join(positional.split()) == "positional arguments: model a .tflite file"
    assert " ".join(options.split()) == " ".join(
        [
            "options: -h, --help show this help message and exit",
            "--board BOARD board name or alias (see `tinyinterp boards`), or a board .toml file",
            "--core CORE a generic board with this core (e.g. cortex-m33); needs --mhz",
            "--compare B1,B2,... estimate on several boards, side by side",
            "--mhz MHZ clock in MHz (default: the board's)",
            "--set KEY=VALUE what-if: change a field of the board, e.g. dcache=false, weights_in=sram, "
            "flash_bus_mhz=120 (repeatable; the fields are documented in tinyinterp/cost/README.md)",
            "--stack STACK software stack (default tflm-cmsisnn; see `tinyinterp boards --stacks`)",
            "--calibrate MEASURED.csv fit the board+stack on measured latencies (and energies) of models "
            "first",
            "--rate N duty cycle: N inferences per second, sleeping in between (average power, battery)",
            "--sleep-mw SLEEP_MW with --rate: power between inferences (default: the board's sleep_mw)",
            "--battery-mah BATTERY_MAH with --rate: battery capacity, for the battery life",
            "--battery-v BATTERY_V with --battery-mah: battery voltage (default 3 V)",
            "--json print the estimate as JSON",
            "--plot FILE.png draw the per-layer latency breakdown (needs matplotlib)",
            "--require-fit exit with 3 when the model does not fit",
        ]
    )
    assert epilog == (
        "exit codes: 0 ok; 2 bad usage or input (unknown board, core or stack, non-positive or\n"
        "non-finite clock or rate, an option that would be ignored, unreadable model, profile or "
        "calibration\n"
        "file); 3 the model does not fit the board (with --require-fit).\n"
        "MEASURED.csv has columns model,latency_ms[,energy_uj]; model paths are relative to the csv file.\n"
    )


def test_boards_help(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert help_text(capsys, monkeypatch, "boards").split("\n\n") == [
        "usage: tinyinterp boards [-h] [--stacks] [--json]",
        "options:\n  -h, --help  show this help message and exit\n"
        "  --stacks    list the software stacks too\n"
        "  --json      print as JSON",
        "exit codes: 0 ok.\n",
    ]


@pytest.mark.parametrize("option", ["--mhz", "--rate", "--sleep-mw", "--battery-mah", "--battery-v"])
def test_numeric_options_refuse_words(capsys: pytest.CaptureFixture[str], option: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["estimate", "m.tflite", "--board", BOARD, option, "fast"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.endswith(
        f"tinyinterp estimate: error: argument {option}: invalid float value: 'fast'\n"
    )


@pytest.mark.parametrize(
    ("first", "second"), [("--board", "--core"), ("--core", "--compare"), ("--board", "--compare")]
)
def test_one_target_only(capsys: pytest.CaptureFixture[str], first: str, second: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["estimate", "m.tflite", first, "x", second, "y"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.endswith(f"error: argument {second}: not allowed with argument {first}\n")


def test_every_option_reaches_the_estimate(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    model = data_dir / "models" / "ad01_int8.tflite"
    # two --set what-ifs, the stack, JSON and --require-fit (it fits: exit 0) all given by name
    code, out, _ = run(
        capsys, "estimate", model, "--board", BOARD, "--set", "dcache=true", "--set", "weights_in=sram",
        "--stack", OTHER_STACK, "--json", "--require-fit",
    )  # fmt: skip
    board = profiles.with_settings(profiles.board(BOARD), ["dcache=true", "weights_in=sram"])
    assert code == 0 and json.loads(out) == as_json(estimate(model, board, stack=OTHER_STACK))
    assert json.loads(out) != as_json(estimate(model, BOARD, stack=OTHER_STACK))  # the what-ifs count


def test_does_not_fit_message(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    model = data_dir / "models" / "vww_96_int8.tflite"
    code, _, err = run(capsys, "estimate", model, "--board", "nucleo-f103rb", "--require-fit")
    assert (code, err) == (3, f"tinyinterp estimate: {model} does not fit nucleo-f103rb\n")
