"""Run untrusted jobs in a pool of reused worker processes with CPU, wall-time and memory limits.

A job is `target(payload)` for a picklable module-level `target`. Each worker caps its address
space (RLIMIT_AS) and runs every job in a fork of itself (warm: imports and compiled kernels are
shared) whose CPU time is capped (RLIMIT_CPU: the kernel kills a job that spins), so a job that
crashes or corrupts memory takes nothing else with it. The parent kills a worker past the
wall-clock limit (its job dies with it) and replaces it, so the run goes on.

Outcomes: `Outcome(kind, ...)` with kind "returned" (the target's return value in `value`),
"raised" (exception type, message, innermost tinyinterp frame), "memory" (MemoryError),
"crash" (killed by a signal or exited), "timeout" (CPU or wall limit).
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import multiprocessing
import os
import re
import resource
import signal
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# The worker's environment: one thread per worker, as jobs run side by side.
SINGLE_THREADED = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
MESSAGE_LENGTH = 300
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 10
    wall_seconds: float = 30.0  # a backstop: the CPU limit catches spinning jobs on a busy machine
    memory_bytes: int = 3 * 2**30


@dataclass(frozen=True)
class Outcome:
    kind: str  # returned, raised, memory, crash, timeout
    value: Any = None
    exception: str = ""  # the exception's class name
    message: str = ""  # first line, shortened
    site: str = ""  # innermost frame in tinyinterp (path:line), else the innermost frame


def _in_package(path: str) -> bool:
    """Whether a frame's file is tinyinterp's (the sandbox's own frames wrap every job: not a site)."""
    resolved = Path(path).resolve()
    return resolved.is_relative_to(PACKAGE_ROOT) and resolved != Path(__file__).resolve()


def _shown(path: str, line: int | str) -> str:
    resolved = Path(path).resolve()
    root = PACKAGE_ROOT.parent
    return f"{resolved.relative_to(root) if resolved.is_relative_to(root) else resolved}:{line}"


def raise_site(error: BaseException) -> str:
    """`path:line` of the innermost traceback frame inside the tinyinterp package (else the innermost)."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename != __file__]
    if not frames:
        return ""
    frame = ([f for f in frames if _in_package(f.filename)] or frames)[-1]
    return _shown(frame.filename, frame.lineno or 0)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:MESSAGE_LENGTH] if lines else ""


def run_job(target: Callable[[Any], Any], payload: Any) -> Outcome:
    """`target(payload)` with every exception turned into an Outcome (in the worker)."""
    try:
        return Outcome("returned", target(payload))
    except MemoryError as error:
        return Outcome("memory", exception="MemoryError", message=_first_line(error), site=raise_site(error))
    except (Exception, RecursionError) as error:
        return Outcome(
            "raised", exception=type(error).__name__, message=_first_line(error), site=raise_site(error)
        )


def _worker_main(
    connection: Connection, limits: Limits, setup: Callable[..., None] | None, args: tuple
) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    warnings.simplefilter("ignore")  # numpy's overflow warnings on hostile values are not findings
    if setup is not None:
        setup(*args)
    connection.send("ready")
    while True:
        try:
            target, payload = connection.recv()
        except EOFError:
            return
        connection.send(_forked_job(target, payload, limits))


def _forked_job(target: Callable[[Any], Any], payload: Any, limits: Limits) -> Outcome:
    """Run the job in a fork of the warmed-up worker: a job that corrupts the heap (an out-of-bounds
    write in a kernel) then dies alone, instead of crashing whichever job comes next. A child that
    dies leaves its Python stack (faulthandler) in `trace`, where its site is read from."""
    reader, writer = multiprocessing.Pipe(duplex=False)
    with tempfile.TemporaryFile() as trace:
        pid = os.fork()
        if pid == 0:  # the child
            reader.close()
            _run_child(target, payload, limits, writer, trace)
        writer.close()
        try:
            outcome = reader.recv()
        except EOFError:  # the child died before answering
            outcome = None
        reader.close()
        _, status = os.waitpid(pid, 0)
        if outcome is not None:
            return outcome
        trace.seek(0)
        return _death(os.waitstatus_to_exitcode(status), limits, trace.read().decode(errors="replace"))


def _run_child(
    target: Callable[[Any], Any], payload: Any, limits: Limits, writer: Connection, trace: Any
) -> None:
    _die_with_parent()
    faulthandler.enable(trace)  # SIGSEGV, SIGABRT, SIGBUS, ...
    # At the soft CPU limit, write the stack and go on; the kernel kills the job a second later.
    faulthandler.register(signal.SIGXCPU, trace)
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    writer.send(run_job(target, payload))
    writer.close()
    os._exit(0)


def _die_with_parent() -> None:
    """Have the kernel kill this process when its parent (a worker killed at its wall-clock limit) dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@contextlib.contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


class _Worker:
    def __init__(self, limits: Limits, setup: Callable[..., None] | None, args: tuple) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, limits, setup, args), daemon=True)
        with _environment(SINGLE_THREADED):  # the worker starts with a copy of this environment
            self.process.start()
        child.close()
        self.ready = False
        self.job: int | None = None
        self.deadline = 0.0

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.connection.close()


