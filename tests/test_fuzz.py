"""Hostile models: whatever the file, tinyinterp answers with a result, ModelError or InputError.

Mutants of seed models (tinyinterp.testing.mutants) are loaded, allocated and run in sandboxed
worker processes (tinyinterp.testing.sandbox), so a crash, hang or memory blow-up fails one
mutant, not the test run. The default profile runs a few hundred mutants; the long campaign is
`pytest -m fuzz -n auto` (FUZZ_MUTANTS mutants in FUZZ_SHARDS shards, one per xdist worker;
`tools/fuzz_campaign.py` is the same with a grouped report and saved reproducers).
"""

from __future__ import annotations

import ctypes
import os
import random
import signal
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace

import numpy as np
import pytest
from conftest import conv_softmax_model, script
from hypothesis import given

from tinyinterp.errors import ModelError
from tinyinterp.model import ModelBuilder, load_model, save_model
from tinyinterp.testing.fuzzing import (
    Result,
    campaign,
    exercise,
    install_corpus,
    load_seconds,
    load_seeds,
    mutant_specs,
    summarize,
)
from tinyinterp.testing.mutants import MUTATORS, mutants, mutate, shared_table_model, structure_size
from tinyinterp.testing.sandbox import Limits, Sandbox

FAST_LIMITS = Limits(cpu_seconds=10, wall_seconds=60, memory_bytes=3 * 2**30)
LONG_MUTANTS = int(os.environ.get("FUZZ_MUTANTS", "20000"))
LONG_SHARDS = int(os.environ.get("FUZZ_SHARDS", "8"))
# Real models load at 0.01-0.2 s per MB; a file of shared tables may cost at most this.
MAX_SECONDS_PER_MB = 1.0


def _int16_fully_connected() -> bytes:
    rng = np.random.default_rng(1)
    b = ModelBuilder()
    x = b.input("x", (1, 16), "int16", scale=0.001, zero_point=0)
    w = b.constant("w", rng.integers(-127, 128, (8, 16), dtype=np.int8), scale=0.01)
    bias = b.constant("b", rng.integers(-1000, 1000, 8).astype(np.int64), scale=1e-5)
    y = b.tensor("y", (1, 8), "int16", scale=0.002, zero_point=0)
    b.op("FULLY_CONNECTED", [x, w, bias], [y])
    b.output(y)
    return b.build_bytes()


@pytest.fixture(scope="module")
def small_seeds() -> dict[str, bytes]:
    """Built models and the zoo stand-ins of the smaller reference models."""
    built = {"conv_softmax": conv_softmax_model(), "fc_int16": _int16_fully_connected()}
    return {**built, **load_seeds(["zoo:kws", "zoo:ad", "zoo:sww"])}


def _failures(results: list[Result]) -> str:
    """The failure groups, one line each with a reproducible example; empty if none."""
    lines = []
    for group in summarize(results):
        spec, first = group.results[0].spec, group.results[0]
        lines.append(f"{len(group.results)} x {group.key}: {first.message} (e.g. {spec})")
    return "\n".join(lines)


def _assert_no_escape(corpus: Mapping[str, bytes], count: int, seed: int, jobs: int = 2) -> None:
    results = list(campaign(corpus, mutant_specs(corpus, count, seed), jobs, FAST_LIMITS))
    assert len(results) == count
    report = _failures(results)
    assert not report, f"mutants escaped ModelError/InputError:\n{report}"


# ---- the mutators --------------------------------------------------------------------------


@pytest.mark.parametrize("mutator", MUTATORS)
def test_mutants_are_reproducible_and_differ(mutator: str) -> None:
    seed, donor = conv_softmax_model(), _int16_fully_connected()
    made = [mutate(seed, mutator, n, donor) for n in range(10)]
    assert made == [mutate(seed, mutator, n, donor) for n in range(10)]
    assert sum(m != seed for m in made) >= 5


def test_save_model_without_validation_writes_what_the_reader_refuses() -> None:
    model = load_model(conv_softmax_model())
    bad = replace(model.main.operators[0], inputs=(0, 1, 99))
    hostile = replace(model, subgraphs=(replace(model.main, operators=(bad, *model.main.operators[1:])),))
    with pytest.raises(ModelError, match="cannot write an invalid model"):
        save_model(hostile)
    with pytest.raises(ModelError, match=r"operator 0 \(CONV_2D\) inputs\[2\]: tensor index 99 out of range"):
        load_model(save_model(hostile, validate=False))


def test_byte_mutators_target_the_tables() -> None:
    """Most bit flips land in the flatbuffer tables, not in the weights (most of a model's bytes)."""
    seed = load_seeds(["zoo:kws"])["zoo-kws"]
    tables = structure_size(seed)
    assert 0 < tables < len(seed) // 2
    original = np.frombuffer(seed, np.uint8)
    first_changes = [
        np.flatnonzero(np.frombuffer(mutate(seed, "bit_flips", n), np.uint8) != original).min()
        for n in range(50)
    ]
    assert sum(position < tables for position in first_changes) >= 30


# ---- the sandbox ---------------------------------------------------------------------------


