"""The evaluation metrics against independent computations: AUC by counting every positive/negative pair, the
confusion counts, Brier score and calibration by hand."""

from __future__ import annotations

import random

import pytest

from cairn.signals.detector import metrics


def auc_by_pairs(scores: list[float], labels: list[int]) -> float:
    """Every (positive, negative) pair: 1 when the positive scores higher, 1/2 on a tie."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(12))
def test_auc_equals_pair_counting_with_and_without_ties(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(2, 60)
    labels = [rng.randint(0, 1) for _ in range(n)]
    labels[0], labels[1] = 0, 1  # both classes present
    digits = rng.choice([1, 2, 6])  # one digit: many ties
    scores = [round(rng.random(), digits) for _ in range(n)]
    assert metrics.roc_auc(scores, labels) == pytest.approx(auc_by_pairs(scores, labels), abs=1e-12)


def test_auc_by_hand() -> None:
    assert metrics.roc_auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert metrics.roc_auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert metrics.roc_auc([0.5, 0.5, 0.5], [0, 1, 1]) == 0.5
    # pairs (pos 0.4 / 0.7 against neg 0.4 / 0.1): 0.5 + 1 + 1 + 1 = 3.5 of 4
    assert metrics.roc_auc([0.4, 0.7, 0.4, 0.1], [1, 1, 0, 0]) == 3.5 / 4
    assert metrics.roc_auc([0.1, 0.9], [1, 1]) is None
    assert metrics.roc_auc([], []) is None


def test_counts_and_rates_at_a_threshold() -> None:
    scores = [0.9, 0.6, 0.5, 0.4, 0.2, 0.7]
    labels = [1, 1, 0, 1, 0, 0]
    t = metrics.at_threshold(scores, labels, 0.5)  # 0.5 itself is a positive call
    assert (t.true_positives, t.false_positives, t.true_negatives, t.false_negatives) == (2, 2, 1, 1)
    assert t.accuracy == 3 / 6 and t.precision == 2 / 4 and t.recall == 2 / 3
    assert t.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    none_called = metrics.at_threshold([0.1, 0.2], [1, 0], 0.5)
    assert none_called.precision is None and none_called.recall == 0.0 and none_called.f1 is None
    no_positives = metrics.at_threshold([0.1, 0.7], [0, 0], 0.5)
    assert no_positives.recall is None and no_positives.precision == 0.0 and no_positives.accuracy == 0.5
    wrong = metrics.at_threshold([0.9], [0], 0.5)
    assert wrong.precision == 0.0 and wrong.recall is None
    missed = metrics.at_threshold([0.9, 0.1], [0, 1], 0.5)
    assert missed.precision == 0.0 and missed.recall == 0.0 and missed.f1 == 0.0


def test_brier_score_by_hand() -> None:
    # (0.9-1)^2 + (0.3-0)^2 + (0.6-1)^2 + (0-0)^2 = 0.01 + 0.09 + 0.16 + 0 = 0.26, over 4
    assert metrics.brier_score([0.9, 0.3, 0.6, 0.0], [1, 0, 1, 0]) == pytest.approx(0.065)
    assert metrics.brier_score([], []) is None


def test_reliability_table_and_ece_by_hand() -> None:
    scores = [0.1, 0.2, 0.3, 0.6, 0.8, 1.0]
    labels = [0, 0, 1, 1, 1, 0]
    table = metrics.reliability(scores, labels, bins=2)
    low, high = table
    assert (low.low, low.high, low.n) == (0.0, 0.5, 3)
    assert low.mean_score == pytest.approx(0.2) and low.positive_rate == pytest.approx(1 / 3)
    assert (high.low, high.high, high.n) == (0.5, 1.0, 3)  # 1.0 falls in the last bin
    assert high.mean_score == pytest.approx(0.8) and high.positive_rate == pytest.approx(2 / 3)
    # ECE = 3/6 * |0.2 - 1/3| + 3/6 * |0.8 - 2/3| = 0.5 * 0.1333 + 0.5 * 0.1333
    assert metrics.expected_calibration_error(table) == pytest.approx(2 / 15)
    ten = metrics.reliability([0.05, 0.05, 0.95], [0, 1, 1], bins=10)
    assert [b.n for b in ten] == [2, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert ten[1].mean_score is None and ten[1].gap is None
    # 2/3 * |0.05 - 0.5| + 1/3 * |0.95 - 1| = 0.3 + 0.016667
    assert metrics.expected_calibration_error(ten) == pytest.approx(0.3 + 0.05 / 3)
    assert metrics.expected_calibration_error(metrics.reliability([], [], 3)) is None


def test_report_holds_every_metric_and_refuses_bad_input() -> None:
    out = metrics.report([0.9, 0.1, 0.8, 0.3], [1, 0, 1, 0], 0.5, bins=5)
    assert (out["n"], out["positives"], out["negatives"], out["roc_auc"]) == (4, 2, 2, 1.0)
    assert out["at_threshold"]["accuracy"] == 1.0 and len(out["bins"]) == 5
    assert out["brier"] == pytest.approx((0.01 + 0.01 + 0.04 + 0.09) / 4)
    with pytest.raises(ValueError, match="2 scores but 1 labels"):
        metrics.roc_auc([0.1, 0.2], [1])
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        metrics.brier_score([0.1], [2])
