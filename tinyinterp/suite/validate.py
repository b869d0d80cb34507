"""`validate-log`: recompute the results of an EEMBC or MLPerf Tiny runner log with tinyinterp.

Both runners log which stimulus was loaded, then what the device printed:
- EEMBC runner: `parser: Command "bload dut "<path>" [<offset> <bytes>]"` then `dut: m-results-[...]`;
- MLPerf Tiny runner (benchmark/runner): `ulp-mlperf: Loading file <file> segment <k>` then
  `ulp-mlperf:   m-results    : [<values>]` (ad01 segment k = the k-th sliding window of the file).
Each logged result is compared with tinyinterp's after re-quantizing the printed values with the output
scale and zero point (ad01's anomaly score is compared as printed, to 3 decimals). A result after an EEMBC
`infer N W` with N + W > 1 (performance runs) is the last of N + W invocations on an input
loaded once, replayed on one tensor arena (replay.py), since later tensors overwrite the input's bytes.
`summarize` turns the comparison into a reviewer's verdict with its exit code (VERDICTS).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyinterp.errors import TinyInterpError
from tinyinterp.suite.benchmarks import BENCHMARKS
from tinyinterp.suite.datasets import Stimulus, read_labels, stimulus_loads
from tinyinterp.suite.device import EmulatedDevice, batches
from tinyinterp.suite.protocol import MODELS, parse_payload, parse_results_line, requantize
from tinyinterp.suite.replay import NO_ARENA, ArenaReplay
from tinyinterp.suite.scoring import FileResults, Score, score_files

EEMBC_LOAD = re.compile(r'Command "bload dut "(?P<path>[^"]*)"(?:\s+(?P<offset>\d+)\s+(?P<length>\d+))?"')
# `dut: m-results-[...]`, or the DUT's line captured without the runner's prefix (timestamp optional).
# `infer [N [W]]`: N inferences after W warm-up ones (the firmware's defaults: N = 1, W = 10).
EEMBC_INFER = re.compile(r'Command "dut infer(?:\s+(?P<n>\d+))?(?:\s+(?P<w>\d+))?\s*"')
EEMBC_RESULT = re.compile(r"(?:\bdut: |^(?:[\d.]+ )?)(m-results-.*)$")
EEMBC_MODEL = re.compile(r"(?:\bdut: m-model-\[|key\[model\]-val\[)([^\]]*)\]")
MLC_LOAD = re.compile(r"ulp-mlperf: Loading file (?P<file>.+?) segment (?P<segment>\d+)\s*$")
MLC_RESULT = re.compile(r"ulp-mlperf:\s+m-results\s+: (.*)$")
MLC_MODEL = re.compile(r"Device model retrieved: (\S+)")
ANNOUNCED_FILES = re.compile(r"Using full set \((\d+) test files\)")  # MLPerf Tiny runner, accuracy mode
SUMMARY = re.compile(r"(Top[- ]1%?\s?[:=] [\d.]+%?|AUC\s?[:=] [\d.]+)")
MAX_DETAILS = 3
# Stimulus sets other than the datasets' own, known by the SHA-256 of their sorted file names joined by
# newlines. ic01 "official balanced": mlcommons/tiny benchmark/evaluation/datasets/ic01/y_labels.csv (200
# CIFAR-10 test images, 20 per class; the images are not published beside it), used by most ic01 logs since
# v0.7; 3 of its files are in the v0.5 set.
KNOWN_STIMULUS_SETS = {
    "ec193750e3532a4c2c411d10cc056205a2004dbc3367ebcab5022b43698558b9": (
        "the ic01 'official balanced' 200-image set (mlcommons/tiny benchmark/evaluation/datasets/ic01)"
    ),
}


class LogFormatError(TinyInterpError):
    """The log is not an EEMBC or MLPerf Tiny runner log, or is for another benchmark."""


EEMBC_RUNNER = "EEMBC runner"


@dataclass(frozen=True)
class Load:
    file: str
    line: int
    segment: int | None = None  # MLPerf Tiny runner: the window index
    offset: int | None = None  # EEMBC runner: a partial load's byte range
    length: int | None = None


@dataclass(frozen=True)
class Entry:
    load: Load
    text: str  # the logged results
    values: list[float] | None  # None when unparseable
    line: int
    invocations: int = 1  # of the model before the result: N + W of the EEMBC runner's `infer N W`


@dataclass
class ParsedLog:
    runner: str
    model: str | None = None
    entries: list[Entry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    announced_files: int | None = None  # how many files the runner said it would run


def _check_announced_files(parsed: ParsedLog, line: int) -> None:
    """A log cut between two stimuli looks complete; the runner's announced file count tells."""
    logged = len({entry.load.file for entry in parsed.entries})
    if parsed.announced_files is not None and logged != parsed.announced_files:
        parsed.problems.append(
            f"line {line}: the log announces {parsed.announced_files} test files, it has results "
            f"for {logged}" + (" (truncated)" if logged < parsed.announced_files else "")
        )