def test_sandbox_survives_and_names_each_failure() -> None:
    jobs = [
        (load_model, b"not a model"),
        (int, "x"),
        (bytearray, 8 * 2**30),
        (ctypes.string_at, 0),
        (sum, range(10**12)),
        (len, b"after all that"),
    ]
    limits = Limits(cpu_seconds=1, wall_seconds=60, memory_bytes=2**30)
    with Sandbox(1, limits) as sandbox:
        outcomes = [sandbox.run(target, payload) for target, payload in jobs]
    model_error, escape, memory, crash, spin, last = outcomes
    assert (model_error.kind, model_error.exception) == ("raised", "ModelError")
    assert model_error.site.startswith("tinyinterp/model/reader.py:")
    assert (escape.kind, escape.exception) == ("raised", "ValueError")
    assert (memory.kind, crash.kind, spin.kind) == ("memory", "crash", "timeout")
    assert signal.SIGSEGV.name in crash.message
    assert "CPU time" in spin.message
    assert "sandbox.py" not in escape.site + crash.site  # the sandbox's own frames are no site
    assert (last.kind, last.value) == ("returned", 14)


def test_sandbox_wall_clock_limit() -> None:
    with Sandbox(1, Limits(wall_seconds=2)) as sandbox:
        outcome = sandbox.run(time.sleep, 60)
    assert (outcome.kind, outcome.message) == ("timeout", "more than 2 s")


def test_sandbox_map_runs_every_job_once() -> None:
    with Sandbox(2, Limits(cpu_seconds=5)) as sandbox:
        results = {position: outcome.value for position, outcome in sandbox.map(abs, range(-20, 0))}
    assert results == {i: 20 - i for i in range(20)}


# ---- the property --------------------------------------------------------------------------


def test_seeds_run(small_seeds: dict[str, bytes]) -> None:
    for name, data in small_seeds.items():
        assert exercise(data) == "ok", name


def test_mutants_of_small_models(small_seeds: dict[str, bytes]) -> None:
    _assert_no_escape(small_seeds, 300, seed=1)


def test_mutants_of_reference_models(reference_bytes: dict[str, bytes]) -> None:
    corpus = {name.removesuffix(".tflite"): data for name, data in reference_bytes.items()}
    _assert_no_escape(corpus, 100, seed=2)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(1, FAST_LIMITS, install_corpus, ({},)) as pool:
        yield pool


# As many examples as the hypothesis profile says (ci: 100, thorough: 10,000).
@given(data=mutants([conv_softmax_model(), _int16_fully_connected()]))
def test_hypothesis_mutants(sandbox: Sandbox, data: bytes) -> None:
    outcome = sandbox.run(exercise, data)
    assert outcome.kind == "returned", outcome


@pytest.mark.parametrize(("shared", "payload"), [("operators", 1000), ("operators", 1), ("tensors", 16)])
def test_shared_tables_load_in_linear_time(shared: str, payload: int) -> None:
    """A file whose vector repeats one table offset must not make the reader do work per entry out of
    proportion to the 4 bytes each costs (the issue saw 1M shared tables)."""
    data = shared_table_model(4000, payload, shared)
    with Sandbox(1, Limits(cpu_seconds=20, wall_seconds=60)) as pool:
        outcome = pool.run(load_seconds, data)
    assert outcome.kind == "returned", outcome
    size, seconds = len(data), outcome.value
    limit = 0.05 + MAX_SECONDS_PER_MB * size / 2**20
    assert seconds <= limit, (
        f"{size} bytes of {shared} sharing one table load in {seconds:.2f} s > {limit:.2f} s"
    )


# ---- the long campaign ---------------------------------------------------------------------


@pytest.mark.fuzz
@pytest.mark.parametrize("shard", range(LONG_SHARDS))
def test_campaign(shard: int, reference_bytes: dict[str, bytes], small_seeds: dict[str, bytes]) -> None:
    corpus = {**reference_bytes, **small_seeds, **load_seeds(["zoo:all", "ops:1"])}
    count = LONG_MUTANTS // LONG_SHARDS
    _assert_no_escape(corpus, count, seed=random.Random(shard).randrange(2**32), jobs=1)


def test_an_error_the_interpreter_wraps_is_still_an_escape(monkeypatch: pytest.MonkeyPatch) -> None:
    """Interpreter names the operator of any failure inside an op (a ModelError, original chained);
    the fuzzer must still see the original, or the campaign would hide missing checks."""
    from tinyinterp.ops import OPS

    def broken(self: object, inputs: object) -> list:
        raise ZeroDivisionError("a check is missing")

    builder = ModelBuilder()
    x = builder.input("x", (1, 4), "float32")
    y = builder.tensor("y", (1, 4), "float32")
    builder.op("RELU", [x], [y])
    builder.output(y)
    monkeypatch.setattr(OPS["RELU"], "__call__", broken)
    with pytest.raises(ZeroDivisionError, match="a check is missing"):
        exercise(save_model(builder.build()))


def test_batched_jobs_give_each_mutant_its_own_result(small_seeds: dict[str, bytes]) -> None:
    """Mutants run several to a sandboxed job: the same outcome per mutant as one per job."""
    specs = list(mutant_specs(small_seeds, 30, seed=7))
    single = {r.spec: (r.kind, r.group) for r in campaign(small_seeds, specs, 2, FAST_LIMITS)}
    batched = {r.spec: (r.kind, r.group) for r in campaign(small_seeds, specs, 2, FAST_LIMITS, batch=7)}
    assert batched == single and len(batched) == len(specs)


def test_the_campaign_command_reports_every_run(tmp_path) -> None:
    import json

    tool = script("tools/fuzz_campaign.py")
    out = tmp_path / "report.json"
    args = [
        "--mutants",
        "40",
        "--seeds",
        "zoo:ad",
        "zoo:kws",
        "--jobs",
        "1",
        "--batch",
        "7",
        "--out",
        str(out),
    ]
    assert tool.main(args) == 0
    report = json.loads(out.read_text())
    assert report["mutants"] == 42 and sum(report["outcomes"].values()) == 42 and report["groups"] == []
