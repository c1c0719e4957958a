"""Attribute bias metrics of Iofinova et al. (CVPR 2023) against hand-computed cases.

Expected numbers are written out by hand (counts and fractions in comments),
never taken from the functions under test; scikit-learn, where installed, is
an independent check of AUC and R².
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fairvision._io import jsonable
from fairvision.metrics import (
    DEFAULT_PROTECTED,
    POLICIES,
    AttributeBiasReport,
    attribute_bias_report,
    attribute_metrics,
    bias_amplification,
    error_rate_gaps,
    recalibrate_thresholds,
)
from fairvision.metrics._attribute_report import SUMMARY_COLUMNS
from fairvision.metrics._attributes import ATTRIBUTE_COLUMNS, _ece

# --------------------------------------------------------------------------- per-attribute metrics

# two attributes, four samples; predictions at t = 0: col 0 -> [1, 0, 1, 0], col 1 -> [0, 1, 0, 1] (0 is not > 0)
Z = np.array([[2.0, -1.0], [-0.5, 3.0], [1.0, 0.0], [-3.0, 0.5]])
Y = np.array([[1, 0], [1, 1], [0, 0], [0, 1]])


def test_accuracy_auc_positive_rate_uncertainty_by_hand():
    table = attribute_metrics(Z, Y, attributes=["a", "b"], train_rates=[0.3, 0.3])
    assert list(table.columns) == list(ATTRIBUTE_COLUMNS) and table.index.name == "attribute"
    # col 0: labels [1, 1, 0, 0] vs predictions [1, 0, 1, 0] -> 2 of 4 right; col 1: all 4 right
    assert table["accuracy"].tolist() == [0.5, 1.0]
    assert table["positive_rate"].tolist() == [0.5, 0.5]
    # col 0: positives z = 2, -0.5 vs negatives 1, -3: pairs won 2>1, 2>-3, -0.5>-3 -> 3/4; col 1: 4/4
    assert table["auc"].tolist() == pytest.approx([0.75, 1.0])
    # |p - 0.5| < 0.4  <=>  |z| < ln 9 = 2.197: col 0 all but -3 -> 3/4; col 1 all but 3 -> 3/4
    assert table["uncertainty"].tolist() == [0.75, 0.75]


def test_threshold_is_strict_and_per_attribute():
    table = attribute_metrics(Z, Y, attributes=["a", "b"], train_rates=[0.3, 0.3], threshold=[1.0, -1.0])
    # col 0: z > 1 -> only 2.0 -> rate 1/4; col 1: z > -1 -> 3, 0, 0.5 -> 3/4 (-1 itself is not > -1)
    assert table["positive_rate"].tolist() == [0.25, 0.75]


def test_auc_ties_count_half_and_saturated_sigmoids_tie():
    # a positive and a negative at the same logit: (1 win + 0.5 tie) / 2 pairs
    table = attribute_metrics([[0.0], [0.0], [-1.0]], [[1], [0], [0]], attributes=["a"], train_rates=[0.5])
    assert table.loc["a", "auc"] == pytest.approx(0.75)
    # the AUC is of p = sigmoid(z), as the authors compute it: z = 40 and 50 both give p = 1.0 (a tie)
    table = attribute_metrics([[40.0], [50.0]], [[1], [0]], attributes=["a"], train_rates=[0.5])
    assert table.loc["a", "auc"] == 0.5


def test_auc_is_nan_with_one_class():
    table = attribute_metrics(Z, [[1, 0], [1, 1], [1, 0], [1, 1]], attributes=["a", "b"], train_rates=[0.3, 0.3])
    assert np.isnan(table.loc["a", "auc"]) and table.loc["b", "auc"] == pytest.approx(1.0)


def test_auc_matches_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, (400, 5))
    z = np.round(y * 0.8 + rng.standard_normal((400, 5)), 1)  # rounded: many ties
    table = attribute_metrics(z, y, attributes=list("abcde"), train_rates=[0.5] * 5)
    p = 1 / (1 + np.exp(-z))
    expected = [metrics.roc_auc_score(y[:, j], p[:, j]) for j in range(5)]
    assert table["auc"].to_numpy() == pytest.approx(expected, abs=1e-12)


def test_ece_bins_by_hand_with_edges_at_one_tenth_and_one():
    # bins floor(10 p): 0.1 -> bin 1 (with 0.15), 0.05 -> bin 0, 0.95 -> bin 9, 1.0 -> its own bin 10
    # |sum p - sum y| per bin: bin 0 |0.05 - 0| = 0.05, bin 1 |0.25 - 1| = 0.75, bin 9 |0.95 - 1| = 0.05,
    # bin 10 |1.0 - 0| = 1.0; ECE = (0.05 + 0.75 + 0.05 + 1.0) / 5 = 0.37
    # (0.1 in bin 0 would give (0.85 + 0.15 + 0.05 + 1.0) / 5 = 0.41; 1.0 merged into bin 9 would give
    # (0.05 + 0.75 + |1.95 - 1|) / 5 = 0.35)
    probs = np.array([[0.1], [0.15], [0.05], [1.0], [0.95]])
    labels = np.array([[True], [False], [False], [False], [True]])
    assert _ece(probs, labels)[0] == pytest.approx(0.37)


def test_ece_through_logits_with_a_saturated_probability():
    # z = 40 -> p = 1.0 exactly (its own bin); z = 0 -> p = 0.5 (bin 5)
    # bin 10: |1 - 0| = 1; bin 5: |0.5 + 0.5 - 1| = 0 -> ECE = 1/3
    table = attribute_metrics([[40.0], [0.0], [0.0]], [[0], [1], [0]], attributes=["a"], train_rates=[0.5])
    assert table.loc["a", "ece"] == pytest.approx(1 / 3)


def test_interdependence_by_hand():
    # c1 duplicates c0 -> R² 1 both ways; c2 = [1,0,0,0] on c0 = [1,1,0,0]: cov 0.125, var 0.25 and 0.1875,
    # r² = 0.125² / (0.25 * 0.1875) = 1/3; c3 constant -> fitted exactly, R² 1 (as sklearn's score gives)
    pred = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    table = attribute_metrics(np.zeros((4, 4)), pred, attributes=list("abcd"), train_rates=[0.5] * 4,
                              predictions=pred)
    assert table["interdependence_r2"].to_numpy() == pytest.approx([1.0, 1.0, 1 / 3, 1.0])


def _r2_numpy(x: np.ndarray, j: int) -> float:
    """R² of column j on the others with an intercept, by numpy least squares on the data matrix."""
    design = np.column_stack([np.ones(len(x)), np.delete(x, j, axis=1)])
    coef, *_ = np.linalg.lstsq(design, x[:, j], rcond=None)
    resid = x[:, j] - design @ coef
    total = x[:, j] - x[:, j].mean()
    return 1 - (resid @ resid) / (total @ total)


def test_interdependence_matches_least_squares_with_intercept():
    rng = np.random.default_rng(5)
    latent = rng.standard_normal((600, 2))
    z = latent @ rng.standard_normal((2, 8)) + rng.standard_normal((600, 8))
    pred = z > 0
    pred[:, 7] = ~pred[:, 0]  # exactly collinear with column 0 once the intercept is in
    table = attribute_metrics(z, pred.astype(int), attributes=list("abcdefgh"), train_rates=[0.5] * 8,
                              predictions=pred)
    x = pred.astype(float)
    expected = [_r2_numpy(x, j) for j in range(8)]
    assert table["interdependence_r2"].to_numpy() == pytest.approx(expected, abs=1e-9)
    assert table.loc["a", "interdependence_r2"] == pytest.approx(1.0) and table.loc["h", "interdependence_r2"] == \
        pytest.approx(1.0)
    linear_model = pytest.importorskip("sklearn.linear_model")
    for j in range(8):
        others = np.delete(x, j, axis=1)
        score = linear_model.LinearRegression().fit(others, x[:, j]).score(others, x[:, j])
        assert table["interdependence_r2"].iloc[j] == pytest.approx(score, abs=1e-9)


def test_interdependence_of_a_single_attribute_is_zero():
    table = attribute_metrics([[1.0], [-1.0]], [[1], [0]], attributes=["a"], train_rates=[0.5])
    assert table.loc["a", "interdependence_r2"] == 0.0


def test_rare_value_ratio_both_branches():
    labels = np.array([[1, 1, 1], [1, 0, 1], [1, 0, 1], [0, 0, 0]])
    pred = np.array([[1, 1, 1], [1, 0, 1], [0, 1, 0], [0, 1, 0]])
    table = attribute_metrics(np.zeros((4, 3)), labels, attributes=list("abc"), train_rates=[0.7, 0.2, 0.5],
                              predictions=pred)
    # a: training rate 0.7 > 0.5 -> (1 - 2/4) / (1 - 3/4) = 2
    # b: training rate 0.2 -> predicted 3/4 / test rate 1/4 = 3
    # c: training rate exactly 0.5 is not > 0.5 -> 2/4 / (3/4) = 2/3 (the other branch would give 2)
    assert table["rare_value_ratio"].to_numpy() == pytest.approx([2.0, 3.0, 2 / 3])


def test_rare_value_ratio_is_nan_when_the_test_rate_leaves_nothing_to_divide():
    table = attribute_metrics([[1.0, 1.0], [1.0, 1.0]], [[0, 1], [0, 1]], attributes=["a", "b"],
                              train_rates=[0.1, 0.9])
    assert table["rare_value_ratio"].isna().all()  # a: test rate 0; b: 1 - test rate 0


def test_train_rates_as_a_series_are_aligned_by_name():
    pred = np.array([[1, 1], [1, 0], [0, 1], [0, 1]])
    labels = np.array([[1, 1], [1, 0], [1, 0], [0, 0]])
    by_name = pd.Series({"b": 0.2, "a": 0.7})
    table = attribute_metrics(np.zeros((4, 2)), labels, attributes=["a", "b"], train_rates=by_name, predictions=pred)
    # a (0.7): (1 - 1/2) / (1 - 3/4) = 2; b (0.2): (3/4) / (1/4) = 3
    assert table["rare_value_ratio"].tolist() == pytest.approx([2.0, 3.0])


# --------------------------------------------------------------------------- bias amplification


def ba_case(*, pos1=12, pos0=10, pred1=15, pred0=5, train1=60, train0=30, n=20, n_train=100):
    """Attributes [a, g]: n test rows with g=1 (the first pos1 positive for a, the first pred1 predicted a) and
    n with g=0 (pos0, pred0); training rows: n_train with g=1 (train1 positive for a), n_train with g=0 (train0)."""
    y = np.zeros((2 * n, 2), dtype=int)
    pred = np.zeros((2 * n, 2), dtype=int)
    y[:n, 1] = pred[:n, 1] = 1
    y[:pos1, 0] = 1
    y[n:n + pos0, 0] = 1
    pred[:pred1, 0] = 1
    pred[n:n + pred0, 0] = 1
    train = np.zeros((2 * n_train, 2), dtype=int)
    train[:n_train, 1] = 1
    train[:train1, 0] = 1
    train[n_train:n_train + train0, 0] = 1
    logits = np.where(pred == 1, 1.0, -1.0)
    return logits, y, pred, train


def ba_of(case, **kw) -> pd.Series:
    logits, y, pred, train = case
    frame = bias_amplification(logits, y, attributes=["a", "g"], protected=["g"], train_labels=train, **kw)
    assert list(frame.columns) == ["protected", "attribute", "bias_amplification", "skip_reason"]
    assert frame["attribute"].tolist() == ["a"]  # a target equal to the protected attribute is left out
    return frame.iloc[0]


def test_ba_favoured_group_one():
    # training P(a|g=1) = 0.6 > P(a|g=0) = 0.3 -> g* = 1
    # predicted a: 15 with g=1 of 20; labelled a: 12 with g=1 of 22 -> 15/20 - 12/22
    row = ba_of(ba_case())
    assert row["bias_amplification"] == pytest.approx(15 / 20 - 12 / 22)
    assert row["skip_reason"] is None


def test_ba_favoured_group_zero():
    # training P(a|g=1) = 0.3 < P(a|g=0) = 0.6 -> g* = 0: 5/20 predicted in g=0, 10/22 labelled in g=0
    row = ba_of(ba_case(train1=30, train0=60))
    assert row["bias_amplification"] == pytest.approx(5 / 20 - 10 / 22)


def test_ba_through_thresholds_equals_through_predictions():
    logits, y, pred, train = ba_case()
    by_logits = bias_amplification(logits, y, attributes=["a", "g"], protected="g", train_labels=train)
    by_pred = bias_amplification(logits * 0, y, attributes=["a", "g"], protected="g", train_labels=train,
                                 predictions=pred)
    per_cell = bias_amplification(logits, y, attributes=["a", "g"], protected="g", train_labels=train,
                                  threshold=np.zeros(logits.shape))
    pd.testing.assert_frame_equal(by_logits, by_pred)
    pd.testing.assert_frame_equal(by_logits, per_cell)


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"pos1": 9}, "fewer than 10 evaluated positives of a with g=1 (9)"),
        ({"pos0": 9}, "fewer than 10 evaluated positives of a with g=0 (9)"),
        ({"train1": 52, "train0": 50}, "differ by less than 0.1 relative"),  # |0.52 - 0.5| / 0.5 = 0.04
        ({"train1": 0, "train0": 0}, "differ by less than 0.1 relative"),  # both 0: no difference at all
        ({"pred1": 0, "pred0": 0}, "no evaluated sample is predicted a"),
    ],
)
def test_ba_skip_rules(change, reason):
    row = ba_of(ba_case(**change))
    assert np.isnan(row["bias_amplification"])
    assert reason in row["skip_reason"]


def test_ba_skip_rule_boundaries_are_computed():
    # exactly 10 positives in each group; relative difference |0.55 - 0.5| / 0.5 = 0.1 is not < 0.1
    row = ba_of(ba_case(pos1=10, pos0=10, train1=55, train0=50))
    assert row["skip_reason"] is None
    assert row["bias_amplification"] == pytest.approx(15 / 20 - 10 / 20)


def test_ba_with_a_zero_training_rate_in_one_group():
    # min(pos, neg) = 0 with pos > 0: relative difference +inf, computed; g* = 1
    row = ba_of(ba_case(train0=0))
    assert row["bias_amplification"] == pytest.approx(15 / 20 - 12 / 22)


def test_ba_without_training_samples_of_a_group():
    logits, y, pred, train = ba_case()
    row = ba_of((logits, y, pred, train[train[:, 1] == 1]))
    assert np.isnan(row["bias_amplification"]) and row["skip_reason"] == "no training sample with g=0"


def test_ba_thresholds_are_options():
    row = ba_of(ba_case(pos1=9), min_positives=5)
    assert row["bias_amplification"] == pytest.approx(15 / 20 - 9 / 19)
    row = ba_of(ba_case(), min_relative_difference=1.5)  # relative difference 0.3 / 0.3 = 1
    assert "differ by less than 1.5 relative" in row["skip_reason"]


# --------------------------------------------------------------------------- error-rate gaps


def test_fpr_fnr_gaps_by_hand_and_their_sign():
    # g=1 rows 0-3: y_a [1,1,0,0], ŷ_a [1,0,1,1] -> FNR 1/2, FPR 2/2
    # g=0 rows 4-7: y_a [1,1,1,0], ŷ_a [1,1,1,0] -> FNR 0/3, FPR 0/1
    g = [1, 1, 1, 1, 0, 0, 0, 0]
    y = np.column_stack([[1, 1, 0, 0, 1, 1, 1, 0], g])
    pred = np.column_stack([[1, 0, 1, 1, 1, 1, 1, 0], g])
    frame = error_rate_gaps(np.zeros((8, 2)), y, attributes=["a", "g"], protected=["g"], predictions=pred)
    assert list(frame.columns) == ["protected", "attribute", "fpr_0", "fpr_1", "fnr_0", "fnr_1", "fpr_gap", "fnr_gap"]
    row = frame.iloc[0]
    assert (row["protected"], row["attribute"]) == ("g", "a") and len(frame) == 1
    assert [row[c] for c in ("fpr_0", "fpr_1", "fnr_0", "fnr_1")] == [0.0, 1.0, 0.0, 0.5]
    assert (row["fpr_gap"], row["fnr_gap"]) == (1.0, 0.5)  # group 1 minus group 0: group 1 is worse
    swapped = np.column_stack([y[:, 0], 1 - y[:, 1]])
    row = error_rate_gaps(np.zeros((8, 2)), swapped, attributes=["a", "g"], protected="g", predictions=pred).iloc[0]
    assert (row["fpr_gap"], row["fnr_gap"]) == (-1.0, -0.5)


def test_error_rate_is_nan_without_negatives_or_positives_in_a_group():
    y = np.array([[1, 1], [1, 1], [0, 0], [1, 0]])
    frame = error_rate_gaps([[1.0, 1], [-1, 1], [1, -1], [1, -1]], y, attributes=["a", "g"], protected="g")
    row = frame.iloc[0]
    assert np.isnan(row["fpr_1"]) and np.isnan(row["fpr_gap"])  # g=1 has no negative of a
    assert row["fnr_1"] == 0.5 and row["fnr_0"] == 0.0 and row["fpr_0"] == 1.0


# --------------------------------------------------------------------------- recalibration


def test_recalibration_by_hand():
    z = np.array([[0.3, 5.0], [2.0, 4.0], [-1.0, 3.0], [0.7, 2.0], [1.5, 1.0]])
    y = np.array([[1, 0], [0, 0], [1, 0], [0, 0], [1, 0]])
    t = recalibrate_thresholds(z, y)
    # col 0: k = 3 -> 3rd largest of [0.3, 2, -1, 0.7, 1.5] = 0.7; col 1: k = 0 -> +inf (predict nothing)
    assert t.tolist() == [0.7, np.inf]
    assert ((z > t).sum(axis=0)).tolist() == [2, 0]  # k - 1 with a strict >


def test_recalibration_with_every_label_positive_is_the_smallest_logit():
    t = recalibrate_thresholds([[1.0], [3.0], [2.0]], [[1], [1], [1]])
    assert t.tolist() == [1.0]


def test_recalibration_gives_k_minus_one_validation_positives():
    rng = np.random.default_rng(7)
    z = rng.standard_normal((500, 6))
    y = rng.random((500, 6)) < [0.02, 0.1, 0.3, 0.5, 0.8, 0.99]
    t = recalibrate_thresholds(z, y)
    assert ((z > t).sum(axis=0) == y.sum(axis=0) - 1).all()


def test_per_group_recalibration_by_hand():
    z = np.array([[0.3], [2.0], [-1.0], [0.7], [1.5]])
    y = np.array([[1], [0], [1], [1], [0]])
    group = np.array(["m", "m", "f", "f", "f"])
    # f: z [-1, 0.7, 1.5], k = 2 -> 0.7; m: z [0.3, 2.0], k = 1 -> 2.0; rows in sorted order f, m
    assert recalibrate_thresholds(z, y, group=group).tolist() == [[0.7], [2.0]]
    # a listed group without validation samples gets +inf
    assert recalibrate_thresholds(z, y, group=group, groups=["m", "x"]).tolist() == [[2.0], [np.inf]]


def test_per_group_recalibration_gives_k_minus_one_positives_in_each_group():
    rng = np.random.default_rng(8)
    z = rng.standard_normal((400, 4))
    y = rng.random((400, 4)) < 0.3
    group = rng.integers(0, 2, 400)
    t = recalibrate_thresholds(z, y, group=group)
    assert t.shape == (2, 4)
    pred = z > t[group]
    for v in (0, 1):
        assert ((pred[group == v]).sum(axis=0) == y[group == v].sum(axis=0) - 1).all()


def test_recalibration_input_errors():
    with pytest.raises(ValueError, match="one label per validation sample"):
        recalibrate_thresholds(np.zeros((3, 1)), np.zeros((3, 1)), group=[0, 1])
    with pytest.raises(ValueError, match=r"group\[1\] is missing"):
        recalibrate_thresholds(np.zeros((3, 1)), np.zeros((3, 1)), group=["a", None, "b"])


# --------------------------------------------------------------------------- the report


def correlated(n: int, seed: int, names=("Male", "Young", "Smiling", "Bald", "Pale_Skin")):
    """Correlated labels and logits for len(names) attributes."""
    rng = np.random.default_rng(seed)
    a = len(names)
    scores = rng.standard_normal((n, 2)) @ rng.standard_normal((2, a)) + rng.uniform(-1.5, 0.5, a)
    labels = (scores + 0.5 * rng.standard_normal((n, a)) > 0).astype(int)
    logits = 2 * scores + rng.standard_normal((n, a))
    return list(names), logits, labels


@pytest.fixture(scope="module")
def study():
    names, z, y = correlated(3000, 1)
    _, zv, yv = correlated(2000, 2)
    _, _, train = correlated(6000, 3)
    return names, z, y, zv, yv, train


def report_of(study, policy, **kw) -> AttributeBiasReport:
    names, z, y, zv, yv, train = study
    return attribute_bias_report(z, y, attributes=names, train_labels=train, policy=policy, val_logits=zv,
                                 val_labels=yv, **kw)


def test_default_report_pieces_agree_with_the_functions(study):
    names, z, y, _, _, train = study
    report = attribute_bias_report(z, y, attributes=names, train_labels=train)
    assert report.protected == ("Male", "Young", "Pale_Skin")  # DEFAULT_PROTECTED present among the names
    assert report.thresholds["threshold"].tolist() == [0.0] * len(names)
    pd.testing.assert_frame_equal(report.attributes,
                                  attribute_metrics(z, y, attributes=names, train_rates=train.mean(axis=0)))
    ba = bias_amplification(z, y, attributes=names, train_labels=train)
    gaps = error_rate_gaps(z, y, attributes=names)
    pd.testing.assert_frame_equal(report.bias[ba.columns], ba)
    pd.testing.assert_frame_equal(report.bias[gaps.columns].reset_index(drop=True), gaps)


def test_summary_has_one_row_per_attribute_and_protected(study):
    names = study[0]
    summary = report_of(study, "default", protected=["Male", "Young"]).summary()
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert len(summary) == 2 * len(names)
    assert summary.loc[summary["protected"] == "Male", "attribute"].tolist() == names
    self_rows = summary[summary["attribute"] == summary["protected"]]
    assert self_rows[["bias_amplification", "fpr_gap", "fnr_gap"]].isna().all().all()
    # per-attribute values repeat across protected attributes
    male, young = (summary[summary["protected"] == g].set_index("attribute") for g in ("Male", "Young"))
    pd.testing.assert_series_equal(male["accuracy"], young["accuracy"])


def test_recalibrated_report_uses_validation_thresholds(study):
    names, z, y, zv, yv, _ = study
    report = report_of(study, "recalibrated")
    t = recalibrate_thresholds(zv, yv)
    assert report.thresholds["threshold"].to_numpy() == pytest.approx(t)
    assert report.attributes["positive_rate"].to_numpy() == pytest.approx((z > t).mean(axis=0))
    assert report.summary()["threshold"].iloc[: len(names)].to_numpy() == pytest.approx(t)


def test_per_group_report_thresholds_by_group_of_each_protected(study):
    names, z, y, zv, yv, train = study
    report = report_of(study, "recalibrated_per_group", protected=["Male", "Young"])
    g = names.index("Young")
    t = recalibrate_thresholds(zv, yv, group=yv[:, g])
    assert report.thresholds[("Young", 0)].to_numpy() == pytest.approx(t[0])
    assert report.thresholds[("Young", 1)].to_numpy() == pytest.approx(t[1])
    per_row = t[y[:, g]]
    expected = bias_amplification(z, y, attributes=names, protected="Young", train_labels=train, threshold=per_row)
    got = report.bias[report.bias["protected"] == "Young"][expected.columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)
    table = attribute_metrics(z, y, attributes=names, train_rates=train.mean(axis=0), threshold=per_row)
    pd.testing.assert_frame_equal(report.attributes.loc["Young"], table)
    summary = report.summary()
    assert list(summary.columns) == [*SUMMARY_COLUMNS, "threshold_0", "threshold_1"]
    assert summary["threshold"].isna().all()
    young = summary[summary["protected"] == "Young"]
    assert young["threshold_1"].to_numpy() == pytest.approx(t[1])
    assert young["accuracy"].to_numpy() == pytest.approx(table["accuracy"].to_numpy())


@pytest.mark.parametrize("policy", POLICIES)
def test_to_dict_is_strict_json(study, policy):
    names = study[0]
    result = report_of(study, policy, protected=["Male", "Bald"]).to_dict()
    assert list(result) == ["attributes", "bias_amplification", "fpr_gap", "fnr_gap", "thresholds"]
    text = json.dumps(jsonable(result), allow_nan=False)
    back = json.loads(text)
    assert list(back["bias_amplification"]) == ["Male", "Bald"]
    assert set(back["fpr_gap"]["Male"]) == set(names) - {"Male"}
    if policy == "recalibrated_per_group":
        assert set(back["attributes"]) == {"Male", "Bald"}
        assert set(back["attributes"]["Male"]["Smiling"]) == set(ATTRIBUTE_COLUMNS)
        assert set(back["thresholds"]["Bald"]["Smiling"]) == {"0", "1"}
    else:
        assert list(back["attributes"]) == names
        assert set(back["attributes"]["Smiling"]) == set(ATTRIBUTE_COLUMNS)
        assert list(back["thresholds"]) == names


def test_to_dict_writes_skipped_values_and_infinite_thresholds_as_none():
    logits, y, pred, train = ba_case(pos1=9)
    report = attribute_bias_report(logits, y, attributes=["a", "g"], train_labels=train, protected=["g"],
                                   policy="recalibrated", val_logits=[[1.0, 0.0], [2.0, 0.0]],
                                   val_labels=[[1, 0], [0, 0]])
    result = report.to_dict()
    assert result["bias_amplification"] == {"g": {"a": None}}
    assert result["thresholds"] == {"a": 2.0, "g": None}  # g: no positive validation label -> +inf


def test_default_protected_is_the_papers():
    assert DEFAULT_PROTECTED == ("Male", "Young", "Chubby", "Pale_Skin")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"policy": "per_group"}, "policy must be one of default, recalibrated, recalibrated_per_group"),
        ({"policy": "recalibrated", "val_logits": None}, "needs val_logits and val_labels"),
        ({"protected": ["Male", "Hat"]}, "protected attribute 'Hat' is not an attribute"),
        ({"protected": []}, "at least one"),
        ({"attributes": ["a", "b", "c", "d", "e"]}, "none of the default protected attributes"),
        ({"attributes": ["Male"] * 5}, "attribute 'Male' is named twice"),
        ({"attributes": ["Male", "Young"]}, "names 2 attribute(s) but the matrices have 5"),
        ({"val_logits": np.zeros((10, 4)), "policy": "recalibrated"}, "val_logits has 4 columns, expected 5"),
        ({"train_labels": np.full((4, 5), 2)}, "train_labels[0, 0] is 2: labels must be 0 or 1"),
        ({"train_labels": np.zeros((0, 5))}, "train_labels is empty"),
    ],
)
def test_report_input_errors(study, kwargs, message):
    names, z, y, zv, yv, train = study
    args = {"attributes": names, "train_labels": train, "val_logits": zv, "val_labels": yv, **kwargs}
    with pytest.raises(ValueError) as info:
        attribute_bias_report(z, y, **args)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "logits, labels, message",
    [
        ([[0.0, np.nan]], [[0, 1]], "logits[0, 1] is nan: logits must be finite"),
        ([[0.0, np.inf]], [[0, 1]], "logits[0, 1] is inf"),
        ([[0.0, 1.0]], [[0, -1]], "labels[0, 1] is -1: labels must be 0 or 1"),
        ([[0.0, 1.0]], [[0.5, 1]], "labels[0, 0] is 0.5"),
        ([[0.0, 1.0]], [[0, 1], [1, 0]], "labels has 2 rows, expected 1"),
        ([0.0, 1.0], [0, 1], "logits must be a matrix"),
        ([[0.0, 1.0]], [["x", "y"]], "labels must be real numbers"),
    ],
)
def test_metric_input_errors(logits, labels, message):
    with pytest.raises(ValueError) as info:
        attribute_metrics(logits, labels, attributes=["a", "b"], train_rates=[0.5, 0.5])
    assert message in str(info.value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"threshold": [0.0, 0.0, 0.0]}, "threshold must be a number, one per attribute (2,)"),
        ({"threshold": [0.0, np.nan]}, "threshold contains NaN"),
        ({"threshold": 1.0, "predictions": [[1, 0]]}, "pass threshold or predictions, not both"),
        ({"predictions": [[1, 0, 1]]}, "predictions has 3 columns"),
        ({"train_rates": [0.5, 1.5]}, "train_rates[1] is 1.5: rates must lie in [0, 1]"),
        ({"train_rates": [0.5]}, "train_rates has 1 value(s), expected 2"),
    ],
)
def test_option_errors(kwargs, message):
    args = {"attributes": ["a", "b"], "train_rates": [0.5, 0.5], **kwargs}
    with pytest.raises(ValueError) as info:
        attribute_metrics([[0.0, 1.0]], [[0, 1]], **args)
    assert message in str(info.value)
