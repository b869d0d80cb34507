"""Fuzz tinyinterp with mutants of seed models and group what escapes by where it was raised.

    python tools/fuzz_campaign.py --mutants 20000 --seeds ../shared/mlperf-tiny/models zoo:all ops:2 \
        --jobs 2 --out fuzz-out/report.json

Each mutant is loaded, allocated and run (tinyinterp.testing.fuzzing.exercise) in a sandboxed
worker. Prints, and writes to --out, the failures grouped by kind + exception + raise site,
with a count, a message, the mutators that found them and reproducers saved as .tflite under
the report's folder (reproducers/<group>/). Seeds are first run unmutated: those that fail are
reported (mutator "none") and, unless --keep-failing-seeds, not mutated. Exit status 0 if
nothing escaped, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tinyinterp.errors import TinyInterpError
from tinyinterp.testing.fuzzing import (
    Group,
    Result,
    amplification_profile,
    campaign,
    failing_seeds,
    load_seeds,
    mutant_specs,
    slug,
    summarize,
)
from tinyinterp.testing.sandbox import Limits

REPORT_SECONDS = 30.0  # between rewrites of the report (so it can be read while running)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mutants", type=int, default=1000)
    parser.add_argument("--seeds", nargs="+", default=["zoo:all"], help="files, folders, zoo:NAME|all, ops:N")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--batch", type=int, default=25, help="mutants per sandboxed job (a failing job reruns one by one)"
    )
    parser.add_argument("--out", type=Path, default=Path("fuzz-out/report.json"))
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutant sequence")
    parser.add_argument("--cpu-seconds", type=int, default=10)
    parser.add_argument("--memory-mb", type=int, default=3072)
    parser.add_argument("--reproducers", type=int, default=10, help="reproducers saved per group")
    parser.add_argument("--reproducer-dir", type=Path, help="default: reproducers/ next to --out")
    parser.add_argument("--text", type=Path, help="also write the grouped summary as text here")
    parser.add_argument(
        "--keep-failing-seeds", action="store_true", help="also mutate seeds that fail unmutated"
    )
    parser.add_argument("--amplification", action="store_true", help="measure load time vs file size")
    return parser.parse_args(argv)


def _save_reproducers(
    groups: list[Group], corpus: Mapping[str, bytes], folder: Path, limit: int
) -> dict[str, list[str]]:
    saved = {}
    for group in groups:
        directory = folder / slug(group.key)
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for result in group.results[:limit]:
            spec = result.spec
            path = directory / f"{spec.seed}.{spec.mutator}.{spec.rng_seed}.tflite"
            if not path.exists():
                try:
                    path.write_bytes(spec.build(corpus))
                except Exception as error:  # a bug of the mutator itself: report it, keep fuzzing
                    print(f"cannot rebuild {spec}: {type(error).__name__}: {error}", file=sys.stderr)
                    continue
            paths.append(str(path))
        saved[group.key] = paths
    return saved


def _summary_text(groups: list[Group], reproducers: dict[str, list[str]], header: str) -> str:
    lines = [header, ""]
    for group in groups:
        first = group.results[0]
        mutators = ", ".join(f"{name} {count}" for name, count in group.mutators.most_common())
        lines += [
            f"{len(group.results):6d}  {group.key}",
            f"        message: {first.message}",
            f"        mutators: {mutators}",
            f"        reproducer: {(reproducers[group.key] or ['none'])[0]}",
        ]
    return "\n".join(lines) + "\n"


@dataclass
class Tally:
    """What a campaign found so far: counts by outcome and the failures (a million results need not
    be kept, and every report rewrite costs only the failures)."""

    runs: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    failures: list[Result] = field(default_factory=list)

    def add(self, result: Result) -> None:
        self.runs += 1
        self.kinds[result.kind] += 1
        if not result.fine:
            self.failures.append(result)


def _write_report(args: argparse.Namespace, corpus: Mapping[str, bytes], tally: Tally, seconds: float) -> str:
    groups = summarize(tally.failures)
    folder = args.reproducer_dir or args.out.parent / "reproducers"
    reproducers = _save_reproducers(groups, corpus, folder, args.reproducers)
    header = (
        f"{tally.runs} runs (seeds, then mutants) of {len(corpus)} seed models in {seconds:.0f} s "
        f"({tally.runs / max(seconds, 1e-9):.1f} runs/s); outcomes: "
        + ", ".join(f"{kind} {count}" for kind, count in tally.kinds.most_common())
        + f"; {len(groups)} failure groups"
    )
    report = {
        "mutants": tally.runs,
        "seconds": seconds,
        "outcomes": dict(tally.kinds),
        "groups": [
            {
                "key": g.key,
                "count": len(g.results),
                "message": g.results[0].message,
                "mutators": dict(g.mutators),
                "examples": [asdict(r.spec) for r in g.results[: args.reproducers]],
                "reproducers": reproducers[g.key],
            }
            for g in groups
        ],
    }
    args.out.write_text(json.dumps(report, indent=1))
    text = _summary_text(groups, reproducers, header)
    if args.text:
        args.text.write_text(text)
    return text


def _mutable_seeds(corpus: Mapping[str, bytes], failures: list[Result], keep: bool) -> dict[str, bytes]:
    """The seeds to mutate: all with `keep`, else those that do not fail unmutated."""
    failing = {result.spec.seed for result in failures}
    return {name: data for name, data in corpus.items() if keep or name not in failing}


def _amplification() -> None:
    for shared, payload in (("operators", 1000), ("tensors", 16)):
        for size, seconds in amplification_profile((1000, 4000, 16000), payload, shared):
            print(
                f"amplification {shared:9s} payload {payload:5d}: {size:8d} bytes, load {seconds:7.3f} s"
                f" ({seconds / size * 2**20:8.2f} s/MB)"
            )


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        corpus = load_seeds(args.seeds)
    except (OSError, TinyInterpError) as error:
        print(f"fuzz_campaign: {error}", file=sys.stderr)
        return 2
    if args.amplification:
        _amplification()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    limits = Limits(
        cpu_seconds=args.cpu_seconds, wall_seconds=3 * args.cpu_seconds, memory_bytes=args.memory_mb * 2**20
    )
    start = last_report = time.monotonic()
    failing = failing_seeds(corpus, args.jobs)
    # Every seed ran once, unmutated; only the failing ones come back as results.
    tally = Tally(len(corpus), Counter({"seed_ok": len(corpus) - len(failing)}))
    for result in failing:
        tally.kinds[result.kind] += 1
        tally.failures.append(result)
        print(f"seed {result.spec.seed} fails unmutated: {result.group}: {result.message}", flush=True)
    seeds = _mutable_seeds(corpus, failing, args.keep_failing_seeds)
    specs = mutant_specs(seeds, args.mutants, args.seed)
    for result in campaign(corpus, specs, args.jobs, limits, args.batch):
        tally.add(result)
        if time.monotonic() - last_report > REPORT_SECONDS:
            last_report = time.monotonic()
            _write_report(args, corpus, tally, last_report - start)
            print(f"{tally.runs} runs, {len(tally.failures)} failures", flush=True)
    print(_write_report(args, corpus, tally, time.monotonic() - start))
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