def _mlc_values(text: str) -> list[float] | None:
    text = text.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return None
    return parse_payload(text[1:-1]) or None


def _eembc_values(text: str) -> list[float] | None:
    return parse_results_line(text.strip()) or None


def _load_of(line: str, number: int) -> Load | None:
    match = EEMBC_LOAD.search(line)
    if match:
        offset, length = match.group("offset"), match.group("length")
        file = re.split(r"[\\/]", match.group("path"))[-1]
        return Load(file, number, None, int(offset) if offset else None, int(length) if length else None)
    match = MLC_LOAD.search(line)
    return Load(match.group("file"), number, int(match.group("segment"))) if match else None


def _result_of(line: str) -> tuple[str, list[float] | None] | None:
    match = EEMBC_RESULT.search(line)
    if match:
        return match.group(1), _eembc_values(match.group(1))
    match = MLC_RESULT.search(line)
    return (match.group(1), _mlc_values(match.group(1))) if match else None


def parse_log(text: str) -> ParsedLog:
    """Pair each loaded stimulus with the results logged after it. Lines end at a newline only: a
    stray carriage return (`dut: \rm-results-[...]\r`, as some DUTs print) is dropped, not a break."""
    eembc = bool(EEMBC_LOAD.search(text))
    parsed = ParsedLog(EEMBC_RUNNER if eembc else "MLPerf Tiny runner")
    pending: Load | None = None
    invocations = 1
    announced_line = 0
    for number, raw_line in enumerate(text.split("\n"), start=1):
        line = raw_line.replace("\r", "")
        announced = ANNOUNCED_FILES.search(line)
        if announced:
            parsed.announced_files, announced_line = int(announced.group(1)), number
        model = (EEMBC_MODEL if eembc else MLC_MODEL).search(line)
        if model:
            parsed.model = model.group(1)
        summary = SUMMARY.search(line)
        if summary and "ulp-mlperf" in line:
            parsed.summary.append(line.strip())
        load = _load_of(line, number)
        if load is not None:
            if pending is not None:
                parsed.problems.append(
                    f"line {pending.line}: {pending.file} was loaded but no result followed"
                )
            pending, invocations = load, 1
            continue
        infer = EEMBC_INFER.search(line)
        if infer:
            invocations = int(infer.group("n") or 1) + int(infer.group("w") or 10)
            continue
        result = _result_of(line)
        if result is None:
            continue
        if pending is None:
            parsed.problems.append(f"line {number}: a result with no stimulus loaded before it")
        else:
            parsed.entries.append(Entry(pending, result[0], result[1], number, invocations))
            pending = None
    if pending is not None:
        parsed.problems.append(
            f"truncated: the log ends after loading {pending.file} (line {pending.line}) with no result"
        )
    _check_announced_files(parsed, announced_line)
    if not parsed.entries and not parsed.problems:
        raise LogFormatError(
            "not an EEMBC or MLPerf Tiny runner log: no loaded stimuli ('bload dut' or 'Loading file') "
            "and no m-results found"
        )
    return parsed


