"""Accuracy as the MLPerf Tiny runner scores it (benchmark/runner/main.py, `summarize_result`).

Per file, each printed result vector with more than one value is normalised to sum 1 and the file's
prediction is the mean of its vectors (ad01: the mean anomaly score of its windows). Then:
- Top-1 = percent of files whose argmax is the label (for ad01 the runner prints, under the same name,
  the best (precision + recall) / 2 over 100 thresholds; ad01 is judged by AUC);
- AUC = ROC AUC of the file predictions (one-vs-rest macro average over classes for more than two classes),
  ties counted half, as sklearn's `roc_auc_score` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tinyinterp.suite.benchmarks import BENCHMARKS


@dataclass(frozen=True)
class FileResults:
    file: str
    label: int
    results: tuple[tuple[float, ...], ...]  # parsed m-results values, one vector per load


@dataclass(frozen=True)
class Score:
    files: int
    top1: float  # percent, as the runner's "Top 1% =" line
    auc: float | None  # None where undefined (a class without examples)
    predictions: tuple[float, ...]  # per file: predicted class, or ad01's anomaly score

    def headline(self, benchmark: str) -> tuple[str, float | None]:
        return ("AUC", self.auc) if BENCHMARKS[benchmark].metric == "AUC" else ("top-1", self.top1)


def _normalised(values: tuple[float, ...]) -> list[float]:
    total = sum(values)  # Python's sequential sum, as the runner's normalize_probabilities
    return [v / total for v in values] if len(values) > 1 and total != 0 else list(values)


def binary_auc(positive: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC by average ranks (Mann-Whitney U), ties counting half."""
    positive = np.asarray(positive, bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    _, inverse, counts = np.unique(np.asarray(scores, np.float64), return_inverse=True, return_counts=True)
    average_ranks = np.cumsum(counts) - (counts - 1) / 2.0
    rank_sum = float(average_ranks[inverse.ravel()][positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def _auc(labels: np.ndarray, predictions: np.ndarray) -> float | None:
    if predictions.shape[1] <= 2:
        return binary_auc(labels == 1, predictions[:, -1])
    per_class = [binary_auc(labels == c, predictions[:, c]) for c in range(predictions.shape[1])]
    defined = [auc for auc in per_class if auc is not None]
    return float(np.mean(defined)) if len(defined) == len(per_class) else None


def _anomaly_accuracy(labels: np.ndarray, scores: np.ndarray) -> float:
    """The runner's figure for ad01: max over thresholds of 100 * (precision + recall) / 2."""
    low, high = np.amin(scores), np.amax(scores)
    best = 0.0
    for threshold in low + np.arange(0.0, 1.0, 0.01) * (high - low):
        predicted = scores > threshold
        true_positive = np.sum(predicted[labels == 1])
        false_positive = np.sum(predicted[labels == 0])
        false_negative = np.sum(~predicted[labels == 1])
        precision = true_positive / (true_positive + false_positive + 1e-8)
        recall = true_positive / (true_positive + false_negative + 1e-8)
        best = max(best, 100 * (precision + recall) / 2)
    return float(best)


def score_files(files: Sequence[FileResults], normalise: bool = True) -> Score:
    """Score files as the MLPerf Tiny runner does (each vector normalised to sum 1), or with
    `normalise=False` as the EEMBC runner did (the raw printed values: a model printing raw
    pre-softmax scores, negatives included, keeps its argmax)."""
    if not files or any(not f.results for f in files):
        raise ValueError("scoring needs at least one file, each with at least one result")
    prepare = _normalised if normalise else list
    predictions = np.array([np.mean([prepare(r) for r in f.results], axis=0) for f in files])
    labels = np.array([f.label for f in files])
    if predictions.shape[1] == 1:
        return Score(
            len(files),
            _anomaly_accuracy(labels, predictions[:, 0]),
            _auc(labels, predictions),
            tuple(float(p) for p in predictions[:, 0]),
        )
    predicted = np.argmax(predictions, axis=1)
    top1 = 100 * int(np.sum(labels == predicted)) / len(files)
    return Score(len(files), top1, _auc(labels, predictions), tuple(float(p) for p in predicted))
