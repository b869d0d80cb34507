"""`tinyinterp rank`: Kendall's tau-b, ranks, fragility and the what-if, on tables computed by hand."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import import_required, plotted_figure

import tinyinterp
from tinyinterp.cli import main
from tinyinterp.cost import profiles
from tinyinterp.cost.estimate import estimate
from tinyinterp.cost.rank import (
    RESULTS_FILE,
    default_results,
    fragilities,
    fragility,
    kendall_tau_b,
    rank,
    read_results,
    read_tree,
    what_if,
)
from tinyinterp.errors import CostModelError
from tinyinterp.zoo import open_model

COLUMNS = "version,division,org,system,benchmark,board_name,latency_ms,energy_uj"

# Four systems on benchmarks x, y, z and a fifth on x and y only; latency in ms (lower is better).
TABLE = {
    "S1": {"x": 1.0, "y": 2.0, "z": 3.0},
    "S2": {"x": 2.0, "y": 1.0, "z": 1.0},
    "S3": {"x": 3.0, "y": 3.0, "z": 2.0},
    "S4": {"x": 4.0, "y": 4.0, "z": 4.0},
    "S5": {"x": 0.5, "y": 10.0},
}


def write_csv(path: Path, table: dict[str, dict[str, float]], board: str = "NUCLEO-L4R5ZI") -> Path:
    lines = [COLUMNS]
    for system, values in table.items():
        lines += [
            f"1.0,closed,org,{system},{bench},{board},{value},{value * 10}" for bench, value in values.items()
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_kendall_tau_b_without_ties() -> None:
    # 10 pairs; discordant: (1,2) 3>1, (1,3) 3>2, (4,5) 5>4; 7 concordant: (7 - 3) / 10
    assert kendall_tau_b([1, 2, 3, 4, 5], [3, 1, 2, 5, 4]) == pytest.approx(0.4)
    assert kendall_tau_b([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)


def test_kendall_tau_b_with_ties() -> None:
    # 6 pairs: 4 concordant, none discordant, one tied in x only (1,2), one tied in y only (2,3):
    # 4 / sqrt((6 - 1) * (6 - 1)) = 0.8 (tau-a would say 4/6)
    assert kendall_tau_b([1, 1, 2, 3], [1, 2, 2, 3]) == pytest.approx(0.8)


def test_kendall_tau_b_is_undefined_for_a_constant_side() -> None:
    assert math.isnan(kendall_tau_b([1, 1, 1], [1, 2, 3]))
    assert math.isnan(kendall_tau_b([1], [2]))
    with pytest.raises(CostModelError, match="paired values, got 2 and 3"):
        kendall_tau_b([1, 2], [1, 2, 3])


def test_ties_share_the_mean_of_their_positions() -> None:
    assert rank({"a": 3.0, "b": 1.0, "c": 3.0, "d": 2.0}) == {"b": 1, "d": 2, "a": 3.5, "c": 3.5}


def test_fragility_of_a_hand_made_table() -> None:
    report = fragility("closed", "latency", TABLE)
    assert report.benchmarks == ("x", "y", "z")
    # S5 lacks z: ranked nowhere, but counted in tau(x, y)
    assert report.ranks == {
        "S1": {"x": 1, "y": 2, "z": 3},
        "S2": {"x": 2, "y": 1, "z": 1},
        "S3": {"x": 3, "y": 3, "z": 2},
        "S4": {"x": 4, "y": 4, "z": 4},
    }
    taus = {(p.first, p.second): (p.tau, p.systems) for p in report.pairs}
    # x~y over S1..S5: concordant S1S3 S1S4 S2S3 S2S4 S3S4, discordant S1S2 and the four pairs with S5
    assert taus[("x", "y")] == (pytest.approx(0.0), 5)
    # x~z over S1..S4: discordant S1S2, S1S3; (4 - 2) / 6
    assert taus[("x", "z")] == (pytest.approx(1 / 3), 4)
    # y~z: discordant S1S3 only; (5 - 1) / 6
    assert taus[("y", "z")] == (pytest.approx(2 / 3), 4)
    assert report.winners == {"x": "S1", "y": "S2", "z": "S2"}
    assert report.winner_changes == 2  # x~y and x~z disagree, y~z agree
    assert [(m.system, m.spread) for m in report.movers] == [("S1", 2), ("S2", 1), ("S3", 1), ("S4", 0)]


def test_without_a_complete_system_nothing_is_ranked() -> None:
    report = fragility("open", "energy", {"A": {"x": 1.0}, "B": {"y": 2.0}})
    assert report.ranks == {} and report.winners == {} and report.winner_changes == 0
    assert math.isnan(report.pairs[0].tau) and report.pairs[0].systems == 0


def test_read_results_keeps_division_metrics_and_system_names(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        f"{COLUMNS}\n1.0,closed,acme,box,kws,B,12.5,\n0.7,open,acme,box,ic,B,,3\n1.0,closed,acme,box,ad,B,,\n"
    )
    results = read_results(path)
    assert [(r.division, r.system, r.benchmark, dict(r.values)) for r in results] == [
        ("closed", "1.0/acme/box", "kws", {"latency": 12.5}),
        ("open", "0.7/acme/box", "ic", {"energy": 3.0}),
    ]
    # A quoted name keeps the line break inside it as written (the csv module's rule for newline="").
    path.write_bytes(f'{COLUMNS}\r\n1.0,closed,acme,"two\r\nlines",kws,B,12.5,\r\n'.encode())
    assert [r.system for r in read_results(path)] == ["1.0/acme/two\r\nlines"]
    path.write_bytes(f"{COLUMNS}\n1.0,closed,acme,\xff,kws,B,12.5,\n".encode("latin-1"))
    message = f"{path}: not a results CSV ('utf-8' codec can't decode byte 0xff in position"
    with pytest.raises(CostModelError, match=f"^{re.escape(message)}"):
        read_results(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{COLUMNS}\n1.0,closed,o,s,kws,B,fast,\n", r"line 2: latency_ms 'fast' is not a number"),
        (f"{COLUMNS}\n1.0,closed,o,s,kws,B,-1,\n", r"line 2: latency_ms must be positive and finite, got -1"),
        ("version,division\n1.0,closed\n", r"no column org, system, benchmark, board_name, latency_ms"),
        (f"{COLUMNS}\n", r"no results in it"),
        (f"{COLUMNS}\n1.0,closed,o,s,kws,B,1,\n1.0,closed,o,s,kws,B,2,\n", r"1.0/o/s has two kws results"),
    ],
)
def test_malformed_results_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(CostModelError, match=message):
        fragilities(read_results(path))


def write_figure(root: Path, system: str, benchmark: str, mode: str, line: str) -> None:
    folder = root / system / benchmark / mode
    folder.mkdir(parents=True)
    (folder / "results.txt").write_text(f"12345.6 ulp-mlperf: {line}\n")


def test_a_results_tree_in_the_runners_wording(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    system_a, system_b = "closed/acme/results/boxA", "closed/acme/results/boxB"
    write_figure(tmp_path, system_a, "kws", "performance", "Median throughput is     10.000 inf./sec.")
    write_figure(tmp_path, system_a, "ad", "performance", "Median throughput is     50.000 inf./sec.")
    write_figure(tmp_path, system_b, "kws", "performance", "Median throughput is     20.000 inf./sec.")
    write_figure(tmp_path, system_b, "ad", "performance", "Median throughput is     25.000 inf./sec.")
    write_figure(tmp_path, system_b, "kws", "energy", "Median energy cost is 123.4000 uJ/inf.")
    write_figure(tmp_path, system_b, "kws", "accuracy", "Top 1% = 90.1")  # no figure ranked
    results = sorted(read_tree(tmp_path), key=lambda r: (r.system, r.benchmark))
    assert [(r.division, r.system, r.benchmark, dict(r.values)) for r in results] == [
        ("closed", "acme/boxA", "ad", {"latency": 20.0}),
        ("closed", "acme/boxA", "kws", {"latency": 100.0}),
        ("closed", "acme/boxB", "ad", {"latency": 40.0}),
        ("closed", "acme/boxB", "kws", {"latency": 50.0, "energy": 123.4}),
    ]
    assert main(["rank", "--results", str(tmp_path), "--metric", "latency"]) == 0
    out = capsys.readouterr().out
    # boxA wins ad (20 < 40), boxB wins kws (50 < 100): the two benchmarks disagree completely
    assert "-1.00 (2)" in out and "1 of 1 benchmark pairs disagree" in out
    assert "ad acme/boxA; kws acme/boxB" in out


def test_a_results_tree_without_the_figure_is_named(tmp_path: Path) -> None:
    write_figure(tmp_path, "box", "kws", "performance", "Throughput   :     10.000 inf./sec.")
    with pytest.raises(
        CostModelError,
        match=r"box/kws/performance/results.txt: no line 'Median throughput is N inf\./sec\.' with N > 0",
    ):
        read_tree(tmp_path)
    with pytest.raises(
        CostModelError, match=r"no <system>/<benchmark>/<performance\|energy>/results.txt in it"
    ):
        read_tree(tmp_path / "box" / "kws" / "performance")


def test_a_results_tree_outside_a_division_and_beside_other_files(tmp_path: Path) -> None:
    """A results.txt too shallow to be <system>/<benchmark>/<mode>/ is skipped, not the end of the walk; a
    system outside closed/ and open/ has the division "-"; one named only by its division keeps that name;
    its board is the system folder's last part; 0.5 inf./sec. is 2000 ms."""
    (tmp_path / "a-readme").mkdir()
    (tmp_path / "a-readme" / "results.txt").write_text("not a figure\n")  # sorts first
    write_figure(tmp_path, "lab/boxC", "vww", "performance", "Median throughput is 0.500 inf./sec.")
    write_figure(tmp_path, "open", "ic", "energy", "Median energy cost is 7.5 uJ/inf.")
    results = sorted(read_tree(tmp_path), key=lambda r: r.system)
    assert [(r.division, r.system, r.benchmark, r.board_name, dict(r.values)) for r in results] == [
        ("-", "lab/boxC", "vww", "boxC", {"latency": 2000.0}),
        ("open", "open", "ic", "open", {"energy": 7.5}),
    ]


