"""Scoring as the MLPerf Tiny runner scores, on small cases worked out by hand."""

from __future__ import annotations

import pytest

from tinyinterp.suite.protocol import requantize
from tinyinterp.suite.scoring import FileResults, Score, score_files


def one(label: int, *vector: float) -> FileResults:
    return FileResults(f"{label}-{vector}.bin", label, (vector,))


def test_three_classes_by_hand() -> None:
    files = [one(0, 6, 3, 1), one(1, 2, 5, 3), one(2, 1, 2, 7), one(0, 4, 12, 4)]
    # Normalised to sum 1: (0.6, 0.3, 0.1), (0.2, 0.5, 0.3), (0.1, 0.2, 0.7), (0.2, 0.6, 0.2).
    # Predicted 0, 1, 2, 1: 3 of 4 right. AUC per class over (positive, negative) pairs, ties half:
    # class 0: 0.6 beats 0.2 and 0.1, 0.2 ties 0.2 and beats 0.1: 3.5 / 4; class 1: 0.5 beats 0.3 and
    # 0.2, not 0.6: 2 / 3; class 2: 0.7 beats all three: 1. Mean (0.875 + 2/3 + 1) / 3.
    assert score_files(files) == Score(
        files=4, top1=75.0, auc=pytest.approx((0.875 + 2 / 3 + 1) / 3), predictions=(0.0, 1.0, 2.0, 1.0)
    )


def test_two_classes_use_the_last_score() -> None:
    # vww01: AUC of class 1's score; (2, 6) normalises to (0.25, 0.75), so the labels 1 and 0 are both right.
    files = [one(1, 2, 6), one(0, 3, 1), one(1, 1, 1)]
    assert score_files(files) == Score(3, pytest.approx(200 / 3), 1.0, (1.0, 0.0, 0.0))


def test_raw_values_are_scored_as_printed_without_normalising() -> None:
    # (-1, -3) normalises to (0.25, 0.75), but the EEMBC runner compares the raw values: class 0.
    files = [one(0, -1, -3), one(1, 0, 2)]
    assert score_files(files, normalise=False).predictions == (0.0, 1.0)
    assert score_files(files).predictions == (1.0, 1.0)


def test_a_class_without_examples_leaves_the_auc_undefined() -> None:
    assert score_files([one(0, 1, 0, 0), one(1, 0, 1, 0)]).auc is None


@pytest.mark.parametrize("files", [[], [FileResults("a.bin", 0, ())]])
def test_scoring_needs_results(files: list[FileResults]) -> None:
    with pytest.raises(ValueError, match=r"^scoring needs at least one file, each with at least one result$"):
        score_files(files)


def anomaly(labels: list[int], scores: list[float]) -> Score:
    return score_files([one(label, score) for label, score in zip(labels, scores)])


def test_anomaly_accuracy_by_hand() -> None:
    # Thresholds low + k (high - low) / 100; predicted anomalous above. Scores -1 (anomaly), -0.5, 0.2
    # (normal), 1 (anomaly): above any threshold in [0.2, 1) only 1, precision 1 and recall 1/2, the best
    # of the thresholds (the runner adds 1e-8 to each denominator).
    found = anomaly([1, 0, 0, 1], [-1.0, -0.5, 0.2, 1.0])
    assert found.top1 == 100 * (1 / (1 + 1e-8) + 1 / (2 + 1e-8)) / 2
    assert found.auc == 0.5  # pairs: -1 below both normals, 1 above both
    # The lowest threshold is the lowest score, and a score equal to it is not above it: nothing right.
    assert anomaly([1, 0, 0], [0.0, 0.5, 1.0]).top1 == 0.0
    assert anomaly([0, 0], [0.0, 1.0]).top1 == 0.0  # no anomaly at all: precision and recall 0


def test_requantize_clamps_and_rounds_in_float64() -> None:
    # Printed values back to int8 with scale 1/256, zero point -128: 0.996 -> 127, 1.5 clamps to 127,
    # -1 clamps to -128; 0.0019 is 0.4864 of a step: 0 steps.
    assert requantize([0.996, 1.5, -1.0, 0.0019], 1 / 256, -128).tolist() == [127, 127, -128, -128]
    assert requantize([0.5], 1 / 256, -128).dtype == "int64"


def test_a_result_summing_to_zero_is_scored_as_printed() -> None:
    """The runner normalises only a vector whose sum is not 0: [0, 0] stays as printed, argmax class 0."""
    assert score_files([FileResults("a.bin", 0, ((0.0, 0.0),))]).top1 == 100.0


def test_the_headline_is_auc_for_ad01_and_top1_otherwise() -> None:
    score = Score(files=2, top1=50.0, auc=0.75, predictions=(0.0, 1.0))
    assert [score.headline(b) for b in ("ad01", "ic01", "kws01", "vww01")] == [
        ("AUC", 0.75),
        ("top-1", 50.0),
        ("top-1", 50.0),
        ("top-1", 50.0),
    ]
