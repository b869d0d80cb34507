"""`tinyinterp suite` on a fresh install (stand-ins), the results folder's formats, and `models download`."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from tinyinterp.cli import main
from tinyinterp.suite.datasets import BENCHMARKS
from tinyinterp.suite.models import MD5

# The official tools' regular expressions (mlcommons/tiny tools/submission/submission_checker.py).
THROUGHPUT = r".* Median throughput is\s+([\d\.]+) inf\./sec\..*"  # re.match
ENERGY = r"Median energy cost is ([\d\.]+) uJ/inf"  # re.search
TOP1 = r".* Top[- ]1%?\s?[:=] ([\d\.]+).*"  # re.match
AUC = r".* AUC\s?[:=] ([\d\.]+).*"  # re.match
SUMMARY_ROW = re.compile(
    r"│ (\w+)\s+│ (\S[^│]*?)\s+│ (\S[^│]*?)\s+│\s+([\d.]+|-) │\s+([\d.]+|-) │\s+([\d.]+|-) │"
)


def official_number(path: Path, pattern: str, search: bool = False) -> float:
    """The last value the official regex finds in a results.txt, as the checker reads it."""
    values = []
    for line in path.read_text().splitlines():
        match = re.search(pattern, line) if search else re.match(pattern, line)
        if match:
            values.append(float(match.group(1)))
    assert values, f"{path}: no line matches {pattern}"
    return values[-1]


@pytest.fixture
def fresh_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No models or datasets anywhere: an empty cache and no TINYINTERP_DATA."""
    monkeypatch.delenv("TINYINTERP_DATA", raising=False)
    monkeypatch.setenv("TINYINTERP_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def summary_rows(out: str) -> dict[str, tuple[str, ...]]:
    return {m.group(1): m.groups()[1:] for m in SUMMARY_ROW.finditer(out)}


def test_fresh_install_runs_performance_and_energy_on_stand_ins(
    fresh_install: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["suite"]) == 0
    out = capsys.readouterr().out
    rows = summary_rows(out)
    assert sorted(rows) == ["ad01", "ic01", "kws01", "vww01"]
    assert all(row[0] == "stand-in" and row[1] == "needs the real model" for row in rows.values())
    assert "tinyinterp models download" in out and "--datasets-dir" in out
    system = next((fresh_install / "tinyinterp-results" / "results").iterdir())
    for benchmark, (_, _, _, throughput, energy) in rows.items():
        folder = system / benchmark[:-2]  # the submission layout's ic, kws, vww, ad
        assert not (folder / "accuracy").exists()
        assert official_number(folder / "performance" / "results.txt", THROUGHPUT) == pytest.approx(
            float(throughput), abs=1e-3
        )
        assert official_number(folder / "energy" / "results.txt", ENERGY, search=True) == pytest.approx(
            float(energy), abs=0.06
        )
        log = (folder / "performance" / "log.txt").read_text()
        assert "stand-in model (random weights)" in log and "emulated run, no hardware" in log
        records = json.loads((folder / "performance" / "results.json").read_text())
        assert len(records) == 5 and all(r["infer"]["elapsed_time"] > 10_000_000 for r in records)
        assert all(r["infer"]["iterations"] >= 10 for r in records)


def test_unknown_benchmark_and_board_are_usage_errors(
    fresh_install: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["suite", "--benchmarks", "ic01,sww01"]) == 2
    assert "unknown benchmark(s) sww01" in capsys.readouterr().err
    assert main(["suite", "--board", "no-such-board", "--mode", "performance"]) == 2
    assert "no-such-board" in capsys.readouterr().err


def test_a_generic_core_at_a_given_clock(fresh_install: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["suite", "--benchmarks", "ad01", "--mode", "performance", "--core", "cortex-m4", "--out", "m4"]
    assert main([*args, "--mhz", "80"]) == 0
    slow = float(summary_rows(capsys.readouterr().out)["ad01"][3])
    assert main([*args, "--mhz", "160"]) == 0
    fast = float(summary_rows(capsys.readouterr().out)["ad01"][3])
    assert fast == pytest.approx(2 * slow, rel=0.05)


def fake_upstream(root: Path, models: dict[str, bytes]) -> Path:
    """A local folder laid out like github.com/mlcommons/tiny/raw/master/benchmark/training."""
    for benchmark, data in models.items():
        spec = BENCHMARKS[benchmark]
        folder = root / spec.upstream_dir / "trained_models"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / spec.model_file).write_bytes(data)
    return root


def test_download_refuses_a_file_with_the_wrong_md5(
    fresh_install: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream = fake_upstream(fresh_install / "upstream", {"kws01": b"not the model"})
    assert main(["models", "download", "--benchmarks", "kws01", "--from", str(upstream)]) == 1
    out = capsys.readouterr().out
    assert "failed" in out and f"expected {MD5['kws_ref_model.tflite']}" in out
    assert not (fresh_install / "cache" / "models" / "kws_ref_model.tflite").exists()
    assert main(["models", "download", "--benchmarks", "ic01", "--from", str(fresh_install / "nowhere")]) == 1
    assert "failed" in capsys.readouterr().out


def test_download_from_a_local_upstream_then_the_suite_finds_the_models(
    fresh_install: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = {b: (data_dir / "models" / BENCHMARKS[b].model_file).read_bytes() for b in ("kws01", "ad01")}
    upstream = fake_upstream(fresh_install / "upstream", models)
    args = ["models", "download", "--benchmarks", "kws01,ad01", "--from", str(upstream)]
    assert main(args) == 0
    assert capsys.readouterr().out.count("downloaded") == 2
    for benchmark in ("kws01", "ad01"):
        name = BENCHMARKS[benchmark].model_file
        assert hashlib.md5((fresh_install / "cache" / "models" / name).read_bytes()).hexdigest() == MD5[name]
    shutil.rmtree(upstream)  # a second download finds good copies and fetches nothing
    assert main(args) == 0
    assert capsys.readouterr().out.count("present") == 2
    assert main(["models", "list", "--benchmarks", "kws01,ic01"]) == 0
    listing = capsys.readouterr().out
    assert re.search(r"kws01\s+kws_ref_model.tflite\s+ok", listing) and re.search(
        r"ic01\s+\S+\s+missing", listing
    )
    assert main(["suite", "--benchmarks", "kws01,ic01", "--mode", "performance"]) == 0
    rows = summary_rows(capsys.readouterr().out)
    assert rows["kws01"][0] == "reference" and rows["ic01"][0] == "stand-in"
