"""Where the reference models and datasets are found, and `models download` from their upstream URLs.

Models are looked up in `--models-dir` when given, else in the cache (`$TINYINTERP_CACHE`, else
`$XDG_CACHE_HOME/tinyinterp`, else `~/.cache/tinyinterp`, under `models/`) and then in
`$TINYINTERP_DATA/models`. Datasets (the runner's folders, `<dir>/<benchmark>/*.bin` + `y_labels.csv`;
sww01: test json files and their wavs) in
`--datasets-dir` when given, else `$TINYINTERP_DATA/datasets`, else the cache's `datasets/`.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tinyinterp.cache import cache_dir
from tinyinterp.suite.benchmarks import BENCHMARKS

UPSTREAM = "https://github.com/mlcommons/tiny/raw/master/benchmark/training"
MD5 = {b.model_file: b.md5 for b in BENCHMARKS.values()}  # of each published reference model, by file
MAX_MODEL_BYTES = 16 * 1024 * 1024  # the largest reference model is 333 KB
TIMEOUT_S = 60
HOW_TO_GET_DATA = """\
Real models: `tinyinterp models download` fetches the reference models (checked by MD5) into {cache},
  or give --models-dir DIR, or set TINYINTERP_DATA to a folder with models/.
Datasets (accuracy mode): the EEMBC / MLPerf Tiny runner's dataset folders, DIR/<benchmark>/*.bin with
  y_labels.csv (ic01, kws01, vww01, ad01); for sww01, DIR/sww01/ with the runner's test json files
  (sww_*_test.json) and their 2-channel 16 kHz wavs (benchmark/runner/sww_data_dir and sd_card).
  Build them with the scripts of each benchmark in mlcommons/tiny benchmark/training/ (see
  benchmark/evaluation/datasets/README.md), or copy them from an EEMBC runner install
  (~/eembc/runner/benchmarks/ulp-mlperf/datasets); then give --datasets-dir DIR or put them in
  $TINYINTERP_DATA/datasets."""


def _data_dir() -> Path | None:
    configured = os.environ.get("TINYINTERP_DATA")
    return Path(configured) if configured else None


def model_dirs(models_dir: Path | None = None) -> list[Path]:
    if models_dir is not None:
        return [models_dir]
    data = _data_dir()
    return [cache_dir() / "models"] + ([data / "models"] if data else [])


def dataset_dirs(datasets_dir: Path | None = None) -> list[Path]:
    if datasets_dir is not None:
        return [datasets_dir]
    data = _data_dir()
    return ([data / "datasets"] if data else []) + [cache_dir() / "datasets"]


def find_model(benchmark: str, models_dir: Path | None = None) -> Path | None:
    name = BENCHMARKS[benchmark].model_file
    return next((d / name for d in model_dirs(models_dir) if (d / name).is_file()), None)


def find_dataset(benchmark: str, datasets_dir: Path | None = None) -> Path | None:
    """The benchmark's folder: with a label file, or for a streaming benchmark with a test json."""
    streaming = BENCHMARKS[benchmark].streaming

    def is_dataset(folder: Path) -> bool:
        if streaming:
            return folder.is_dir() and any(folder.glob("*.json"))
        return (folder / "y_labels.csv").is_file() or (folder / "Y_labels.csv").is_file()

    return next((d / benchmark for d in dataset_dirs(datasets_dir) if is_dataset(d / benchmark)), None)


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Download:
    benchmark: str
    path: Path
    status: str  # "downloaded", "present" or "failed"
    detail: str = ""


def model_url(benchmark: str, base: str = UPSTREAM) -> str:
    """`<base>/<training dir>/trained_models/<file>`; a local folder as `base` is read through file://."""
    if "://" not in base:
        base = Path(base).resolve().as_uri()
    spec = BENCHMARKS[benchmark]
    return f"{base.rstrip('/')}/{spec.upstream_dir}/trained_models/{spec.model_file}"


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        data = response.read(MAX_MODEL_BYTES + 1)
    if len(data) > MAX_MODEL_BYTES:
        raise ValueError(f"larger than {MAX_MODEL_BYTES} bytes, not a reference model")
    return data


def download_model(benchmark: str, dest: Path, base: str = UPSTREAM, force: bool = False) -> Download:
    """Fetch a reference model into `dest` unless a copy with the right MD5 is there; never keep a bad one."""
    name = BENCHMARKS[benchmark].model_file
    target, expected = dest / name, MD5[name]
    if not force and target.is_file() and md5_of(target) == expected:
        return Download(benchmark, target, "present")
    url = model_url(benchmark, base)
    try:
        data = _fetch(url)
    except (urllib.error.URLError, OSError, ValueError) as error:
        return Download(benchmark, target, "failed", f"{url}: {getattr(error, 'reason', error)}")
    actual = hashlib.md5(data).hexdigest()
    if actual != expected:
        return Download(benchmark, target, "failed", f"{url}: MD5 {actual}, expected {expected}; not saved")
    dest.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(data)
    partial.replace(target)
    return Download(benchmark, target, "downloaded", url)


def download_models(
    benchmarks: Iterable[str], dest: Path, base: str = UPSTREAM, force: bool = False
) -> list[Download]:
    return [download_model(b, dest, base, force) for b in benchmarks]
