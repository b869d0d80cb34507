"""Shared fixtures. `data_dir` is the MLPerf Tiny reference material (models, datasets).

It is found through the TINYINTERP_DATA environment variable, else at ../shared/mlperf-tiny
relative to the project root. Tests that need it are skipped when it is missing, and the run ends
with one line saying how many did not run and why; on CI (CI=true) a missing data directory fails.

Hypothesis profiles (HYPOTHESIS_PROFILE, or --hypothesis-profile): `ci`, the default, is derandomised
(the same examples on every run, so a pass or a failure repeats); `thorough` draws 100 times as many,
randomly. TINYINTERP_THOROUGH=1 selects `thorough` and the slow tests (10,000 random inputs per model):
the scheduled run described in docs/testing.md.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pytest
from hypothesis import settings

from tinyinterp.suite.benchmarks import BENCHMARKS

T = TypeVar("T")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# mutmut (CONTRIBUTING.md, "Mutation testing") runs the tests in a copy of the project, <checkout>/mutants/.
UNDER_MUTMUT = PROJECT_ROOT.name == "mutants"
CHECKOUT = PROJECT_ROOT.parent if UNDER_MUTMUT else PROJECT_ROOT
if UNDER_MUTMUT:  # the processes tests start (the CLI, the DUT) must import the mutated copy too
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])
    )
REFERENCE_MODELS = tuple(sorted(b.model_file for b in BENCHMARKS.values()))


def _data_dir() -> Path:
    configured = os.environ.get("TINYINTERP_DATA")
    return Path(configured) if configured else CHECKOUT.parent / "shared" / "mlperf-tiny"


MISSING_DATA = "MLPerf Tiny reference data not found at {} (set TINYINTERP_DATA; README, Data)"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = _data_dir()
    if not (path / "models").is_dir():
        message = MISSING_DATA.format(path)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Iterator[None]:
    """A closing line (after pytest's own summary) when tests did not run for want of the reference
    data, so that a green run without it does not pass for a full one."""
    yield
    message = MISSING_DATA.format(_data_dir())
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if message in str(r.longrepr)]
    if skipped:
        count = f"{len(skipped)} test{'s' * (len(skipped) != 1)}"
        terminalreporter.write_line(f"{count} did not run: {message}", yellow=True, bold=True)


@pytest.fixture(scope="session", params=REFERENCE_MODELS)
def reference_model(request: pytest.FixtureRequest, data_dir: Path) -> Path:
    """Each reference model's path in turn."""
    return data_dir / "models" / request.param


@pytest.fixture(scope="session")
def reference_bytes(data_dir: Path) -> dict[str, bytes]:
    """The bytes of every reference model, by file name."""
    return {name: (data_dir / "models" / name).read_bytes() for name in REFERENCE_MODELS}


def import_required(module: str) -> ModuleType:
    """Import a module the tests need (the TFLM oracle, matplotlib): skipped when not installed,
    except on CI (CI=true), where a missing one is a failure."""
    if os.environ.get("CI") == "true":
        return importlib.import_module(module)
    return pytest.importorskip(module)


@pytest.fixture(scope="session")
def tflm() -> ModuleType:
    """TFLM's Python runtime, the oracle of bit-exactness."""
    return import_required("tflite_micro.python.tflite_micro.runtime")


THOROUGH = os.environ.get("TINYINTERP_THOROUGH") == "1"
settings.register_profile("ci", max_examples=100, deadline=None, print_blob=True, derandomize=True)
settings.register_profile("thorough", max_examples=10_000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "thorough" if THOROUGH else "ci"))


def pytest_configure(config: pytest.Config) -> None:
    if THOROUGH and config.option.markexpr == "not slow and not fuzz":  # pyproject's default selection
        config.option.markexpr = "not fuzz"


def examples(share: float) -> int:
    """A test's number of hypothesis examples: `share` of the loaded profile's (so the thorough
    profile scales every test), at least 5."""
    return max(5, round(settings().max_examples * share))


def conv_softmax_model() -> bytes:
    """A small int8 CONV_2D (per-channel) + SOFTMAX model, the seed of the malformed-model and fuzz tests."""
    import numpy as np

    from tinyinterp.model import ModelBuilder

    rng = np.random.default_rng(0)
    b = ModelBuilder()
    x = b.input("x", (1, 8, 8, 3), "int8", scale=0.05, zero_point=-3)
    w = b.constant("w", rng.integers(-127, 128, (4, 3, 3, 3), dtype=np.int8), scale=[0.01, 0.02, 0.03, 0.04])
    bias = b.constant("b", np.zeros(4, np.int32), scale=[0.0005, 0.001, 0.0015, 0.002])
    y = b.tensor("y", (1, 6, 6, 4), "int8", scale=0.1, zero_point=2)
    z = b.tensor("z", (1, 6, 6, 4), "int8", scale=1 / 256, zero_point=-128)
    b.op("CONV_2D", [x, w, bias], [y], padding="VALID", stride_w=1, stride_h=1)
    b.op("SOFTMAX", [y], [z], beta=1.0)
    b.output(z)
    return b.build_bytes()


def script(relative_path: str) -> ModuleType:
    """A tool of the repository that is not part of the package (bench/, tools/), loaded as a module."""
    path = PROJECT_ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def plotted_figure(monkeypatch: pytest.MonkeyPatch, draw: Callable[[], T]) -> tuple[Any, T]:
    """The one figure `draw()` makes, kept open (plots close theirs once saved), and what `draw` returned."""
    import_required("matplotlib")
    import matplotlib.pyplot as plt

    figures: list[Any] = []
    monkeypatch.setattr(
        plt, "close", lambda figure=None: figures.append(plt.gcf() if figure is None else figure)
    )
    drawn = draw()
    (figure,) = figures
    return figure, drawn
