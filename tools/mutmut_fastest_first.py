"""mutmut, with each mutant's tests run fastest first: `python tools/mutmut_fastest_first.py run [NAME...]`.

mutmut 3.8 gives pytest a mutant's covering tests in set order and stops at the first failure (`-x`), so a
mutant that a 0.1-s test kills may first wait for a 90-s one. Sorting them by the durations mutmut's stats
pass recorded makes most kills take seconds. Verdicts do not change: a survivor still runs every covering
test, and the CPU limit is still mutmut's (from their total duration). Any mutmut command works; only `run`
differs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from mutmut.__main__ import cli
from mutmut.state import state
from mutmut.workers.isolation import ForkRunner, ForkServerRunner, MutantRunner

Runner = TypeVar("Runner", bound=MutantRunner)
Submit = Callable[[Runner, str, list[str], int, float], None]


def _fastest_first(submit: Submit[Runner]) -> Submit[Runner]:
    def submit_sorted(
        runner: Runner, mutant_name: str, tests: list[str], cpu_time_limit: int, estimated_time: float
    ) -> None:
        durations = state().duration_by_test
        ordered = sorted(tests, key=lambda test: (durations.get(test, 0.0), test))
        submit(runner, mutant_name, ordered, cpu_time_limit, estimated_time)

    return submit_sorted


if __name__ == "__main__":
    ForkServerRunner.submit = _fastest_first(ForkServerRunner.submit)  # type: ignore[method-assign, assignment]
    ForkRunner.submit = _fastest_first(ForkRunner.submit)  # type: ignore[method-assign, assignment]
    sys.exit(cli())
