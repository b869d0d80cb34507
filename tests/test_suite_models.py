"""`download_model` field by field, on a local upstream laid out like mlcommons/tiny's training folder."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
from test_suite_cli import fake_upstream

from tinyinterp.cli import main
from tinyinterp.suite import models
from tinyinterp.suite.models import (
    MD5,
    Download,
    download_model,
    download_models,
    find_dataset,
    find_model,
    model_url,
)

KWS = "kws_ref_model.tflite"


@pytest.fixture
def kws_bytes(data_dir: Path) -> bytes:
    return (data_dir / "models" / KWS).read_bytes()


def test_model_urls() -> None:
    upstream = "https://example.org/tiny/benchmark/training/"
    assert model_url("kws01", upstream) == f"{upstream}keyword_spotting/trained_models/{KWS}"
    assert model_url("kws01", "/up") == f"file:///up/keyword_spotting/trained_models/{KWS}"
    assert model_url("kws01", "https://h/X/") == f"https://h/X/keyword_spotting/trained_models/{KWS}"


def test_download_present_and_forced(kws_bytes: bytes, tmp_path: Path) -> None:
    upstream = fake_upstream(tmp_path / "up", {"kws01": kws_bytes})
    dest, url = tmp_path / "dest", model_url("kws01", str(tmp_path / "up"))
    assert download_model("kws01", dest, str(upstream)) == Download("kws01", dest / KWS, "downloaded", url)
    assert (dest / KWS).read_bytes() == kws_bytes and not (dest / f"{KWS}.part").exists()
    assert download_model("kws01", dest, str(upstream)) == Download("kws01", dest / KWS, "present")
    assert download_models(["kws01"], dest, str(upstream)) == [Download("kws01", dest / KWS, "present")]
    assert download_models(["kws01"], dest, str(upstream), force=True) == [
        Download("kws01", dest / KWS, "downloaded", url)
    ]


def test_download_failures_say_why(kws_bytes: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "dest"
    missing = model_url("kws01", str(tmp_path / "none"))
    assert download_model("kws01", dest, str(tmp_path / "none")) == Download(
        "kws01",
        dest / KWS,
        "failed",
        f"{missing}: [Errno 2] No such file or directory: '{tmp_path / 'none'}"
        f"/keyword_spotting/trained_models/{KWS}'",
    )
    wrong = fake_upstream(tmp_path / "wrong", {"kws01": b"not the model"})
    url = model_url("kws01", str(wrong))
    actual = hashlib.md5(b"not the model").hexdigest()
    assert download_model("kws01", dest, str(wrong)) == Download(
        "kws01", dest / KWS, "failed", f"{url}: MD5 {actual}, expected {MD5[KWS]}; not saved"
    )
    monkeypatch.setattr(models, "MAX_MODEL_BYTES", len(kws_bytes) - 1)
    big = fake_upstream(tmp_path / "big", {"kws01": kws_bytes})
    assert download_model("kws01", dest, str(big)).detail.endswith(
        f": larger than {len(kws_bytes) - 1} bytes, not a reference model"
    )
    monkeypatch.setattr(models, "MAX_MODEL_BYTES", len(kws_bytes))
    assert download_model("kws01", dest, str(big)).status == "downloaded"  # exactly the limit is fine


def test_a_server_that_never_answers_fails_the_download_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that takes the connection but never replies: the download fails once TIMEOUT_S has passed
    (here 0.2 s), it does not wait forever."""
    monkeypatch.setattr(models, "TIMEOUT_S", 0.2)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # the kernel completes the connection; nobody reads the request or answers
        base = f"http://127.0.0.1:{silent.getsockname()[1]}/tiny"
        download = download_model("kws01", tmp_path, base)
    assert download.status == "failed" and "timed out" in download.detail


