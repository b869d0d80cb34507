"""`tinyinterp validate-log` for sww01: recompute a streaming run's detections from its wav and check the
log's detection list and counts.

The runner's sww log (performance or energy mode; `specs/sww01.md` 5.5) has the interface board's raw
detection list (`[86, 1462, ...]`, ms), `== File <wav> (<length> s) ==` and `Accuracy: <TP> True
positives, <FN> False negatives, <FP> False positives`. Logged times become frames relative to the sync
pulse with the run's measured period (`Average period: ... s`, else the ideal 32 ms), so a board's clock
error does not count as a mismatch. The wav and its wake-word windows come from the test json of the
dataset folder that names the wav.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tinyinterp.interpreter import Interpreter
from tinyinterp.suite.sww.detection import (
    HOP_US,
    DetectionScore,
    StreamTest,
    board_timestamps,
    read_test,
    score_detections,
)
from tinyinterp.suite.sww.run import stream_tests
from tinyinterp.suite.sww.stream import stream_wav
from tinyinterp.suite.validate import LogFormatError

DETECTION_LIST = re.compile(r"^\[(\d+(?:,\s*\d+)*)?\]$")
FILE_LINE = re.compile(r"== File (.+) \(([\d.]+) s\) ==")
ACCURACY = re.compile(r"Accuracy: (\d+) True positives, (\d+) False negatives, (\d+) False positives")
PERIOD = re.compile(r"Average period: ([\d.eE+-]+) s")
MODEL = re.compile(r"Device model retrieved: (\S+)")


@dataclass
class SwwLog:
    wav_file: str | None = None
    detections_ms: list[int] | None = None
    counts: tuple[int, int, int] | None = None
    period_s: float | None = None
    problems: list[str] = field(default_factory=list)


def parse_sww_log(text: str, benchmark: str) -> SwwLog:
    """The last stream of the log (a log holds one `play`); LogFormatError if it is no sww runner log."""
    log = SwwLog()
    for line in (raw.strip() for raw in text.splitlines()):
        if (model := MODEL.search(line)) and model.group(1) != benchmark:
            raise LogFormatError(f"the log is for {model.group(1)}, not {benchmark}")
        if listed := DETECTION_LIST.match(line):
            log.detections_ms = [int(v) for v in (listed.group(1) or "").split(",") if v.strip()]
        elif file := FILE_LINE.search(line):
            log.wav_file = file.group(1)
        elif accuracy := ACCURACY.search(line):
            log.counts = (int(accuracy.group(1)), int(accuracy.group(2)), int(accuracy.group(3)))
        elif period := PERIOD.search(line):
            log.period_s = float(period.group(1))
    if log.wav_file is None and log.detections_ms is None:
        raise LogFormatError("not a streaming wake-word runner log: no detection list and no `== File` line")
    if log.detections_ms is None:
        log.problems.append("no detection list (truncated log?)")
    if log.counts is None:
        log.problems.append("no `Accuracy:` line (truncated log?)")
    return log


def logged_frames(detections_ms: list[int], period_ms: float) -> list[int]:
    """Frame index of each detection, relative to the first one (the sync pulse)."""
    return [round((t - detections_ms[0]) / period_ms) for t in detections_ms]


def ranges(frames: list[int]) -> str:
    """`0, 43-66, 156`."""
    runs: list[list[int]] = []
    for k in sorted(frames):
        if runs and k == runs[-1][-1] + 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs) or "none"


def counts_text(counts: tuple[int, int, int]) -> str:
    return f"{counts[0]} TP, {counts[1]} FN, {counts[2]} FP"


def score_counts(score: DetectionScore) -> tuple[int, int, int]:
    return score.true_positives, score.false_negatives, score.false_positives


@dataclass
class SwwValidation:
    lines: list[str]  # the report, one finding per line
    ok: bool


def find_test(dataset: Path, wav_file: str) -> StreamTest:
    for path in stream_tests(dataset):
        test = read_test(path)
        if test.wav_file == wav_file:
            return test
    raise LogFormatError(f"no test json in {dataset} plays {wav_file}")


def validate_sww(log: SwwLog, interpreter: Interpreter, dataset: Path) -> SwwValidation:
    """Compare the log's detection frames and counts with the recomputed ones."""
    if log.wav_file is None:
        return SwwValidation(["problem     no `== File` line: which wav was played is unknown"], False)
    test = find_test(dataset, log.wav_file)
    result = stream_wav(dataset / test.wav_file, interpreter)
    mine = result.detections.tolist()
    lines, ok = [], not log.problems
    lines.append(f"recomputed  detections at frames {ranges(mine)} of {len(result.outputs)}")
    recomputed = score_counts(score_detections(board_timestamps(mine, 0.0), test.detection_windows))
    if log.detections_ms:
        period_ms = (log.period_s or HOP_US / 1e6) * 1e3
        logged = logged_frames(log.detections_ms, period_ms)
        only_log = sorted(set(logged) - set(mine))
        only_mine = sorted(set(mine) - set(logged))
        same = not only_log and not only_mine
        ok &= same
        detail = "" if same else f": only in the log {ranges(only_log)}; only recomputed {ranges(only_mine)}"
        lines.append(f"{'match' if same else 'mismatch':11} detection frames ({len(logged)} logged){detail}")
        rescored = score_counts(score_detections(log.detections_ms, test.detection_windows))
        if log.counts is not None and rescored != log.counts:
            ok = False
            lines.append(
                f"mismatch    the logged detections score {counts_text(rescored)}, "
                f"the log says {counts_text(log.counts)}"
            )
    if log.counts is not None:
        same = log.counts == recomputed
        ok &= same
        lines.append(
            f"{'match' if same else 'mismatch':11} counts: logged {counts_text(log.counts)}, "
            f"tinyinterp {counts_text(recomputed)}"
        )
    lines += [f"problem     {problem}" for problem in log.problems]
    return SwwValidation(lines, ok)