@dataclass
class FileReport:
    file: str
    status: str  # match, mismatch, unparseable or missing
    results: int = 0
    details: list[str] = field(default_factory=list)


@dataclass
class Validation:
    files: list[FileReport]
    logged: Score | None
    recomputed: Score | None
    scored_files: int
    normalised: bool = True  # scored on vectors normalised to sum 1 (the MLPerf Tiny runner's way)
    comparisons: list[Comparison] = field(default_factory=list)  # one per checked result
    stimulus_set: str | None = None  # a known set the log's files are, when it is not the dataset's
    arena: str = "tflm"  # the layout repeated invocations were replayed on (replay.ARENAS), or "none"
    replayed: int = 0  # results recomputed as more than one invocation on one arena

    @property
    def ok(self) -> bool:
        return all(report.status == "match" for report in self.files)


class _Stimuli:
    """The dataset's files, read once, and the loads the runner cut from them."""

    def __init__(self, dataset: Path, device: EmulatedDevice) -> None:
        self.dataset, self.device = dataset, device
        self.labels = {s.file: s for s in read_labels(dataset)}
        self._loads: dict[str, tuple[bytes, list[bytes]]] = {}

    def load_of(self, load: Load) -> bytes:
        """The bytes the runner sent for `load`; ValueError when they cannot be a load for the model."""
        if load.file not in self._loads:
            data = (self.dataset / load.file).read_bytes()
            windows = stimulus_loads(
                self.device.benchmark, data, self.device.load_bytes, self.labels.get(load.file)
            )
            self._loads[load.file] = (data, windows)
        data, windows = self._loads[load.file]
        if load.offset is not None and load.length is not None:
            piece = data[load.offset : load.offset + load.length]
        elif load.segment is not None:
            if load.segment >= len(windows):
                raise ValueError(f"segment {load.segment} is beyond the file's {len(windows)} loads")
            piece = windows[load.segment]
        else:
            piece = data
        if len(piece) != self.device.load_bytes:
            raise ValueError(f"a load of {len(piece)} bytes; the model takes {self.device.load_bytes}")
        return piece


@dataclass(frozen=True)
class Comparison:
    """One logged result against tinyinterp's: why they differ (None when equal) and by how much."""

    difference: str | None
    lsb: tuple[int, ...] = ()  # |logged - tinyinterp| per differing value, in output LSB (int8 steps)
    flipped: bool = False  # the top class changed


def _compare(device: EmulatedDevice, logged: list[float], expected: list[float]) -> Comparison:
    if len(logged) != len(expected):
        return Comparison(f"{len(logged)} values logged, tinyinterp prints {len(expected)}")
    if BENCHMARKS[device.benchmark].payload == "anomaly score":  # printed with 3 decimals, not quantized
        same = [round(a, 3) == round(b, 3) for a, b in zip(logged, expected)]
        text = f"anomaly score logged {logged[0]:.3f}, tinyinterp {expected[0]:.3f}"
        return Comparison(None if all(same) else text)
    quant = device.output_quant
    q_logged = requantize(logged, quant.scale, quant.zero_point)
    q_expected = requantize(expected, quant.scale, quant.zero_point)
    classes = [c for c in range(len(logged)) if q_logged[c] != q_expected[c]]
    if not classes:
        return Comparison(None)
    text = "; ".join(
        f"class {c}: logged {logged[c]:.3f} (int8 {q_logged[c]}), "
        f"tinyinterp {expected[c]:.3f} (int8 {q_expected[c]})"
        for c in classes
    )
    lsb = tuple(int(abs(q_logged[c] - q_expected[c])) for c in classes)
    return Comparison(text, lsb, int(np.argmax(q_logged)) != int(np.argmax(q_expected)))


