"""What `pip install .` ships: every data file the package reads is in pyproject's package-data (an
editable install reads the source tree and would not notice one missing)."""

from __future__ import annotations

import fnmatch

from conftest import PROJECT_ROOT

from tinyinterp.cost.profiles import tomllib


def test_every_data_file_of_the_package_is_installed() -> None:
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["tinyinterp"]
    package = PROJECT_ROOT / "tinyinterp"
    data = [
        path.relative_to(package).as_posix()
        for path in package.rglob("*")
        if path.is_file() and path.suffix in (".json", ".toml", ".npz", ".csv", ".txt", ".bin")
    ]
    assert data, "no data files found: the test looks in the wrong place"
    missing = [name for name in data if not any(fnmatch.fnmatch(name, p) for p in patterns)]
    assert not missing, f"add to [tool.setuptools.package-data] in pyproject.toml: {missing}"
