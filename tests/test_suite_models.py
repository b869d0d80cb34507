"""`download_model` field by field, on a local upstream laid out like mlcommons/tiny's training folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from test_suite_cli import fake_upstream

from tinyinterp.suite import models
from tinyinterp.suite.models import MD5, Download, download_model, download_models, model_url

KWS = "kws_ref_model.tflite"


@pytest.fixture
def kws_bytes(data_dir: Path) -> bytes:
    return (data_dir / "models" / KWS).read_bytes()


def test_model_urls() -> None:
    upstream = "https://example.org/tiny/benchmark/training/"
    assert model_url("kws01", upstream) == f"{upstream}keyword_spotting/trained_models/{KWS}"
    assert model_url("kws01", "/up") == f"file:///up/keyword_spotting/trained_models/{KWS}"


def test_download_present_and_forced(kws_bytes: bytes, tmp_path: Path) -> None:
    upstream = fake_upstream(tmp_path / "up", {"kws01": kws_bytes})
    dest, url = tmp_path / "dest", model_url("kws01", str(tmp_path / "up"))
    assert download_model("kws01", dest, str(upstream)) == Download("kws01", dest / KWS, "downloaded", url)
    assert (dest / KWS).read_bytes() == kws_bytes and not (dest / f"{KWS}.part").exists()
    assert download_model("kws01", dest, str(upstream)) == Download("kws01", dest / KWS, "present")
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