def _describe(entry: Entry) -> str:
    load = entry.load
    if load.offset is not None:
        return f"line {entry.line} (offset {load.offset})"
    return f"line {entry.line} (segment {load.segment})" if load.segment else f"line {entry.line}"


def validate(parsed: ParsedLog, device: EmulatedDevice, dataset: Path, arena: str = "tflm") -> Validation:
    """Recompute every parsed result (repeated invocations on one arena laid out as `arena`, replay.ARENAS,
    or each on the loaded input with "none"); report per file; score the logged and the recomputed results."""
    if parsed.model and parsed.model not in MODELS:
        named = BENCHMARKS.get(parsed.model)
        hint = f" (a streaming log: give --benchmark {parsed.model})" if named and named.streaming else ""
        raise LogFormatError(
            f"a {parsed.model} log: this reads {', '.join(MODELS)} result logs, not {parsed.model}{hint}"
        )
    if parsed.model and parsed.model != device.benchmark:
        raise LogFormatError(f"the log is for {parsed.model}, not {device.benchmark}")
    stimuli = _Stimuli(dataset, device)
    reports: dict[str, FileReport] = {}
    checkable: list[tuple[Entry, bytes]] = []
    for entry in parsed.entries:
        report = reports.setdefault(entry.load.file, FileReport(entry.load.file, "match"))
        report.results += 1
        if not (dataset / entry.load.file).is_file():
            report.status, report.details = "missing", [f"not in {dataset}"]
        elif entry.values is None:
            report.status = "unparseable"
            report.details.append(f"line {entry.line}: cannot parse {entry.text[:60]!r}")
        else:
            try:
                checkable.append((entry, stimuli.load_of(entry.load)))
            except ValueError as error:  # DatasetError included
                report.status = "unparseable"
                report.details.append(f"line {entry.line}: {error}")
    expected, replayed = _expected(checkable, device, arena)
    comparisons = []
    for (entry, _), mine in zip(checkable, expected):
        comparison = _compare(device, entry.values or [], mine)
        comparisons.append(comparison)
        report = reports[entry.load.file]
        if comparison.difference is not None:
            if report.status == "match":
                report.status = "mismatch"
            if len(report.details) < MAX_DETAILS:
                report.details.append(f"{_describe(entry)}: {comparison.difference}")
    normalise = parsed.runner != EEMBC_RUNNER
    logged, recomputed, scored = _scores(checkable, expected, stimuli.labels, reports, normalise)
    known = KNOWN_STIMULUS_SETS.get(_names_digest(reports))
    files = list(reports.values())
    return Validation(files, logged, recomputed, scored, normalise, comparisons, known, arena, replayed)


def _expected(
    checkable: Sequence[tuple[Entry, bytes]], device: EmulatedDevice, arena: str
) -> tuple[list[list[float]], int]:
    """tinyinterp's values for each result, and how many were replayed: one inference on the load, or the
    last of the entry's invocations on one arena (the input loaded once) unless `arena` is "none"."""
    repeated = [k for k, (entry, _) in enumerate(checkable) if entry.invocations > 1 and arena != NO_ARENA]
    once = sorted(set(range(len(checkable))) - set(repeated))
    expected: list[list[float]] = [[] for _ in checkable]
    for batch in batches(once):
        for k, payload in zip(batch, device.results([checkable[k][1] for k in batch])):
            expected[k] = parse_payload(payload) or []
    if repeated:
        interpreter = device.interpreter
        replay = ArenaReplay(interpreter.model, arena, interpreter.numerics.rounding)
        for k in repeated:
            entry, load = checkable[k]
            replay.load(device.inputs([load])[0])
            for _ in range(entry.invocations - 1):
                replay.invoke()
            last = replay.invoke()
            expected[k] = parse_payload(device.payloads([load], last.reshape(1, -1))[0]) or []
    return expected, len(repeated)


