"""10-fold verification accuracy of pair lists and per-group FMR / FNMR of pairs at one threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fairvision.metrics import FairnessWarning, pair_verification_rates, verification_accuracy_10fold

# fold 0: (0.9 same, 0.4 different); fold 1: (0.6 same, 0.5 different); fold 2: (0.3 same, 0.2 different)
SCORES = np.array([0.9, 0.4, 0.6, 0.5, 0.3, 0.2])
SAME = np.array([True, False, True, False, True, False])
FOLDS = np.array([0, 0, 1, 1, 2, 2])


def test_hand_computed_case():
    # fold 0: the other folds sorted are 0.6 S, 0.5 D, 0.3 S, 0.2 D; calling the top 1 or top 3 "same" both get 3/4
    #   right, ties go to the higher threshold: t = (0.6 + 0.5) / 2 = 0.55 -> fold 0 all right (1.0)
    # fold 1: others 0.9 S, 0.4 D, 0.3 S, 0.2 D -> t = 0.65 -> 0.6 S called different, 0.5 D right (0.5)
    # fold 2: others 0.9 S, 0.6 S, 0.5 D, 0.4 D -> t = 0.55 -> 0.3 S called different, 0.2 D right (0.5)
    result = verification_accuracy_10fold(SCORES, SAME, FOLDS)
    assert result.accuracies == (1.0, 0.5, 0.5)
    assert result.thresholds == pytest.approx((0.55, 0.65, 0.55))
    assert result.mean == pytest.approx(2 / 3)
    assert result.std == pytest.approx(math.sqrt(1 / 18))  # ddof=0
    assert result.folds == (0, 1, 2)
    out = result.to_dict()
    assert out["accuracy"] == pytest.approx(2 / 3) and out["fold_accuracies"] == [1.0, 0.5, 0.5]


def test_fold_labels_need_not_be_numbers_and_order_does_not_matter():
    order = np.array([5, 2, 0, 3, 1, 4])
    labels = np.array(["a", "a", "b", "b", "c", "c"])
    result = verification_accuracy_10fold(SCORES[order], SAME[order].astype(int), labels[order])
    assert result.accuracies == (1.0, 0.5, 0.5) and result.folds == ("a", "b", "c")


def test_whole_number_folds_are_contiguous_blocks():
    assert verification_accuracy_10fold(SCORES, SAME, 3).accuracies == (1.0, 0.5, 0.5)


def test_separable_scores_are_perfect_and_constant_folds_use_infinite_thresholds():
    rng = np.random.default_rng(0)
    same = np.tile([True] * 30 + [False] * 30, 10)
    scores = np.where(same, rng.uniform(0.6, 1.0, same.size), rng.uniform(-1.0, 0.4, same.size))
    folds = np.repeat(np.arange(10), 60)
    result = verification_accuracy_10fold(scores, same, folds)
    assert result.mean == 1.0 and result.std == 0.0 and len(result.accuracies) == 10
    assert all(0.4 <= t <= 0.6 for t in result.thresholds)
    # training folds of one kind of pair: all "same" (threshold -inf) or all "different" (+inf)
    only = verification_accuracy_10fold([0.1, 0.2, 0.3], [False, False, True], [0, 0, 1])
    assert only.thresholds == (-np.inf, np.inf) and only.accuracies == (0.0, 0.0)
    assert only.to_dict()["fold_thresholds"] == [None, None]


@pytest.mark.parametrize(
    "scores, same, folds, match",
    [
        (SCORES, SAME, np.zeros(6), "at least two folds"),
        (SCORES, SAME, 1, "folds must be between 2"),
        (SCORES, SAME, FOLDS[:3], "one label per pair"),
        (SCORES, SAME[:3], FOLDS, "same length"),
        (np.r_[SCORES[:5], np.nan], SAME, FOLDS, r"scores\[5\] is nan"),
        (SCORES, np.array([0, 1, 2, 0, 1, 0]), FOLDS, "booleans"),
        (SCORES.reshape(2, 3), SAME, FOLDS, "1-D"),
    ],
)
def test_bad_inputs(scores, same, folds, match):
    with pytest.raises(ValueError, match=match):
        verification_accuracy_10fold(scores, same, folds)


# pairs: a-a same 0.9, b-b same 0.3, a-a different 0.6, b-b different 0.2, a-b different 0.7
P_SCORES = [0.9, 0.3, 0.6, 0.2, 0.7]
P_SAME = [True, True, False, False, False]
P_FIRST = ["a", "b", "a", "b", "a"]
P_SECOND = ["a", "b", "a", "b", "b"]


def test_pair_rates_at_a_given_threshold():
    with pytest.warns(FairnessWarning):  # FMR_b = 0 makes the FMR ratio undefined
        table = pair_verification_rates(P_SCORES, P_SAME, P_FIRST, P_SECOND, threshold=0.5)
    assert list(table.index) == ["a", "b"]
    assert table.loc["a", "FNMR"] == 0.0 and table.loc["a", "FMR"] == 1.0
    assert table.loc["b", "FNMR"] == 1.0 and table.loc["b", "FMR"] == 0.0
    assert list(table["genuine_pairs"]) == [1, 1] and list(table["impostor_pairs"]) == [1, 1]  # a-b pair left out
    assert table.attrs["achieved_fmr"] == pytest.approx(2 / 3) and table.attrs["achieved_fnmr"] == 0.5
    assert table.attrs["threshold_rule"] == "given" and table.attrs["reference_group"] == "a"


def test_pair_rates_threshold_rules():
    with pytest.warns(FairnessWarning):
        at_fmr = pair_verification_rates(P_SCORES, P_SAME, P_FIRST, P_SECOND, target_fmr=0.34)
    # floor(0.34 * 3) = 1 impostor may score >= t: t is just above the second highest impostor score 0.6
    assert 0.6 < at_fmr.attrs["threshold"] < 0.6 + 1e-12 and at_fmr.attrs["achieved_fmr"] == pytest.approx(1 / 3)
    with pytest.warns(FairnessWarning):
        best = pair_verification_rates(P_SCORES, P_SAME, P_FIRST, P_SECOND)
    # sorted: 0.9 S, 0.7 D, 0.6 D, 0.3 S, 0.2 D; calling the top one "same" gets 4/5 right: t = 0.8
    assert best.attrs["threshold"] == pytest.approx(0.8) and best.attrs["threshold_rule"] == "best accuracy"
    with pytest.raises(ValueError, match="not both"):
        pair_verification_rates(P_SCORES, P_SAME, P_FIRST, P_SECOND, threshold=0.5, target_fmr=0.1)
    with pytest.raises(ValueError, match="at least one same-person and one different-person"):
        pair_verification_rates(P_SCORES[:2], P_SAME[:2], P_FIRST[:2], P_SECOND[:2])
    with pytest.raises(ValueError, match="groups_first"):
        pair_verification_rates(P_SCORES, P_SAME, ["a", None, "a", "b", "a"], P_SECOND)