def test_tinyinterp_data_is_a_place_models_are_found(
    kws_bytes: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README: set TINYINTERP_DATA to a folder with models/ (the cache is empty here)."""
    monkeypatch.setenv("TINYINTERP_CACHE", str(tmp_path / "cache"))
    (tmp_path / "data" / "models").mkdir(parents=True)
    (tmp_path / "data" / "models" / KWS).write_bytes(kws_bytes)
    monkeypatch.setenv("TINYINTERP_DATA", str(tmp_path / "data"))
    assert find_model("kws01") == tmp_path / "data" / "models" / KWS
    monkeypatch.delenv("TINYINTERP_DATA")
    assert find_model("kws01") is None


def test_datasets_are_found_under_tinyinterp_data_and_in_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dataset folder is DIR/<benchmark>/ with the runner's y_labels.csv (or Y_labels.csv, as some runner
    installs spell it), looked for in $TINYINTERP_DATA/datasets, then in the cache's datasets/."""
    monkeypatch.setenv("TINYINTERP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TINYINTERP_DATA", str(tmp_path / "data"))
    (tmp_path / "data" / "datasets" / "kws01").mkdir(parents=True)
    (tmp_path / "data" / "datasets" / "kws01" / "y_labels.csv").write_text("a.bin,12,3\n")
    (tmp_path / "cache" / "datasets" / "ic01").mkdir(parents=True)
    (tmp_path / "cache" / "datasets" / "ic01" / "Y_labels.csv").write_text("a.bin,10,3\n")
    assert find_dataset("kws01") == tmp_path / "data" / "datasets" / "kws01"
    assert find_dataset("ic01") == tmp_path / "cache" / "datasets" / "ic01"
    assert find_dataset("vww01") is None


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_models_list_by_hand(kws_bytes: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / KWS).write_bytes(kws_bytes)
    (tmp_path / "vww_96_int8.tflite").write_bytes(b"edited")
    code, out, _ = cli(capsys, "models", "list", "--dir", str(tmp_path), "--benchmarks", "kws01,vww01,ad01")
    assert code == 0
    assert out.splitlines() == [
        f"looked up in: {tmp_path}",
        f"kws01  kws_ref_model.tflite           ok          {tmp_path / KWS}",
        f"vww01  vww_96_int8.tflite             MD5 differs {tmp_path / 'vww_96_int8.tflite'}",
        "ad01   ad01_int8.tflite               missing     ",
    ]


def test_models_download_by_hand(
    kws_bytes: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream = fake_upstream(tmp_path / "up", {"kws01": kws_bytes, "ad01": b"not the model"})
    dest = tmp_path / "dest"
    code, out, _ = cli(
        capsys,
        "models",
        "download",
        "--dir",
        str(dest),
        "--from",
        str(upstream),
        "--benchmarks",
        "kws01,ad01",
    )
    ad01 = hashlib.md5(b"not the model").hexdigest()
    assert code == 1
    assert out.splitlines() == [
        f"kws01  downloaded {dest / KWS}",
        f"ad01   failed     {dest / 'ad01_int8.tflite'}  ({model_url('ad01', str(upstream))}: MD5 {ad01}, "
        f"expected {MD5['ad01_int8.tflite']}; not saved)",
    ]
    code, out, _ = cli(
        capsys, "models", "download", "--dir", str(dest), "--from", str(upstream), "--benchmarks", "kws01"
    )
    assert (code, out) == (0, f"kws01  present    {dest / KWS}\n")
    code, out, _ = cli(
        capsys,
        "models",
        "download",
        "--dir",
        str(dest),
        "--from",
        str(upstream),
        "--benchmarks",
        "kws01",
        "--force",
    )
    assert (code, out) == (0, f"kws01  downloaded {dest / KWS}\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("list", "--benchmarks", "kws01,xyz,abc"),
            "unknown benchmark(s) xyz, abc; choose from kws01, vww01, ic01, ad01, sww01",
        ),
        (
            ("list", "--from", "/up", "--force"),
            "--from and --force: for `models download`, not `models list`",
        ),
    ],
)
def test_models_command_refusals(
    args: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "models", *args)
    assert code == 2 and message in err
