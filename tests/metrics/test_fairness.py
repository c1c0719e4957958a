"""fairness_metrics, group_table and the bootstrap on hand-computed cases."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from fairvision.metrics import METRIC_NAMES, FairnessWarning, fairness_metrics, group_table


def hand_case():
    # group x: ranks [0, 0, 3, 1] -> acc 0.5, mean rank 1.0; group y: [0, 0, 0, 2] -> acc 0.75, mean rank 0.5
    ranks = np.array([0, 0, 3, 1, 0, 0, 0, 2])
    groups = np.array(["x"] * 4 + ["y"] * 4)
    return ranks, groups


@pytest.mark.parametrize(
    "reference, expected",
    [
        # default reference = first sorted ("x"): numerator y
        (None, {"Ratio": abs(1 - 0.75 / 0.5), "Error Ratio": abs(1 - 0.25 / 0.5), "Rank Ratio": abs(1 - 0.5 / 1.0)}),
        ("y", {"Ratio": abs(1 - 0.5 / 0.75), "Error Ratio": abs(1 - 0.5 / 0.25), "Rank Ratio": abs(1 - 1.0 / 0.5)}),
    ],
)
def test_two_groups_hand_computed(reference, expected):
    ranks, groups = hand_case()
    report = fairness_metrics(ranks, groups, reference_group=reference)
    assert report.metrics["Error"] == pytest.approx(3 / 8)
    assert report.metrics["Disparity"] == pytest.approx(0.25)
    assert report.metrics["Rank Disparity"] == pytest.approx(0.5)
    for name, value in expected.items():
        assert report.metrics[name] == pytest.approx(value)
    assert report.reference_group == (reference or "x")
    assert list(report.metrics.index) == list(METRIC_NAMES)


def test_group_names_are_data():
    ranks, groups = hand_case()
    renamed = np.where(groups == "x", "female", "male")
    a = fairness_metrics(ranks, groups).metrics
    b = fairness_metrics(ranks, renamed).metrics
    pd.testing.assert_series_equal(a, b)


def test_group_table_columns():
    ranks, groups = hand_case()
    table = group_table(ranks, groups, identities=np.array([1, 1, 2, 2, 3, 3, 4, 4]))
    assert list(table.index) == ["x", "y"]
    assert table.loc["x", "accuracy"] == 0.5 and table.loc["y", "mean_rank"] == 0.5
    assert table.loc["x", "identities"] == 2 and table["n"].tolist() == [4, 4]


def test_more_than_two_groups_max_over_pairs():
    rng = np.random.default_rng(0)
    groups = np.repeat(["African", "Asian", "Caucasian", "Indian"], 50)
    ranks = rng.poisson(np.repeat([0.5, 1.0, 0.2, 0.8], 50))
    report = fairness_metrics(ranks, groups)
    assert len(report.pairs) == 6
    acc = {g: np.mean(ranks[groups == g] == 0) for g in np.unique(groups)}
    mr = {g: np.mean(ranks[groups == g]) for g in np.unique(groups)}
    ratios = [abs(1 - acc[a] / acc[b]) for a, b in itertools.combinations(sorted(acc), 2)]
    rank_disp = [abs(mr[a] - mr[b]) for a, b in itertools.combinations(sorted(acc), 2)]
    assert report.metrics["Ratio"] == pytest.approx(max(ratios))  # FR-NAS RFW: earlier group / later group
    assert report.metrics["Rank Disparity"] == pytest.approx(max(rank_disp))
    assert report.summary["Rank Disparity (mean over pairs)"] == pytest.approx(np.mean(rank_disp))
    err = np.array([1 - acc[g] for g in sorted(acc)])
    assert report.summary["error_max_over_geomean"] == pytest.approx(err.max() / np.exp(np.log(err).mean()))
    assert report.reference_group is None


def test_reference_group_is_denominator_in_its_pairs():
    groups = np.repeat(["a", "b", "c"], 4)
    ranks = np.array([0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 1])  # acc a .75, b .5, c .25
    report = fairness_metrics(ranks, groups, reference_group="c")
    pairs = report.pairs.set_index(["group", "reference"])
    assert pairs.loc[("a", "c"), "Ratio"] == pytest.approx(abs(1 - 0.75 / 0.25))
    assert pairs.loc[("b", "c"), "Ratio"] == pytest.approx(abs(1 - 0.5 / 0.25))
    assert pairs.loc[("a", "b"), "Ratio"] == pytest.approx(abs(1 - 0.75 / 0.5))


def test_division_by_zero_is_nan_with_warning():
    ranks = np.array([1, 2, 0, 0])  # group "a" has accuracy 0 and group "b" error 0
    groups = np.array(["a", "a", "b", "b"])
    with pytest.warns(FairnessWarning, match="Error Ratio"):
        report = fairness_metrics(ranks, groups, reference_group="b")
    assert np.isnan(report.metrics["Error Ratio"])
    assert report.metrics["Ratio"] == pytest.approx(1.0)
    assert report.to_dict()["Error Ratio"] is None


def test_no_warning_when_defined():
    ranks, groups = hand_case()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fairness_metrics(ranks, groups)


@pytest.mark.parametrize(
    "ranks, groups, kwargs, match",
    [
        ([0, 1], ["a", "a"], {}, "at least two groups"),
        ([0, 1], ["a", "b"], {"reference_group": "z"}, "not among"),
        ([0, -2], ["a", "b"], {}, "integers >= -1"),
        ([0, 1], ["a"], {}, "equal length"),
        ([0, 1], ["a", "b"], {"bootstrap": 10}, "identities"),
    ],
)
def test_bad_input(ranks, groups, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fairness_metrics(np.array(ranks), np.array(groups), **kwargs)


@pytest.mark.parametrize(
    "ranks, message",
    [
        ([0, 1, np.inf, 0], r"ranks\[2\] is inf: ranks must be integers >= -1"),
        ([0, 1, -np.inf, 0], r"ranks\[2\] is -inf"),
        ([0, 1, 1e30, 0], r"ranks\[2\] is 1e\+30"),
        ([0, 1, 2.0**53, 0], r"ranks\[2\] is 9007199254740992"),
        ([0, 1, np.nan, 0], r"ranks\[2\] is nan"),
        ([0, 1.5, 1, 0], r"ranks\[1\] is 1.5"),
        ([0, 1, -2, 0], r"ranks\[2\] is -2:"),
        (np.array([0, 1, 2**62, 0], dtype=np.int64), r"ranks\[2\] is 4611686018427387904"),
        (np.array([0, 1, 1 + 2j, 0]), "complex"),
        (np.array([True, False, True, False]), "dtype bool"),
        (np.array(["0", "1", "x", "0"], dtype=object), "must be numbers"),
        (pd.array([0, 1, None, 0], dtype="Int64"), r"ranks\[2\] is nan"),
    ],
)
def test_bad_ranks_name_the_position_and_value(ranks, message):
    """inf / huge ranks were cast to int64 and counted as -1 (excluded): a silent wrong number."""
    with pytest.raises(ValueError, match=message) as exc:
        fairness_metrics(ranks, ["a", "a", "b", "b"])
    assert "np." not in str(exc.value)


def test_largest_valid_ranks_are_accepted():
    report = fairness_metrics(np.array([0, 2.0**53 - 1, -1, 0, 3]), ["a", "a", "a", "b", "b"])
    assert report.by_group.loc["a", "n"] == 2 and report.by_group.loc["a", "n_excluded"] == 1


@pytest.mark.parametrize(
    "groups, identities, message",
    [
        (["a", None, "b", "b"], None, r"groups\[1\] is missing \(None\)"),
        (["a", "a", "b", np.nan], None, r"groups\[3\] is missing \(nan\)"),
        (["a", "", "b", "b"], None, r"groups\[1\] is missing \(''\)"),
        (pd.Series(["a", "a", "b", None]), None, r"groups\[3\] is missing"),
        (["a", "a", "b", "b"], [1, 1, None, 2], r"identities\[2\] is missing \(None\)"),
        (["a", "a", "b", "b"], [1.0, np.nan, 2.0, 3.0], r"identities\[1\] is missing \(nan\)"),
        (["a", "a", "b", "b"], ["p", "p", " ", "q"], r"identities\[2\] is missing \(' '\)"),
        (["a", "a", "b", "b"], pd.Series(["p", "p", pd.NA, "q"], dtype="string"), r"identities\[2\] is missing"),
    ],
)
@pytest.mark.parametrize("bootstrap", [0, 20])
def test_missing_groups_or_identities_are_errors(groups, identities, message, bootstrap):
    """A blank identity was dropped by the bootstrap but kept by the point estimate."""
    if bootstrap and identities is None:
        identities = [1, 1, 2, 3]
    with pytest.raises(ValueError, match=message):
        fairness_metrics([0, 1, 0, 2], groups, identities=identities, bootstrap=bootstrap)


@pytest.mark.parametrize("bootstrap", [-5, 1, 2.5, True, "10"])
def test_bad_bootstrap_counts(bootstrap):
    with pytest.raises(ValueError, match=r"bootstrap must be (0 \(no confidence intervals\) or at least 2|a whole number)"):
        fairness_metrics([0, 1, 0, 2], ["a", "a", "b", "b"], identities=[1, 1, 2, 3], bootstrap=bootstrap)


@pytest.mark.parametrize("bootstrap, has_ci", [(0, False), (2, True), (np.int64(5), True)])
def test_good_bootstrap_counts(bootstrap, has_ci):
    report = fairness_metrics([0, 1, 0, 2], ["a", "a", "b", "b"], identities=[1, 1, 2, 3], bootstrap=bootstrap)
    assert (report.ci is not None) == has_ci


def test_string_labels_from_lists_keep_missing_values():
    # numpy would turn [..., None] into the string 'None' and hide the missing value
    with pytest.raises(ValueError, match="missing"):
        fairness_metrics([0, 1, 0], ["a", "b", None])


def test_bootstrap_resamples_identities_and_is_seeded():
    rng = np.random.default_rng(3)
    identities = np.repeat(np.arange(60), 5)
    groups = np.where(identities < 30, "a", "b")
    # identity-level effect: all images of an identity share its difficulty
    ranks = rng.poisson(np.repeat(rng.gamma(1.0, np.where(np.arange(60) < 30, 0.5, 1.5)), 5))
    a = fairness_metrics(ranks, groups, identities=identities, bootstrap=400, seed=1)
    b = fairness_metrics(ranks, groups, identities=identities, bootstrap=400, seed=1)
    c = fairness_metrics(ranks, groups, identities=identities, bootstrap=400, seed=2)
    pd.testing.assert_frame_equal(a.ci, b.ci)
    assert not a.ci.equals(c.ci)
    for name in METRIC_NAMES:
        lo, hi = a.ci.loc[name, ["lower", "upper"]]
        assert np.isfinite([lo, hi]).all() and lo < hi
        if name in ("Error", "Disparity", "Rank Disparity"):  # ratios are skewed: a percentile CI may miss them
            assert lo <= a.metrics[name] <= hi
    # Resampling identities gives wider intervals than resampling rows would (correlated images).
    rows = fairness_metrics(ranks, groups, identities=np.arange(len(ranks)), bootstrap=400, seed=1)
    assert a.ci.loc["Error", "std"] > rows.ci.loc["Error", "std"]
    assert set(a.to_dict()["ci"]) == set(METRIC_NAMES)


@pytest.mark.parametrize("errors_a, errors_b, n", [(4, 2, 10), (1, 0, 10), (10, 0, 10), (3, 3, 7)])
def test_log_odds_gap_formula(errors_a, errors_b, n):
    """|logit(err_a) - logit(err_b)| with err = (errors + 0.5) / (n + 1): finite at 0 and 1, 0 for equal errors."""
    import math

    ranks = [1] * errors_a + [0] * (n - errors_a) + [2] * errors_b + [0] * (n - errors_b)
    groups = ["a"] * n + ["b"] * n
    report = fairness_metrics(ranks, groups)
    lo = [math.log(((e + 0.5) / (n + 1)) / (1 - (e + 0.5) / (n + 1))) for e in (errors_a, errors_b)]
    assert report.metrics["Log-Odds Gap"] == pytest.approx(abs(lo[0] - lo[1]), abs=1e-12)
    assert math.isfinite(report.metrics["Log-Odds Gap"])


def test_log_odds_gap_is_undefined_for_a_group_without_samples():
    """A group whose every rank is -1 has no error rate: NaN like the other pair metrics, not logit(0.5)."""
    with pytest.warns(FairnessWarning):
        report = fairness_metrics([0, 0, 1, 0, 2, -1, -1, -1], ["A"] * 5 + ["B"] * 3)
    assert math.isnan(report.metrics["Log-Odds Gap"]) and math.isnan(report.metrics["Disparity"])