def _death(exit_code: int | None, limits: Limits, trace: str = "") -> Outcome:
    """The outcome of a job whose process ended without answering; its site is read from the Python
    stack that faulthandler wrote (`trace`) when there is one."""
    site = _trace_site(trace)
    if exit_code in (-signal.SIGXCPU, -signal.SIGKILL):
        return Outcome("timeout", message=f"more than {limits.cpu_seconds} s of CPU time", site=site)
    if exit_code is not None and exit_code < 0:
        return Outcome("crash", message=f"killed by {signal.Signals(-exit_code).name}", site=site)
    return Outcome("crash", message=f"exited with status {exit_code}", site=site)


def _trace_site(trace: str) -> str:
    """`path:line` of the innermost tinyinterp frame of a faulthandler dump (most recent call first)."""
    for path, line in re.findall(r'File "(.+)", line (\d+)', trace):
        if _in_package(path):
            return _shown(path, line)
    return ""


class Sandbox:
    """A pool of `jobs` worker processes; `setup(*args)` runs once in each new worker (imports,
    warm-up, a corpus) before it takes jobs. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        jobs: int = 2,
        limits: Limits | None = None,
        setup: Callable[..., None] | None = None,
        args: tuple = (),
    ) -> None:
        self.limits = limits or Limits()
        self._setup, self._args = setup, args
        self.workers = [self._spawn() for _ in range(max(1, jobs))]

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()

    def map(self, target: Callable[[Any], Any], payloads: Iterable[Any]) -> Iterator[tuple[int, Outcome]]:
        """(position, outcome) of `target(payload)` for each payload, in completion order."""
        pending = enumerate(payloads)
        busy = 0
        exhausted = False
        while True:
            for worker in self.workers:
                if worker.ready and worker.job is None and not exhausted:
                    job = next(pending, None)
                    if job is None:
                        exhausted = True
                        break
                    worker.job, worker.deadline = job[0], time.monotonic() + self.limits.wall_seconds
                    worker.connection.send((target, job[1]))
                    busy += 1
            if exhausted and busy == 0:
                return
            for position, outcome in self._collect():
                busy -= 1
                yield position, outcome

    def run(self, target: Callable[[Any], Any], payload: Any) -> Outcome:
        """The outcome of one job."""
        return next(self.map(target, [payload]))[1]

    def _collect(self) -> Iterator[tuple[int, Outcome]]:
        """Wait for a message or a deadline; yield the finished jobs, replacing dead workers."""
        now = time.monotonic()
        deadlines = [w.deadline for w in self.workers if w.job is not None]
        timeout = max(0.0, min(deadlines) - now) if deadlines else None
        ready = wait([w.connection for w in self.workers], timeout)
        for slot, worker in enumerate(self.workers):
            if worker.connection in ready:
                try:
                    message = worker.connection.recv()
                except (EOFError, OSError):
                    worker.process.join()
                    if not worker.ready:
                        death = _death(worker.process.exitcode, self.limits).message
                        raise RuntimeError(f"sandbox worker setup failed: {death}") from None
                    yield from self._replace(slot, _death(worker.process.exitcode, self.limits))
                    continue
                if message == "ready":
                    worker.ready = True
                    continue
                position, worker.job = worker.job, None
                assert position is not None
                yield position, message
            elif worker.job is not None and time.monotonic() > worker.deadline:
                worker.stop()
                yield from self._replace(
                    slot, Outcome("timeout", message=f"more than {self.limits.wall_seconds:g} s")
                )

    def _spawn(self) -> _Worker:
        return _Worker(self.limits, self._setup, self._args)

    def _replace(self, slot: int, outcome: Outcome) -> Iterator[tuple[int, Outcome]]:
        worker = self.workers[slot]
        worker.stop()
        self.workers[slot] = self._spawn()
        if worker.job is not None:
            yield worker.job, outcome
