"""`validate-log`: recompute the results of an EEMBC or MLPerf Tiny runner log with tinyinterp.

Both runners log which stimulus was loaded, then what the device printed:
- EEMBC runner: `parser: Command "bload dut "<path>" [<offset> <bytes>]"` then `dut: m-results-[...]`;
- MLPerf Tiny runner (benchmark/runner): `ulp-mlperf: Loading file <file> segment <k>` then
  `ulp-mlperf:   m-results    : [<values>]` (ad01 segment k = the k-th sliding window of the file).
Each logged result is compared with tinyinterp's after re-quantizing the printed values with the output
scale and zero point (ad01's anomaly score is compared as printed, to 3 decimals).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tinyinterp.errors import TinyInterpError
from tinyinterp.suite.datasets import Stimulus, read_labels, stimulus_loads
from tinyinterp.suite.device import EmulatedDevice, batches
from tinyinterp.suite.protocol import parse_payload, parse_results_line, requantize
from tinyinterp.suite.scoring import FileResults, Score, score_files

EEMBC_LOAD = re.compile(r'Command "bload dut "(?P<path>[^"]*)"(?:\s+(?P<offset>\d+)\s+(?P<length>\d+))?"')
EEMBC_RESULT = re.compile(r"\bdut: (m-results-.*)$")
EEMBC_MODEL = re.compile(r"\bdut: m-model-\[([^\]]*)\]")
MLC_LOAD = re.compile(r"ulp-mlperf: Loading file (?P<file>.+?) segment (?P<segment>\d+)\s*$")
MLC_RESULT = re.compile(r"ulp-mlperf:\s+m-results\s+: (.*)$")
MLC_MODEL = re.compile(r"Device model retrieved: (\S+)")
ANNOUNCED_FILES = re.compile(r"Using full set \((\d+) test files\)")  # MLPerf Tiny runner, accuracy mode
SUMMARY = re.compile(r"(Top[- ]1%?\s?[:=] [\d.]+%?|AUC\s?[:=] [\d.]+)")
MAX_DETAILS = 3


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
            pending = load
            continue
        result = _result_of(line)
        if result is None:
            continue
        if pending is None:
            parsed.problems.append(f"line {number}: a result with no stimulus loaded before it")
        else:
            parsed.entries.append(Entry(pending, result[0], result[1], number))
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


def _difference(device: EmulatedDevice, logged: list[float], expected: list[float]) -> str | None:
    """Why a logged result differs from tinyinterp's, or None when they match."""
    if len(logged) != len(expected):
        return f"{len(logged)} values logged, tinyinterp prints {len(expected)}"
    if device.benchmark == "ad01":
        same = [round(a, 3) == round(b, 3) for a, b in zip(logged, expected)]
        return None if all(same) else f"anomaly score logged {logged[0]:.3f}, tinyinterp {expected[0]:.3f}"
    quant = device.output_quant
    q_logged = requantize(logged, quant.scale, quant.zero_point)
    q_expected = requantize(expected, quant.scale, quant.zero_point)
    classes = [c for c in range(len(logged)) if q_logged[c] != q_expected[c]]
    if not classes:
        return None
    return "; ".join(
        f"class {c}: logged {logged[c]:.3f} (int8 {q_logged[c]}), "
        f"tinyinterp {expected[c]:.3f} (int8 {q_expected[c]})"
        for c in classes
    )


def _describe(entry: Entry) -> str:
    load = entry.load
    if load.offset is not None:
        return f"line {entry.line} (offset {load.offset})"
    return f"line {entry.line} (segment {load.segment})" if load.segment else f"line {entry.line}"


def validate(parsed: ParsedLog, device: EmulatedDevice, dataset: Path) -> Validation:
    """Recompute every parsed result; report per file; score the logged and the recomputed results."""
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
    expected = [
        parse_payload(payload) or []
        for batch in batches(checkable)
        for payload in device.results([load for _, load in batch])
    ]
    for (entry, _), mine in zip(checkable, expected):
        difference = _difference(device, entry.values or [], mine)
        report = reports[entry.load.file]
        if difference is not None:
            if report.status == "match":
                report.status = "mismatch"
            if len(report.details) < MAX_DETAILS:
                report.details.append(f"{_describe(entry)}: {difference}")
    normalise = parsed.runner != EEMBC_RUNNER
    logged, recomputed, scored = _scores(checkable, expected, stimuli.labels, reports, normalise)
    return Validation(list(reports.values()), logged, recomputed, scored, normalise)


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