def _names_digest(reports: dict[str, FileReport]) -> str:
    return hashlib.sha256("\n".join(sorted(reports)).encode()).hexdigest()


def _scores(
    checkable: Sequence[tuple[Entry, bytes]],
    expected: Sequence[list[float]],
    labels: dict[str, Stimulus],
    reports: dict[str, FileReport],
    normalise: bool,
) -> tuple[Score | None, Score | None, int]:
    """Scores over the labelled files whose every result could be checked."""
    logged: dict[str, list[tuple[float, ...]]] = {}
    mine: dict[str, list[tuple[float, ...]]] = {}
    for (entry, _), values in zip(checkable, expected):
        logged.setdefault(entry.load.file, []).append(tuple(entry.values or []))
        mine.setdefault(entry.load.file, []).append(tuple(values))
    files = [f for f in logged if f in labels and reports[f].status in ("match", "mismatch")]
    if not files:
        return None, None, 0
    try:
        score_logged = score_files(
            [FileResults(f, labels[f].label, tuple(logged[f])) for f in files], normalise
        )
        score_mine = score_files([FileResults(f, labels[f].label, tuple(mine[f])) for f in files], normalise)
    except ValueError:  # result vectors of different lengths cannot be scored together
        return None, None, 0
    return score_logged, score_mine, len(files)


# The reviewer's verdicts by exit code; when several hold, the first listed here wins: a difference in the
# outputs is evidence whatever else is wrong with the log, an unreadable log cannot be complete evidence.
VERDICTS = {
    1: "outputs differ",
    4: "unreadable or truncated",
    3: "stimuli not in the dataset",
    0: "reproduced",
}


@dataclass(frozen=True)
class Summary:
    """One log's verdict and the counts behind it (counts of results: one per logged m-results)."""

    runner: str
    benchmark: str
    files_logged: int
    files_in_dataset: int
    results_equal: int
    results_different: int
    results_unreadable: int
    results_missing: int
    max_lsb: int
    mean_lsb: float  # over the values that differ
    flips: int  # results whose top class differs
    score_name: str | None
    logged_score: float | None
    recomputed_score: float | None
    scored_files: int
    scored_as: str
    stimulus_set: str | None
    problems: tuple[str, ...]
    exit_code: int
    verdict: str
    numerics: str  # the profile the results were recomputed with
    # --numerics auto: each profile tried, with its differing results and max LSB
    candidates: tuple[tuple[str, int, int], ...] = ()
    replayed: int = 0  # results recomputed as the last of their `infer N W` invocations on one arena
    arena: str = "tflm"  # the arena layout they were replayed on (replay.ARENAS), or "none"

    @property
    def coverage(self) -> float:
        return self.files_in_dataset / self.files_logged if self.files_logged else 0.0


def summarize(parsed: ParsedLog, result: Validation, benchmark: str, dataset: Path, numerics: str) -> Summary:
    comparisons = result.comparisons
    different = [c for c in comparisons if c.difference is not None]
    lsb = [v for c in different for v in c.lsb]
    missing_files = [r for r in result.files if r.status == "missing"]
    missing = sum(r.results for r in missing_files)
    unreadable = len(parsed.entries) - len(comparisons) - missing
    name, logged, mine = None, None, None
    if result.logged is not None and result.recomputed is not None:
        name, logged = result.logged.headline(benchmark)
        mine = result.recomputed.headline(benchmark)[1]
    code, reason = _verdict(parsed, len(comparisons), different, unreadable, missing_files, result, dataset)
    return Summary(
        runner=parsed.runner,
        benchmark=benchmark,
        files_logged=len(result.files),
        files_in_dataset=len(result.files) - len(missing_files),
        results_equal=len(comparisons) - len(different),
        results_different=len(different),
        results_unreadable=unreadable,
        results_missing=missing,
        max_lsb=max(lsb, default=0),
        mean_lsb=float(np.mean(lsb)) if lsb else 0.0,
        flips=sum(c.flipped for c in different),
        score_name=name,
        logged_score=logged,
        recomputed_score=mine,
        scored_files=result.scored_files,
        scored_as="normalised to sum 1, as the MLPerf Tiny runner"
        if result.normalised
        else "raw, as the EEMBC runner",
        stimulus_set=result.stimulus_set,
        problems=tuple(parsed.problems),
        exit_code=code,
        verdict=f"{VERDICTS[code]}: {reason}",
        numerics=numerics,
        replayed=result.replayed,
        arena=result.arena,
    )