def test_a_results_tree_figure_of_zero_is_refused(tmp_path: Path) -> None:
    write_figure(tmp_path, "box", "kws", "performance", "Median throughput is 0.000 inf./sec.")
    with pytest.raises(CostModelError, match=r"no line 'Median throughput is N inf\./sec\.' with N > 0"):
        read_tree(tmp_path)


def test_a_results_tree_read_past_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    """Runner logs carry the host's bytes (a Latin-1 "\xb5s", here): the figure is still read."""
    write_figure(tmp_path, "box", "kws", "performance", "Median throughput is 4.000 inf./sec.")
    results_txt = tmp_path / "box" / "kws" / "performance" / "results.txt"
    results_txt.write_bytes(b"latency 12 \xb5s\n" + results_txt.read_bytes())
    assert [dict(r.values) for r in read_tree(tmp_path)] == [{"latency": 250.0}]


def test_an_unreadable_results_txt_is_named(tmp_path: Path) -> None:
    (tmp_path / "box" / "kws" / "performance" / "results.txt").mkdir(parents=True)  # a folder of that name
    with pytest.raises(
        CostModelError, match=r"^cannot read .*box/kws/performance/results.txt: Is a directory$"
    ):
        read_tree(tmp_path)


def test_rank_reads_the_published_results_under_tinyinterp_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --results, `rank` reads results/published_v0.5_to_v1.1.csv under $TINYINTERP_DATA, else in
    ../shared/mlperf-tiny beside the checkout (the layout the README describes)."""
    (tmp_path / "results").mkdir()
    published = write_csv(tmp_path / "results" / "published_v0.5_to_v1.1.csv", TABLE)
    monkeypatch.setenv("TINYINTERP_DATA", str(tmp_path))
    assert main(["rank", "--metric", "latency"]) == 0
    assert str(published) in "".join(capsys.readouterr().out.split())  # the table wraps the long path
    monkeypatch.delenv("TINYINTERP_DATA")
    checkout = Path(tinyinterp.__file__).resolve().parent.parent  # under mutmut, the mutants/ copy
    beside_checkout = checkout.parent / "shared" / "mlperf-tiny" / "results" / "published_v0.5_to_v1.1.csv"
    assert default_results() == beside_checkout


def test_cli_prints_taus_and_ranks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "r.csv", TABLE)
    assert main(["rank", "--results", str(path), "--metric", "latency"]) == 0
    out = capsys.readouterr().out
    assert "closed division, latency (ms): 4 systems ran all 3 benchmarks (x, y, z)" in out
    assert "+0.33 (4)" in out and "+0.67 (4)" in out and "+0.00 (5)" in out
    assert "2 of 3 benchmark pairs disagree" in out


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "r.csv", TABLE)
    assert main(["rank", "--results", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(r["division"], r["metric"]) for r in data["rankings"]] == [
        ("closed", "latency"),
        ("closed", "energy"),
    ]
    latency = data["rankings"][0]
    assert latency["ranks"]["1.0/org/S3"] == {"x": 3, "y": 3, "z": 2}
    assert latency["winner_changes"] == 2
    assert latency["movers"][0] == {"system": "1.0/org/S1", "best": 1, "worst": 3, "spread": 2}


def test_cli_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import_required("matplotlib")
    path = write_csv(tmp_path / "r.csv", TABLE)
    png = tmp_path / "bump.png"
    assert main(["rank", "--results", str(path), "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot: wrote {png}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--results", "missing.csv"], "results file missing.csv not found"),
        (["--top", "-1"], "--top must be 0 or more, got -1"),
        (["--boards", "nucleo-l4r5zi"], "--boards and --stack choose the what-if boards: give --models too"),
        (["--division", "nowhere"], "no results for division nowhere"),
        (["--models", "zoo:ad", "--boards", "no-such-board"], "no-such-board"),
        (["--models", "nope.tflite"], "nope.tflite: no such model file"),
    ],
)
def test_cli_refuses_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    path = write_csv(tmp_path / "r.csv", TABLE)
    given = arguments if "--results" in arguments else ["--results", str(path), *arguments]
    assert main(["rank", *given]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tinyinterp rank: error: ") and message in err and len(err.splitlines()) == 1


def test_what_if_ranks_every_library_board_on_two_models(tmp_path: Path) -> None:
    # published: the H7 board beats the L4 board on x, the L4 board wins y
    lines = [COLUMNS, "1.0,closed,o,a,x,NUCLEO-H7A3ZI-Q,1,", "1.0,closed,o,b,x,NUCLEO-L4R5ZI,5,"]
    lines += ["1.0,closed,o,a,y,NUCLEO-H7A3ZI-Q,9,", "1.0,closed,o,b,y,NUCLEO-L4R5ZI,2,"]
    path = tmp_path / "r.csv"
    path.write_text("\n".join(lines) + "\n")
    latency = what_if(["zoo:ad", "zoo:tinyeats-gru"], read_results(path))[0]
    library = {b.name for b in profiles.boards()}
    assert latency.metric == "latency" and set(latency.boards) == library
    for model in ("zoo:ad", "zoo:tinyeats-gru"):
        ranks = latency.ranks[model]
        assert set(ranks) == library and sum(ranks.values()) == len(library) * (len(library) + 1) / 2
        # a 280 MHz Cortex-M7 is faster than a 120 MHz Cortex-M4 and a 64 MHz Cortex-M0+
        assert ranks["nucleo-h7a3zi-q"] < ranks["nucleo-l4r5zi"] < ranks["nucleo-g0b1re"]
    # the autoencoder's 270 KB of weights exceed the 128 KB flash of the F103, not the H7's 2 MB
    assert latency.fits["zoo:ad"]["nucleo-h7a3zi-q"] and not latency.fits["zoo:ad"]["nucleo-f103rb"]
    assert latency.published == {
        "x": {"nucleo-h7a3zi-q": 1, "nucleo-l4r5zi": 2},
        "y": {"nucleo-l4r5zi": 1, "nucleo-h7a3zi-q": 2},
    }
    taus = {(p.first, p.second): (p.tau, p.systems) for p in latency.pairs}
    assert taus[("zoo:ad", "published x")] == (1.0, 2) and taus[("zoo:ad", "published y")] == (-1.0, 2)


def test_published_closed_division_has_four_latency_benchmarks(data_dir: Path) -> None:
    reports = {(f.division, f.metric): f for f in fragilities(read_results(data_dir / RESULTS_FILE))}
    report = reports[("closed", "latency")]
    assert report.benchmarks == ("ad", "ic", "kws", "vww")
    assert [(p.first, p.second) for p in report.pairs] == [
        ("ad", "ic"),
        ("ad", "kws"),
        ("ad", "vww"),
        ("ic", "kws"),
        ("ic", "vww"),
        ("kws", "vww"),
    ]
    systems = len(report.ranks)
    assert systems >= 10
    assert all(-1 <= p.tau <= 1 and p.systems >= systems for p in report.pairs)
    for benchmark in report.benchmarks:
        column = [r[benchmark] for r in report.ranks.values()]
        assert min(column) == 1 and sum(column) == systems * (systems + 1) / 2
    assert set(report.winners) == set(report.benchmarks)


# --- the command as a user reads it (issue 14: rank_cli.py's survivors) -------------------------------------


def table_rows(out: str) -> list[list[str]]:
    """The cells of every row (header rows too) of the rich tables in `out`, in order."""
    return [[cell.strip() for cell in line.strip()[1:-1].split(line.strip()[0])] for line in out.splitlines()
            if line.strip()[:1] in ("│", "┃")]  # fmt: skip


def words(text: str) -> str:
    """`text` with its line breaks and runs of spaces as single spaces (rich wraps table titles)."""
    return " ".join(text.split())


RankCommand = Callable[..., tuple[int, str, str]]


@pytest.fixture
def rank_command(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> RankCommand:
    """Runs `tinyinterp rank ARGS...`: exit code, stdout, stderr."""
    monkeypatch.setenv("COLUMNS", "300")  # rich wraps at COLUMNS: wide, so a line of the report is one line

    def run(*argv: object) -> tuple[int, str, str]:
        code = main(["rank", *(str(a) for a in argv)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_report_tables_cell_by_cell(tmp_path: Path, rank_command: RankCommand) -> None:
    path = write_csv(tmp_path / "r.csv", TABLE)
    code, out, _ = rank_command("--results", path, "--metric", "latency", "--top", "2")
    assert code == 0
    assert out.splitlines()[:3] == [
        f"{path}: lower is better; ranks among the systems with every benchmark",
        "",
        "closed division, latency (ms): 4 systems ran all 3 benchmarks (x, y, z)",
    ]
    # each table's title (wrapped to the table's width) between the line before it and the table's top
    assert "(x, y, z) Kendall's tau-b between benchmarks (systems with both) ┏" in words(out)
    assert "best system: x 1.0/S1; y 1.0/S2; z 1.0/S2 (2 of 3 benchmark pairs disagree)" in out
    assert "disagree) ranks, the 2 that move most of 4 ┏" in words(out)
    # tau-b from test_fragility_of_a_hand_made_table; ranks and moves of the two that move most (S1, S2)
    assert table_rows(out) == [
        ["", "y", "z"],
        ["x", "+0.00 (5)", "+0.33 (4)"],
        ["y", "", "+0.67 (4)"],
        ["system", "x", "y", "z", "moves"],
        ["1.0/S1", "1", "2", "3", "2"],
        ["1.0/S2", "2", "1", "1", "1"],
    ]


@pytest.mark.parametrize(("top", "shown"), [(["--top", "0"], 4), (["--top", "1"], 1), ([], 4)])
def test_cli_top_chooses_the_systems_shown(
    tmp_path: Path, rank_command: RankCommand, top: list[str], shown: int
) -> None:
    path = write_csv(tmp_path / "r.csv", TABLE)
    code, out, _ = rank_command("--results", path, "--metric", "latency", *top)
    assert code == 0 and f"ranks, the {shown} that move most of 4" in words(out)
    assert [row[0] for row in table_rows(out)[4:]] == ["1.0/S1", "1.0/S2", "1.0/S3", "1.0/S4"][:shown]


def test_cli_shows_ten_systems_by_default(tmp_path: Path, rank_command: RankCommand) -> None:
    # eleven systems on x and y; S0 is first on x and last on y, so it moves most
    table = {f"S{k}": {"x": float(k), "y": float(k)} for k in range(1, 11)} | {"S0": {"x": 0.5, "y": 20.0}}
    path = write_csv(tmp_path / "r.csv", table)
    code, out, _ = rank_command("--results", path, "--metric", "latency")
    assert code == 0 and "ranks, the 10 that move most of 11" in words(out)
    assert table_rows(out)[3] == ["1.0/S0", "1", "11", "10"]
    assert "best system: x 1.0/S0; y 1.0/S1 (1 of 1 benchmark pairs disagree)" in out


def test_cli_one_best_system_and_long_names(tmp_path: Path, rank_command: RankCommand) -> None:
    # "box/v2" wins both; its name keeps its own slash once the organisation is dropped
    path = write_csv(tmp_path / "r.csv", {"box/v2": {"x": 1.0, "y": 1.0}, "S2": {"x": 2.0, "y": 2.0}})
    code, out, _ = rank_command("--results", path, "--metric", "latency")
    assert code == 0 and "best system: 1.0/box/v2 on every benchmark (0 of 1 benchmark pairs disagree)" in out
    assert table_rows(out)[3:] == [["1.0/S2", "2", "2", "0"], ["1.0/box/v2", "1", "1", "0"]]


def test_cli_without_a_complete_system(tmp_path: Path, rank_command: RankCommand) -> None:
    path = write_csv(tmp_path / "r.csv", {"A": {"x": 1.0}, "B": {"y": 2.0}})
    code, out, _ = rank_command("--results", path, "--metric", "energy")
    assert code == 0 and out.splitlines()[2:] == [
        "closed division, energy (uJ): 0 systems ran all 2 benchmarks (x, y)",
        *out.splitlines()[3:-1],
        "best system: no system ran every benchmark",
    ]
    assert table_rows(out) == [["", "y"], ["x", "n/a (0)"]]  # no system with both: tau-b undefined


def test_cli_a_results_tree_outside_a_division(tmp_path: Path, rank_command: RankCommand) -> None:
    for system, seconds in (("boxA", "10.000"), ("boxB", "20.000")):
        for benchmark in ("ad", "kws"):
            write_figure(
                tmp_path, system, benchmark, "performance", f"Median throughput is {seconds} inf./sec."
            )
    code, out, _ = rank_command("--results", tmp_path)
    # no closed/ or open/ in the paths: the heading names no division
    assert code == 0 and out.splitlines()[2] == "latency (ms): 2 systems ran all 2 benchmarks (ad, kws)"


def test_cli_reads_the_default_results_file(
    tmp_path: Path, rank_command: RankCommand, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = (
        write_csv(tmp_path / RESULTS_FILE, TABLE)
        if (tmp_path / RESULTS_FILE).parent.mkdir() is None
        else None
    )
    monkeypatch.setenv("TINYINTERP_DATA", str(tmp_path))
    code, out, _ = rank_command("--metric", "latency")
    assert code == 0 and out.startswith(f"{path}: lower is better")


def test_cli_json_is_the_report(tmp_path: Path, rank_command: RankCommand) -> None:
    path = write_csv(tmp_path / "r.csv", TABLE)
    code, out, _ = rank_command("--results", path, "--json", "--metric", "latency")
    data = json.loads(out)
    assert code == 0 and out == json.dumps(data, indent=2) + "\n"
    assert data["results"] == str(path) and data["what_if"] == []
    (latency,) = data["rankings"]
    assert latency["benchmarks"] == ["x", "y", "z"]
    assert latency["winners"] == {"x": "1.0/org/S1", "y": "1.0/org/S2", "z": "1.0/org/S2"}


def write_published(path: Path) -> Path:
    """Published results of two library boards: the H7 board beats the L4 board on x, the L4 board wins y."""
    lines = [COLUMNS, "1.0,closed,o,a,x,NUCLEO-H7A3ZI-Q,1,", "1.0,closed,o,b,x,NUCLEO-L4R5ZI,5,"]
    lines += ["1.0,closed,o,a,y,NUCLEO-H7A3ZI-Q,9,", "1.0,closed,o,b,y,NUCLEO-L4R5ZI,2,"]
    path.write_text("\n".join(lines) + "\n")
    return path


WHAT_IF_BOARDS = ["nucleo-l4r5zi", "nucleo-h7a3zi-q", "nucleo-f103rb"]
WHAT_IF_STACK = "tflm-reference"


def test_cli_what_if_json_is_the_api(tmp_path: Path, rank_command: RankCommand) -> None:
    path = write_published(tmp_path / "r.csv")
    code, out, _ = rank_command(
        "--results", path, "--json", "--metric", "latency", "--models", "zoo:ad",
        "--boards", ",".join(WHAT_IF_BOARDS), "--stack", WHAT_IF_STACK,
    )  # fmt: skip
    assert code == 0
    # only the latency what-if (--metric), on the boards and stack given
    latency = what_if(["zoo:ad"], read_results(path), WHAT_IF_BOARDS, WHAT_IF_STACK)[0]
    assert (latency.metric, latency.stack, list(latency.boards)) == ("latency", WHAT_IF_STACK, WHAT_IF_BOARDS)
    assert json.loads(out)["what_if"] == json.loads(json.dumps([dataclasses.asdict(latency)]))


def test_cli_what_if_tables_cell_by_cell(tmp_path: Path, rank_command: RankCommand) -> None:
    path = write_published(tmp_path / "r.csv")
    code, out, _ = rank_command(
        "--results", path, "--metric", "latency", "--models", "zoo:ad", "zoo:kws",
        "--boards", ",".join(WHAT_IF_BOARDS),
    )  # fmt: skip
    assert code == 0
    text = words(out)
    assert (
        "what-if, latency: boards on your models (tflm-cmsisnn, estimated, ms) beside their published rank "
        "(closed division, best result per board, any stack)" in text
    )
    assert (
        "*: the model does not fit the board's RAM or flash (estimated, ranked all the same)"
        in out.splitlines()
    )
    assert "Kendall's tau-b of the latency ranks (boards in common)" in text

    def cells(board: str, rank: int) -> list[str]:  # latency to 4 significant digits, * if it does not fit
        return [
            f"{e.totals.latency_ms:,.4g}{'' if e.totals.fits else '*'} #{rank}"
            for e in (estimate(model, board) for model in ("zoo:ad", "zoo:kws"))
        ]

    # faster board first: a 280 MHz M7, a 120 MHz M4, a 72 MHz M3 (where neither model fits)
    assert table_rows(out)[5:] == [
        ["board", "zoo:ad", "zoo:kws", "pub. x", "pub. y"],
        ["nucleo-h7a3zi-q", *cells("nucleo-h7a3zi-q", 1), "1", "2"],
        ["nucleo-l4r5zi", *cells("nucleo-l4r5zi", 2), "2", "1"],
        ["nucleo-f103rb", *cells("nucleo-f103rb", 3), "", ""],
        ["", "zoo:kws", "published x", "published y"],
        # the same order on both models; x orders H7 before L4 as the models do, y the other way round
        ["zoo:ad", "+1.00 (3)", "+1.00 (2)", "-1.00 (2)"],
        ["zoo:kws", "", "+1.00 (2)", "-1.00 (2)"],
    ]  # fmt: skip
    assert "*" in table_rows(out)[8][1] and "*" not in table_rows(out)[6][1]


def test_cli_help_names_every_option(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # argparse wraps at COLUMNS
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    listed = capsys.readouterr().out.split("positional arguments:\n")[1].split("\n\n")[0]
    assert (
        "    rank                how much the MLPerf Tiny ranking of systems depends on the benchmark "
        "(and on your models)" in listed.splitlines()
    )
    with pytest.raises(SystemExit) as exit_:
        main(["rank", "--help"])
    assert exit_.value.code == 0
    assert [words(block) for block in capsys.readouterr().out.split("\n\n")] == [
        "usage: tinyinterp rank [-h] [--results FILE.csv|DIR] [--division DIVISION] "
        "[--metric {latency,energy}] [--top N] [--models MODEL [MODEL ...]] [--boards B1,B2,...] "
        "[--stack STACK] [--json] [--plot FILE.png]",
        "Per division and metric of the published MLPerf Tiny results: each system's rank per benchmark "
        "(over the systems that ran them all), Kendall's tau-b between every pair of benchmarks, the best "
        "system per benchmark, and the systems whose rank moves most. With --models: the library's boards "
        "ranked on your models by the cost model, beside their published order.",
        " ".join(
            [
                "options: -h, --help show this help message and exit",
                "--results FILE.csv|DIR published results table (default: $TINYINTERP_DATA/results/"
                "published_v0.5_to_v1.1.csv), or a results tree "
                "(<system>/<benchmark>/<performance|energy>/results.txt, as a submission or "
                "`tinyinterp suite` writes them)",
                "--division DIVISION only this division (closed, open)",
                "--metric {latency,energy} only this metric",
                "--top N systems shown per ranking, those that move most first (default 10; 0: all)",
                "--models MODEL [MODEL ...] what-if: .tflite files or zoo:NAME",
                "--boards B1,B2,... what-if boards (default: the whole library)",
                "--stack STACK what-if software stack (default tflm-cmsisnn)",
                "--json print the report as JSON",
                "--plot FILE.png bump chart of ranks across benchmarks (matplotlib)",
            ]
        ),
        "exit codes: 0 ok; 2 bad usage or input (unreadable results file, unknown board or stack, unreadable "
        "model, --plot without matplotlib).",
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--metric", "speed"],
            "argument --metric: invalid choice: 'speed' (choose from 'latency', 'energy')",
        ),
        (["--top", "many"], "argument --top: invalid int value: 'many'"),
    ],
)
def test_cli_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    path = write_csv(tmp_path / "r.csv", TABLE)
    with pytest.raises(SystemExit) as exit_:
        main(["rank", "--results", str(path), *arguments])
    assert exit_.value.code == 2 and capsys.readouterr().err.endswith(f"tinyinterp rank: error: {message}\n")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--stack", "tflm-reference"], "--boards and --stack choose the what-if boards: give --models too"),
        (
            ["--plot", "{tmp}/missing/bump.png"],
            "--plot {tmp}/missing/bump.png: folder {tmp}/missing does not exist",
        ),
        (
            [
                "--metric",
                "latency",
                "--division",
                "closed",
                "--plot",
                "{tmp}/one.png",
                "--results",
                "{tmp}/one.csv",
            ],
            "--plot {tmp}/one.png: nothing to plot: no ranking has two benchmarks and two systems",
        ),
    ],
)
def test_cli_messages_word_for_word(
    tmp_path: Path, rank_command: RankCommand, arguments: list[str], message: str
) -> None:
    import_required("matplotlib")
    write_csv(tmp_path / "one.csv", {"S1": {"x": 1.0}, "S2": {"x": 2.0}})  # one benchmark: no bump to draw
    given = [a.format(tmp=tmp_path) for a in arguments]
    results = [] if "--results" in given else ["--results", write_csv(tmp_path / "r.csv", TABLE)]
    code, _, err = rank_command(*results, *given)
    assert (code, err) == (2, f"tinyinterp rank: error: {message.format(tmp=tmp_path)}\n")


def test_cli_plot_without_matplotlib(
    tmp_path: Path, rank_command: RankCommand, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    path = write_csv(tmp_path / "r.csv", TABLE)
    code, _, err = rank_command("--results", path, "--plot", tmp_path / "bump.png")
    assert (code, err) == (2, "tinyinterp rank: error: --plot needs matplotlib (pip install matplotlib)\n")


def test_cli_plot_message_goes_to_stderr_after_json(tmp_path: Path, rank_command: RankCommand) -> None:
    import_required("matplotlib")
    path, png = write_csv(tmp_path / "r.csv", TABLE), tmp_path / "bump.png"
    code, out, err = rank_command("--results", path, "--json", "--plot", png)
    assert code == 0 and json.loads(out)["results"] == str(path) and err == f"plot: wrote {png}\n"
    code, out, err = rank_command("--results", path, "--plot", png)
    assert code == 0 and out.endswith(f"plot: wrote {png}\n") and err == ""


def test_cli_plot_draws_a_bump_chart_per_ranking(
    tmp_path: Path, rank_command: RankCommand, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, png = tmp_path / "r.csv", tmp_path / "bump.png"
    # closed latency: a and b on x and y (a panel); closed energy: x only, and open latency: c alone ran
    # both benchmarks (no panel for either: a bump needs two benchmarks and two systems)
    lines = [COLUMNS, "1.0,closed,o,a,x,NUCLEO-H7A3ZI-Q,1,10", "1.0,closed,o,b,x,NUCLEO-L4R5ZI,5,20"]
    lines += ["1.0,closed,o,a,y,NUCLEO-H7A3ZI-Q,9,", "1.0,closed,o,b,y,NUCLEO-L4R5ZI,2,"]
    lines += ["1.0,open,o,c,x,B,1,", "1.0,open,o,c,y,B,1,", "1.0,open,o,d,x,B,2,"]
    path.write_text("\n".join(lines) + "\n")
    boards = "nucleo-l4r5zi,nucleo-h7a3zi-q"
    args = ("--results", path, "--top", "1", "--models", "zoo:ad", "--boards", boards, "--plot", png)
    figure, (code, _, _) = plotted_figure(monkeypatch, lambda: rank_command(*args))
    assert code == 0
    panels = [
        (
            ax.get_title(),
            [t.get_text() for t in ax.get_xticklabels()],
            [(line.get_label(), list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()],
            [t.get_text() for t in ax.get_legend().get_texts()],
        )
        for ax in figure.axes
    ]
    # ranks: a is first on x (1 < 5) and second on y (9 > 2); the H7 board is faster on zoo:ad than the L4,
    # uses less energy on it, and the published columns repeat the table's ranks of their boards
    assert panels == [
        (
            "closed division, latency: 2 systems",
            ["x", "y"],
            [
                ("1.0/a", [0, 1], [1, 2]),
                ("_child1", [0, 1], [2, 1]),
            ],  # --top 1: a (tied with b, first by name)
            ["1.0/a"],
        ),
        (
            "what-if, latency: boards on your models, then published",
            ["zoo:ad", "pub. x", "pub. y"],
            [("nucleo-l4r5zi", [0, 1, 2], [2, 2, 1]), ("nucleo-h7a3zi-q", [0, 1, 2], [1, 1, 2])],
            ["nucleo-l4r5zi", "nucleo-h7a3zi-q"],
        ),
        (
            "what-if, energy: boards on your models, then published",
            ["zoo:ad", "pub. x"],
            [("nucleo-l4r5zi", [0, 1], [2, 2]), ("nucleo-h7a3zi-q", [0, 1], [1, 1])],
            ["nucleo-l4r5zi", "nucleo-h7a3zi-q"],
        ),
    ]
    for ax in figure.axes:
        assert ax.get_ylabel() == "rank (1 = best)" and ax.yaxis_inverted()  # rank 1 on top
        assert all(line.get_marker() == "o" for line in ax.get_lines())
    # the systems that move most stand out, the others are thin grey lines
    named, other = figure.axes[0].get_lines()
    assert (named.get_lw(), named.get_alpha()) == (2, 1) and named.get_color() != "grey"
    assert (other.get_lw(), other.get_alpha(), other.get_color()) == (0.8, 0.3, "grey")
    # 10 inches wide, 5 per panel, at 120 dpi: the PNG's header holds width and height
    data = png.read_bytes()
    assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == (1200, 1800)


def test_cli_plot_with_top_0_names_every_system(
    tmp_path: Path, rank_command: RankCommand, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(tmp_path / "r.csv", TABLE)
    args = ("--results", path, "--metric", "latency", "--top", "0", "--plot", tmp_path / "b.png")
    figure, (code, _, _) = plotted_figure(monkeypatch, lambda: rank_command(*args))
    # --top 0: every ranked system (S1-S4; S5 lacks z) is named; TABLE's four movers in their order
    assert code == 0 and [t.get_text() for t in figure.axes[0].get_legend().get_texts()] == [
        "1.0/S1", "1.0/S2", "1.0/S3", "1.0/S4",
    ]  # fmt: skip


def test_cli_plot_skips_a_benchmark_a_board_has_no_result_for(
    tmp_path: Path, rank_command: RankCommand, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the G0 board has a published y result and none on x: its what-if line has no point above "pub. x"
    path = write_published(tmp_path / "r.csv")
    path.write_text(path.read_text() + "1.0,closed,o,e,y,NUCLEO-G0B1RE,3,\n")
    boards = "nucleo-l4r5zi,nucleo-g0b1re"
    png = tmp_path / "b.png"
    args = ("--results", path, "--metric", "latency", "--models", "zoo:ad", "--boards", boards, "--plot", png)
    figure, (code, _, _) = plotted_figure(monkeypatch, lambda: rank_command(*args))
    what_if_panel = figure.axes[-1]
    assert code == 0 and [t.get_text() for t in what_if_panel.get_xticklabels()] == [
        "zoo:ad",
        "pub. x",
        "pub. y",
    ]
    lines = {line.get_label(): list(line.get_xdata()) for line in what_if_panel.get_lines()}
    assert lines == {"nucleo-l4r5zi": [0, 1, 2], "nucleo-g0b1re": [0, 2]}


def test_what_if_and_results_refusals_word_for_word(tmp_path: Path) -> None:
    """The API's messages, whole: no model, a board named twice, a folder given as the results file, a zero
    latency (a figure must be positive)."""
    with pytest.raises(CostModelError, match=r"^the what-if needs at least one model$"):
        what_if([], [])
    with pytest.raises(CostModelError, match=r"^a board is named twice in nucleo-l4r5zi, nucleo-l4r5zi$"):
        what_if(["zoo:ad"], [], boards=["nucleo-l4r5zi", "nucleo-l4r5zi"])
    with pytest.raises(CostModelError, match=rf"^cannot read results {tmp_path}: Is a directory$"):
        read_results(tmp_path)
    zero = write_csv(tmp_path / "zero.csv", {"S1": {"x": 0.0}})
    with pytest.raises(
        CostModelError,
        match=rf"^{re.escape(str(zero))}: line 2: latency_ms must be positive and finite, got 0.0$",
    ):
        read_results(zero)


def test_what_if_on_the_stack_given_against_each_boards_best_published_result(tmp_path: Path) -> None:
    """Each estimated cell is estimate()'s figure on the stack asked for (uJ in the energy what-if, ms in
    the latency one); a published rank uses each board's best result of the division asked for, and rows of
    the other division or of a board with no profile are skipped wherever they are in the file. A board
    named twice is named as the user spelled it."""
    rows = [
        "1.0,open,o,z,x,NUCLEO-L4R5ZI,0.1,",  # the other division, first: skipped, not the end of the rows
        "1.0,closed,o,u,x,CUSTOM-BOARD,0.2,",  # no profile: skipped
        "1.0,closed,o,p,x,NUCLEO-L4R5ZI,3,",  # its best
        "1.0,closed,o,q,x,NUCLEO-L4R5ZI,5,",
        "1.0,closed,o,r,x,NUCLEO-H7A3ZI-Q,4,",
    ]
    path = tmp_path / "r.csv"
    path.write_text("\n".join([COLUMNS, *rows]) + "\n")
    boards = ["nucleo-l4r5zi", "nucleo-h7a3zi-q"]
    latency, energy = what_if(["zoo:ad"], read_results(path), boards, "tflm-reference")
    model = open_model("zoo:ad")
    totals = {b: estimate(model, profiles.board(b), stack="tflm-reference").totals for b in boards}
    assert latency.estimated == {"zoo:ad": {b: totals[b].latency_ms for b in boards}}
    assert energy.estimated == {"zoo:ad": {b: totals[b].energy_uj for b in boards}}
    assert latency.published == {"x": {"nucleo-l4r5zi": 1.0, "nucleo-h7a3zi-q": 2.0}}  # 3 ms before 4 ms
    with pytest.raises(CostModelError, match=r"^a board is named twice in NUCLEO-L4R5ZI, nucleo-l4r5zi$"):
        what_if(["zoo:ad"], [], boards=["NUCLEO-L4R5ZI", "nucleo-l4r5zi"])
