"""Fuzzing the whole pipeline: mutants of seed models loaded, allocated and run in a `Sandbox`.

The property: whatever the file, tinyinterp answers with a result, `ModelError` or `InputError`;
never another exception (an *escape*), a crash, a hang or a memory blow-up. `exercise()` is one
trial (load, allocate_tensors, set random inputs, invoke, and `Interpreter.run` on a small
batch); `campaign()` runs many mutants (`MutantSpec`: seed model, mutator, seed) and
`summarize()` groups the failures by where they were raised.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
from hypothesis import given, settings
from hypothesis.strategies import SearchStrategy

from tinyinterp.errors import InputError, ModelError, TinyInterpError
from tinyinterp.interpreter import Interpreter, batch_shape
from tinyinterp.model import load_model, save_model
from tinyinterp.testing.mutants import MUTATORS, mutate, shared_table_model
from tinyinterp.testing.sandbox import Limits, Outcome, Sandbox, run_job
from tinyinterp.testing.vectors import random_inputs
from tinyinterp.zoo import NAMES, ZOO_PREFIX, stand_in

BATCH = 3  # items of the batched run
MAX_INPUT_ELEMENTS = 2**22  # larger inputs are not generated: the model is only loaded and allocated
FINE = ("ok", "model_error", "input_error", "unwritable", "input_too_large")
SEED_LIMITS = Limits(cpu_seconds=120, wall_seconds=600)
UNMUTATED = "none"  # the mutator name of a seed model run as it is
OPS_PREFIX = "ops:"  # a seed source "ops:N": N single-op models per (op, dtype) of the strategies

T = TypeVar("T")
_corpus: dict[str, bytes] = {}  # the seed models, in each worker


@dataclass(frozen=True)
class MutantSpec:
    """A mutant, reproducible: `mutate(corpus[seed], mutator, rng_seed, corpus[donor])`."""

    seed: str
    mutator: str
    rng_seed: int
    donor: str | None = None

    def build(self, corpus: Mapping[str, bytes]) -> bytes:
        if self.mutator == UNMUTATED:
            return corpus[self.seed]
        return mutate(corpus[self.seed], self.mutator, self.rng_seed, corpus.get(self.donor or ""))


@dataclass(frozen=True)
class Result:
    spec: MutantSpec
    kind: str  # one of FINE, or escape, memory, crash, timeout
    exception: str = ""
    message: str = ""
    site: str = ""

    @property
    def fine(self) -> bool:
        return self.kind in FINE

    @property
    def group(self) -> str:
        """What identifies a distinct bug: the failure kind, exception type and raise site."""
        return " ".join(part for part in (self.kind, self.exception, self.site) if part)


# ---- one trial (in a worker) ---------------------------------------------------------------


def _random_input(shape: tuple[int, ...], dtype: np.dtype, count: int, seed: int) -> np.ndarray:
    if np.issubdtype(dtype, np.inexact):
        return np.random.default_rng(seed).standard_normal((count, *shape)).astype(dtype)
    return random_inputs(shape, count, dtype, seed)


def exercise(data: bytes) -> str:
    """Load, allocate, invoke with random inputs, then run a batch: "ok", "model_error",
    "input_error" or "input_too_large"; any other exception propagates (an escape)."""
    try:
        interpreter = Interpreter(model_content=data)
        interpreter.allocate_tensors()
        inputs = [
            (detail["index"], tuple(int(d) for d in detail["shape"]), np.dtype(detail["dtype"]))
            for detail in interpreter.get_input_details()
        ]
        if any(np.prod(shape, dtype=np.float64) * BATCH > MAX_INPUT_ELEMENTS for _, shape, _ in inputs):
            return "input_too_large"
        _invoke(interpreter, inputs)
        interpreter.run(
            *(
                _random_input(shape, dtype, BATCH, k).reshape(batch_shape(shape, BATCH))
                for k, (_, shape, dtype) in enumerate(inputs)
            )
        )
    except (ModelError, InputError) as error:
        _reraise_wrapped(error)
        return "model_error" if isinstance(error, ModelError) else "input_error"
    return "ok"


def _reraise_wrapped(error: TinyInterpError) -> None:
    """The interpreter turns anything an op raises into a ModelError naming the op (the original
    chained); for the fuzzer that is still an escape, a check missing: raise it at its own site."""
    cause = error.__cause__
    if cause is not None and not isinstance(cause, TinyInterpError):
        raise cause


def _invoke(interpreter: Interpreter, inputs: list[tuple[int, tuple[int, ...], np.dtype]]) -> None:
    """One invoke() on random inputs, reading every output."""
    for k, (index, shape, dtype) in enumerate(inputs):
        interpreter.set_tensor(index, _random_input(shape, dtype, 1, k)[0])
    interpreter.invoke()
    for detail in interpreter.get_output_details():
        interpreter.get_tensor(detail["index"])


def install_corpus(corpus: Mapping[str, bytes]) -> None:
    """Worker setup: keep the seed models and warm up (imports, numba's cached kernels)."""
    _corpus.update(corpus)
    exercise(save_model(stand_in("kws")))


def run_mutant(spec: MutantSpec) -> str:
    """Build the mutant in the worker (cheaper than sending it) and exercise it."""
    try:
        data = spec.build(_corpus)
    except ModelError:
        return "unwritable"
    return exercise(data)


def _result(spec: MutantSpec, outcome: Outcome) -> Result:
    kinds = {"returned": str(outcome.value), "raised": "escape"}
    kind = kinds.get(outcome.kind, outcome.kind)
    return Result(spec, kind, outcome.exception, outcome.message, outcome.site)


# ---- campaigns -----------------------------------------------------------------------------


def mutant_specs(corpus: Mapping[str, bytes], count: int, seed: int = 0) -> Iterator[MutantSpec]:
    """`count` mutants spread over seed models and mutators, reproducibly from `seed`."""
    rng = random.Random(seed)
    names = sorted(corpus)
    for _ in range(count):
        mutator = rng.choice(MUTATORS)
        donor = rng.choice(names) if mutator == "splice" else None
        yield MutantSpec(rng.choice(names), mutator, rng.randrange(2**32), donor)


def run_mutants(specs: list[MutantSpec]) -> list[Outcome]:
    """Several mutants in one sandboxed job (one fork for all: far cheaper per mutant), each one's
    exception caught and recorded as its own outcome."""
    return [run_job(run_mutant, spec) for spec in specs]


def campaign(
    corpus: Mapping[str, bytes],
    specs: Iterable[MutantSpec],
    jobs: int = 2,
    limits: Limits | None = None,
    batch: int = 1,
) -> Iterator[Result]:
    """The result of each mutant, in completion order, run by `jobs` sandboxed workers.

    With `batch` > 1 the mutants go `batch` to a job; a job that crashes, hangs or runs out of
    memory is run again one mutant per job, so the culprit is named and the others still count.
    """
    specs = list(specs)
    with Sandbox(jobs, limits, install_corpus, (dict(corpus),)) as sandbox:
        if batch <= 1:
            for position, outcome in sandbox.map(run_mutant, specs):
                yield _result(specs[position], outcome)
            return
        chunks = [specs[k : k + batch] for k in range(0, len(specs), batch)]
        failed: list[MutantSpec] = []
        for position, outcome in sandbox.map(run_mutants, chunks):
            if outcome.kind == "returned":
                yield from (_result(spec, o) for spec, o in zip(chunks[position], outcome.value))
            else:
                failed += chunks[position]
        for position, outcome in sandbox.map(run_mutant, failed):
            yield _result(failed[position], outcome)


def failing_seeds(corpus: Mapping[str, bytes], jobs: int = 2) -> list[Result]:
    """The seed models that fail unmutated: their mutants would mostly find the same failure again.

    The limits are generous: first runs compile kernels, which numba caches on disk for the mutants.
    """
    specs = [MutantSpec(name, UNMUTATED, 0) for name in corpus]
    return [result for result in campaign(corpus, specs, jobs, SEED_LIMITS) if not result.fine]


@dataclass
class Group:
    """The failures sharing a group key: their count, mutators and a few examples."""

    key: str
    results: list[Result] = field(default_factory=list)

    @property
    def mutators(self) -> Counter[str]:
        return Counter(r.spec.mutator for r in self.results)


def summarize(results: Iterable[Result]) -> list[Group]:
    """Failures grouped by kind, exception and site, the most frequent first."""
    groups: dict[str, Group] = {}
    for result in results:
        if not result.fine:
            groups.setdefault(result.group, Group(result.group)).results.append(result)
    return sorted(groups.values(), key=lambda g: (-len(g.results), g.key))


def slug(key: str) -> str:
    """A file-name-safe form of a group key."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key).strip("_")[:120]


# ---- seeds ---------------------------------------------------------------------------------


def examples(strategy: SearchStrategy[T], count: int) -> list[T]:
    """The first `count` examples hypothesis draws from `strategy`, the same on every run."""
    drawn: list[T] = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None)
    @given(strategy)
    def collect(example: T) -> None:
        drawn.append(example)

    collect()
    return drawn


def single_op_seeds(per_case: int) -> dict[str, bytes]:
    """`per_case` one-op models for every (op, dtype) of `tinyinterp.testing.strategies`."""
    from tinyinterp.testing.strategies import CASES

    found: dict[str, bytes] = {}
    for (opcode, dtype), factory in sorted(CASES.items()):
        models = dict.fromkeys(case.tflite for case in examples(factory(dtype=dtype), per_case))
        found.update({f"{opcode}-{dtype}-{index}": data for index, data in enumerate(models)})
    return found


def load_seeds(sources: Iterable[str | os.PathLike[str]]) -> dict[str, bytes]:
    """Seed models by name from .tflite files, folders of them, `zoo:NAME` / `zoo:all`, `ops:N`."""
    corpus: dict[str, bytes] = {}
    for source in map(str, sources):
        if source == f"{ZOO_PREFIX}all":
            corpus.update({f"zoo-{n}": save_model(stand_in(n)) for n in NAMES})
        elif source.startswith(ZOO_PREFIX):
            corpus[f"zoo-{source[len(ZOO_PREFIX) :]}"] = save_model(stand_in(source[len(ZOO_PREFIX) :]))
        elif source.startswith(OPS_PREFIX):
            corpus.update(single_op_seeds(int(source[len(OPS_PREFIX) :])))
        elif Path(source).is_dir():
            corpus.update({p.stem: p.read_bytes() for p in sorted(Path(source).glob("*.tflite"))})
        elif Path(source).is_file():
            corpus[Path(source).stem] = Path(source).read_bytes()
        else:
            raise InputError(f"seed {source!r}: no such file or folder (or zoo:NAME, zoo:all, ops:N)")
    return corpus


# ---- amplification -------------------------------------------------------------------------


def load_seconds(data: bytes) -> float:
    """CPU time of load_model on `data` (ModelError counts: refusing fast is fine). CPU, not wall,
    time: the work a file causes, whatever else the machine is doing."""
    start = time.process_time()
    with contextlib.suppress(ModelError):
        load_model(data)
    return time.process_time() - start


def amplification_profile(copies: Iterable[int], payload: int, shared: str) -> list[tuple[int, float]]:
    """(file size, load seconds) of `shared_table_model` for each number of copies."""
    return [
        (len(data), load_seconds(data)) for data in (shared_table_model(n, payload, shared) for n in copies)
    ]