def _verdict(
    parsed: ParsedLog,
    checked: int,
    different: list[Comparison],
    unreadable: int,
    missing_files: list[FileReport],
    result: Validation,
    dataset: Path,
) -> tuple[int, str]:
    if different:
        flips = sum(c.flipped for c in different)
        most = max((v for c in different for v in c.lsb), default=0)
        by = f"up to {most} LSB" if most else "in value count or anomaly score"
        return 1, f"{len(different)} of {checked} checked results differ ({by}, {flips} top-class flips)"
    if parsed.problems or unreadable:
        first = parsed.problems[0] if parsed.problems else f"{unreadable} results cannot be read"
        return 4, first
    if missing_files:
        known = f"; the log's files are {result.stimulus_set}" if result.stimulus_set else ""
        return 3, (
            f"{len(missing_files)} of {len(result.files)} logged files are not in {dataset}{known} "
            f"(the {checked} results checked are equal)"
        )
    return 0, f"all {checked} logged results equal tinyinterp's"


# ---- a results tree: closed/<org>/results/<system>/<benchmark>/accuracy/<log> ------------------------------

TREE_BENCHMARKS = {"kws": "kws01", "vww": "vww01", "ic": "ic01", "ad": "ad01"}
TREE_LOG_NAMES = ("log.txt", "accuracy_log.txt")


@dataclass(frozen=True)
class TreeLog:
    system: str  # <org>/<system> of closed/<org>/results/<system>/<benchmark>/, else the folders above
    benchmark: str
    path: Path


def tree_logs(root: Path) -> list[TreeLog]:
    """The accuracy logs of a results tree (a submission's, or `tinyinterp suite`'s output), sorted."""
    logs = []
    for path in sorted(root.rglob("accuracy/*")):
        parts = path.relative_to(root).parts
        if path.name not in TREE_LOG_NAMES or len(parts) < 3:
            continue
        benchmark = TREE_BENCHMARKS.get(parts[-3], parts[-3])
        system_parts = parts[:-3]
        if "results" in system_parts:  # keep the organisation: systems of different ones share names
            at = len(system_parts) - 1 - system_parts[::-1].index("results")
            system_parts = system_parts[max(at - 1, 0) : at] + system_parts[at + 1 :]
        logs.append(TreeLog("/".join(system_parts) or ".", benchmark, path))
    return logs


REPORT_COLUMNS = (
    "system",
    "benchmark",
    "verdict",
    "coverage",
    "differing files",
    "max LSB",
    "flips",
    "profile",
)


def report_row(log: TreeLog, summary: Summary | None, differing_files: int, problem: str = "") -> list[str]:
    """A row of the reviewer's table; without a summary, the reason the log was not validated."""
    if summary is None:
        return [log.system, log.benchmark, f"not validated: {problem}", "", "", "", "", ""]
    coverage = f"{summary.files_in_dataset}/{summary.files_logged}"
    verdict = VERDICTS[summary.exit_code]
    return [
        log.system,
        log.benchmark,
        verdict,
        coverage,
        str(differing_files),
        str(summary.max_lsb),
        str(summary.flips),
        summary.numerics,
    ]


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(REPORT_COLUMNS) + " |", "|" + "---|" * len(REPORT_COLUMNS)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[k]) for r in [list(REPORT_COLUMNS), *rows]) for k in range(len(REPORT_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
        for row in [list(REPORT_COLUMNS), *rows]
    )
