"""`tinyinterp rank`: Kendall's tau-b, ranks, fragility and the what-if, on tables computed by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import import_required

import tinyinterp
from tinyinterp.cli import main
from tinyinterp.cost import profiles
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
