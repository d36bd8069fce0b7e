"""What a detector's scores are worth on a labelled set: ROC AUC, the confusion counts at a threshold, the Brier
score and calibration (expected calibration error, the reliability table). Labels are 1 (AI-generated) or 0; scores
lie in 0..1; a score at or above the threshold counts as a positive call. Plain Python, exact on small sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


def _check(scores: Sequence[float], labels: Sequence[int]) -> None:
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} scores but {len(labels)} labels")
    if any(label not in (0, 1) for label in labels):
        raise ValueError("labels must be 0 or 1")


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Area under the ROC curve: the chance that a random positive scores above a random negative, ties counted
    half (Mann-Whitney U from average ranks). None when the set lacks positives or negatives."""
    _check(scores, labels)
    positives = sum(labels)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum = 0.0
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        average_rank = (start + end) / 2 + 1  # ranks start at 1; tied scores share their average rank
        rank_sum += average_rank * sum(labels[order[i]] for i in range(start, end + 1))
        start = end + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


@dataclass(frozen=True)
class AtThreshold:
    """Calls at one threshold (score >= threshold: positive) against the labels."""

    threshold: float
    true_positives: int
    false_positives: int
    true_negatives: int
    false_negatives: int
    accuracy: float | None
    precision: float | None  # None when nothing was called positive
    recall: float | None  # None when the set holds no positive
    f1: float | None  # None when precision or recall is None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def at_threshold(scores: Sequence[float], labels: Sequence[int], threshold: float) -> AtThreshold:
    """Confusion counts, accuracy, precision, recall and F1 of the calls at ``threshold``."""
    _check(scores, labels)
    tp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= threshold and y == 1)
    fp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= threshold and y == 0)
    tn = sum(1 for s, y in zip(scores, labels, strict=True) if s < threshold and y == 0)
    fn = len(scores) - tp - fp - tn
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    if precision is None or recall is None:
        f1 = None
    else:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = (tp + tn) / len(scores) if scores else None
    return AtThreshold(threshold, tp, fp, tn, fn, accuracy, precision, recall, f1)


def brier_score(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Mean squared difference between score and label (0 is perfect); None for an empty set."""
    _check(scores, labels)
    if not scores:
        return None
    return sum((s - y) ** 2 for s, y in zip(scores, labels, strict=True)) / len(scores)


@dataclass(frozen=True)
class Bin:
    """One bin of the reliability table: scores in [low, high) (the last bin includes 1.0)."""

    low: float
    high: float
    n: int
    mean_score: float | None  # None for an empty bin
    positive_rate: float | None  # the share labelled 1
    gap: float | None  # |mean_score - positive_rate|

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def reliability(scores: Sequence[float], labels: Sequence[int], bins: int = 10) -> list[Bin]:
    """The reliability table over ``bins`` equal-width bins of 0..1."""
    _check(scores, labels)
    if bins < 1:
        raise ValueError("at least one bin")
    members: list[list[int]] = [[] for _ in range(bins)]
    for i, s in enumerate(scores):
        members[min(bins - 1, max(0, int(s * bins)))].append(i)
    table = []
    for b, idx in enumerate(members):
        if idx:
            mean = sum(scores[i] for i in idx) / len(idx)
            rate = sum(labels[i] for i in idx) / len(idx)
            table.append(Bin(b / bins, (b + 1) / bins, len(idx), mean, rate, abs(mean - rate)))
        else:
            table.append(Bin(b / bins, (b + 1) / bins, 0, None, None, None))
    return table


def expected_calibration_error(table: Sequence[Bin]) -> float | None:
    """The bins' gaps weighted by their share of the set; None for an empty set."""
    total = sum(b.n for b in table)
    if total == 0:
        return None
    return sum(b.n * (b.gap or 0.0) for b in table) / total


def report(scores: Sequence[float], labels: Sequence[int], threshold: float, bins: int = 10) -> dict[str, Any]:
    """Every metric of this module as one JSON-ready dictionary."""
    table = reliability(scores, labels, bins)
    positives = sum(labels)
    return {
        "n": len(labels),
        "positives": positives,
        "negatives": len(labels) - positives,
        "roc_auc": roc_auc(scores, labels),
        "at_threshold": at_threshold(scores, labels, threshold).as_dict(),
        "brier": brier_score(scores, labels),
        "ece": expected_calibration_error(table),
        "bins": [b.as_dict() for b in table],
    }
