"""Dense-only predictors of bias growth: features, targets, Spearman with permutation p-values, the
leave-one-attribute-out combined score (and that it never sees the scored attribute), ranking a new dense model
and the `fairvision predict-bias` command."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fairvision.errors import ConfigError, DatasetError
from fairvision.metrics import attribute_metrics
from fairvision.prune.risk import (
    DEFAULT_FEATURE,
    FEATURES,
    TARGETS,
    VALIDATION_COLUMNS,
    bias_growth,
    dense_features,
    leave_one_attribute_out,
    rank_bias_risk,
    spearman_permutation,
    study_features,
    validate_risk,
    write_risk_validation,
)
from ..cli_run import run_cli as run

# ----------------------------------------------------------------------------- a tiny evidence study

TARGET_ATTRIBUTES = ["a", "b", "c", "d", "e"]
ATTRIBUTES = ["Male", *TARGET_ATTRIBUTES]
#: |BA| of each target attribute w.r.t. Male: dense (both seeds) and at 0.9 (seed 0, seed 1).
DENSE_BA = {"a": 0.01, "b": 0.02, "c": 0.03, "d": 0.04, "e": 0.05}
PRUNED_BA = {"a": (0.10, 0.10), "b": (0.02, 0.02), "c": (0.08, 0.12), "d": (0.04, 0.04), "e": (np.nan, 0.06)}


def _labels(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = (rng.random((n, len(ATTRIBUTES))) < np.linspace(0.2, 0.6, len(ATTRIBUTES))).astype(int)
    values[:2] = [[0] * len(ATTRIBUTES), [1] * len(ATTRIBUTES)]  # both classes in every column
    frame = pd.DataFrame({"ids": np.arange(n), "path": [f"{i}.png" for i in range(n)],
                          "identity": [f"id{i // 2}" for i in range(n)], "group": list("AB") * (n // 2)})
    return pd.concat([frame, pd.DataFrame(values, columns=ATTRIBUTES)], axis=1)


def _write_run(folder, logits, test, train):
    folder.mkdir(parents=True)
    np.savetxt(folder / "logits_test.txt", logits)
    test.to_csv(folder / "labels_test.csv", index=False)
    train.to_csv(folder / "labels_train.csv", index=False)
    (folder / "config.yaml").write_text(yaml.safe_dump({"task": {"name": "attribute", "protected": ["Male"]}}))


def _summary() -> pd.DataFrame:
    rows = []
    for requested, seed, values in [(0.0, s, {a: (v,) for a, v in DENSE_BA.items()}) for s in (0, 1)] + [
            (0.9, s, {a: (v[s],) for a, v in PRUNED_BA.items()}) for s in (0, 1)]:
        for attribute in ATTRIBUTES:
            ba = np.nan if attribute == "Male" else values[attribute][0]
            rows.append({"sparsity": requested, "requested": requested, "seed": seed, "attribute": attribute,
                         "protected": "Male", "threshold": "default", "bias_amplification": ba,
                         "fpr_gap": -2 * ba, "fnr_gap": np.nan if attribute == "e" else ba / 2})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("evidence") / "study"
    test, train = _labels(24, 0), _labels(40, 1)
    y = test[ATTRIBUTES].to_numpy()
    for seed in (0, 1):
        rng = np.random.default_rng(10 + seed)
        # a differs in how sure the models are per attribute: c and a are the unsure ones
        scale = np.array([2.0, 0.3, 1.5, 0.4, 2.5, 3.0])
        logits = (2 * y - 1) * scale + rng.normal(0, 1, y.shape)
        _write_run(root / "runs" / f"dense-seed{seed}", logits, test, train)
    _summary().to_csv(root / "summary.csv", index=False)
    return root


# ----------------------------------------------------------------------------- features and targets


def test_dense_features_by_hand():
    logits = np.array([[[2.0, -1.0], [1.0, -2.0], [-1.0, 3.0], [0.5, 0.5]],
                       [[1.0, -1.0], [-1.0, -2.0], [-2.0, 3.0], [0.5, -0.5]]])
    labels = np.array([[1, 0], [1, 0], [0, 1], [0, 1]])
    train = np.array([[1, 0], [0, 0], [1, 1], [1, 0], [0, 0]])
    features = dense_features(logits, labels, attributes=["x", "y"], train_labels=train)
    assert list(features.columns) == list(FEATURES) and list(features.index) == ["x", "y"]
    assert features["base_rate_train"].tolist() == pytest.approx([0.6, 0.2])
    assert features["base_rate_test"].tolist() == pytest.approx([0.5, 0.5])
    # x: seeds differ on sample 1 only; y: on sample 3 only
    assert features["dense_disagreement"].tolist() == pytest.approx([0.25, 0.25])
    per_seed = [attribute_metrics(z, labels, attributes=["x", "y"], train_rates=[0.6, 0.2]) for z in logits]
    assert features["uncertainty"].tolist() == pytest.approx(((per_seed[0] + per_seed[1]) / 2)["uncertainty"].tolist())
    one = dense_features(logits[0], labels, attributes=["x", "y"], train_labels=train)
    assert one["dense_disagreement"].isna().all()  # one model: nothing to disagree with


def test_bias_growth_is_the_change_of_the_seed_mean_of_abs():
    growth = bias_growth(_summary())
    ba = growth[growth["target"] == "bias_amplification"].set_index("attribute")
    assert set(growth["target"]) == set(TARGETS) and set(growth["sparsity"]) == {0.9}
    assert ba.loc["a", "increase"] == pytest.approx(0.09)
    assert ba.loc["c", "increase"] == pytest.approx(0.07)  # mean(0.08, 0.12) - 0.03
    assert ba.loc["e", "increase"] == pytest.approx(0.01)  # the NaN seed is skipped
    assert ba.loc["b", "dense"] == pytest.approx(0.02)
    fnr = growth[growth["target"] == "fnr_gap"].set_index("attribute")
    assert math.isnan(fnr.loc["e", "increase"])  # undefined at both ends


def test_bias_growth_needs_the_policy_and_dense_rows():
    with pytest.raises(ConfigError, match="policy 'recalibrated' has no rows"):
        bias_growth(_summary(), policy="recalibrated")
    with pytest.raises(DatasetError, match="no dense rows"):
        bias_growth(_summary().query("requested > 0"))


# ----------------------------------------------------------------------------- Spearman with permutations


def test_spearman_matches_scipy_and_is_seeded():
    x, y = [0.1, 0.4, 0.2, 0.9, 0.5, 0.3], [1.0, 3.0, 2.0, 2.5, 6.0, 0.0]
    rho, p, n, note = spearman_permutation(x, y, n_permutations=199, seed=3)
    assert rho == pytest.approx(spearmanr(x, y).statistic) and n == 6 and note is None
    assert spearman_permutation(x, y, n_permutations=199, seed=3)[1] == p  # same seed, same p
    assert p in {(1 + c) / 200 for c in range(200)}  # (1 + count) / (1 + n)


def test_permutation_p_value_of_three_points():
    """n = 3, rho = 1: of the 6 orders, 2 give |rho| = 1, so p -> (1 + 999/3) / 1000 ~ 1/3."""
    rho, p, n, _ = spearman_permutation([1, 2, 3], [10, 20, 30], n_permutations=999, seed=0)
    assert rho == pytest.approx(1.0) and n == 3
    assert p == pytest.approx(1 / 3, abs=0.05)


@pytest.mark.parametrize(
    "x, y, note",
    [([1, 2], [3, 4], "fewer than 3 pairs"), ([1, 1, 1], [1, 2, 3], "constant feature"),
     ([1, np.nan, 3, 4], [2, 1, 2, 2], "constant target")],
)
def test_spearman_undefined_cases_are_nan_with_a_note(x, y, note):
    rho, p, _, why = spearman_permutation(x, y)
    assert math.isnan(rho) and math.isnan(p) and note in why


# ----------------------------------------------------------------------------- leave one attribute out


def _one_hot_units(copies: int = 3):
    """8 attributes with one indicator feature each, ``copies`` pairs per attribute (same features, same target);
    a, c, e, g grow, b, d, f, h do not. The features identify the attribute and nothing else."""
    names = list("abcdefgh")
    attributes = np.repeat(names, copies)
    features = pd.DataFrame(np.repeat(np.eye(len(names)), copies, axis=0), columns=[f"f{i}" for i in range(8)])
    increase = np.repeat([0.1 if i % 2 == 0 else -0.1 for i in range(len(names))], copies)
    return features, attributes, increase


def test_leave_one_attribute_out_cannot_learn_what_only_the_attribute_itself_says():
    """A fit that sees an attribute's own pairs (itself, or its sibling pairs) ranks it perfectly; the honest
    leave-one-attribute-out fit has nothing to go on for it and must not."""
    features, attributes, increase = _one_hot_units()
    flag = increase > 0.02
    leaking = make_pipeline(StandardScaler(), LogisticRegression()).fit(features, flag)
    assert roc_auc_score(flag, leaking.predict_proba(features)[:, 1]) == 1.0
    honest = leave_one_attribute_out(features, attributes=attributes, increase=increase, threshold=0.02)
    assert honest.method == "logistic"
    assert roc_auc_score(flag, honest.scores) < 0.5


def test_an_attributes_scores_do_not_depend_on_its_own_targets():
    features, attributes, increase = _one_hot_units()
    before = leave_one_attribute_out(features, attributes=attributes, increase=increase, threshold=0.02).scores
    changed = increase.copy()
    changed[attributes == "a"] = -0.1  # a's own target flipped: only the other attributes' scores may move
    after = leave_one_attribute_out(features, attributes=attributes, increase=changed, threshold=0.02).scores
    np.testing.assert_array_equal(before[attributes == "a"], after[attributes == "a"])
    assert not np.array_equal(before[attributes != "a"], after[attributes != "a"])


def test_ridge_when_a_training_fold_has_one_class():
    features = pd.DataFrame({"f": [0.1, 0.2, 0.3, 0.4]})
    increase = np.array([0.0, 0.01, 0.03, 0.005])  # only c grows by more than 0.02: leaving c out leaves one class
    result = leave_one_attribute_out(features, attributes=list("abcd"), increase=increase, threshold=0.02)
    assert result.method == "ridge" and "ridge regression" in result.note
    assert np.isfinite(result.scores).all()


def test_one_attribute_gives_no_fit_and_no_crash():
    result = leave_one_attribute_out(pd.DataFrame({"f": [1.0, 2.0]}), attributes=["a", "a"],
                                     increase=[0.1, 0.0], threshold=0.02)
    assert result.method == "none" and np.isnan(result.scores).all()


# ----------------------------------------------------------------------------- validation on a study


def test_validate_risk_rows_and_file(study, tmp_path):
    table = write_risk_validation(study, out=tmp_path / "rv.csv", n_permutations=99)
    assert list(table.columns) == list(VALIDATION_COLUMNS)
    assert len(table) == len(TARGETS) * (len(FEATURES) + 2)  # one level; features, dense_value, combined
    assert pd.read_csv(tmp_path / "rv.csv").shape == table.shape
    ba = table[(table["target"] == "bias_amplification")].set_index("feature")
    assert ba.loc["combined", "n"] == 5 and ba.loc["combined", "n_flagged"] == 2  # a and c grow > 0.02
    assert ba.loc["combined", "method"].startswith("logistic, leave-one-attribute-out")
    assert ba["p_value"].between(0, 1).all()
    expected = spearmanr(study_features(study).loc[TARGET_ATTRIBUTES, "uncertainty"], [0.09, 0, 0.07, 0, 0.01])
    assert ba.loc["uncertainty", "spearman"] == pytest.approx(expected.statistic)
    fnr = table[table["target"] == "fnr_gap"].set_index("feature")
    assert fnr.loc["combined", "n"] == 4  # e's FNR gap is undefined


def test_validate_risk_one_class_is_nan_with_a_note(study):
    table = validate_risk(study, threshold=0.5, n_permutations=9)  # nobody grows by 0.5
    combined = table[(table["feature"] == "combined") & (table["target"] == "bias_amplification")].iloc[0]
    assert math.isnan(combined["auc"]) and "AUC undefined: 0 of 5" in combined["note"]
    assert combined["method"].startswith("ridge")


@pytest.mark.parametrize(
    "options, match",
    [({"threshold": float("nan")}, "threshold must be a finite number"),
     ({"n_permutations": 0}, "n_permutations must be a whole number >= 1"),
     ({"features": ["height"]}, "features must be some of")],
)
def test_validate_risk_rejects_bad_options_before_reading(tmp_path, options, match):
    with pytest.raises(ConfigError, match=match):
        validate_risk(tmp_path / "not-read", **options)


# ----------------------------------------------------------------------------- ranking a new dense model


def test_rank_without_evidence_uses_the_default_feature_and_flags_nothing(study):
    features = study_features(study)
    report = rank_bias_risk(features)
    assert report.ranked_by == DEFAULT_FEATURE and report.evidence is None
    assert report.table["score"].tolist() == sorted(features[DEFAULT_FEATURE], reverse=True)
    assert not report.table["flagged"].any() and report.warnings == []
    assert "no validation evidence was given" in report.notes[0]


def test_rank_with_evidence(study):
    features = study_features(study)
    report = rank_bias_risk(features.drop(columns=[]), evidence=study, n_permutations=49)
    assert report.ranked_by == "combined" and report.method == "logistic" and report.sparsity == 0.9
    assert report.table["rank"].tolist() == list(range(1, len(ATTRIBUTES) + 1))
    assert report.table["score"].is_monotonic_decreasing
    assert not report.table["flagged"].any() and report.warnings == []  # 5 pairs: too little evidence to flag
    assert any("nothing is flagged" in note for note in report.notes)
    assert set(report.validation["feature"]) == {*FEATURES, "dense_value", "combined"}
    assert report.n_evidence == 5
    assert json.loads(json.dumps(report.to_dict(), default=str))["ranked_by"] == "combined"


@pytest.mark.parametrize("auc, flags", [(0.8, True), (0.5, False), (float("nan"), False)])
def test_only_validated_evidence_flags(study, monkeypatch, auc, flags):
    """Warnings need evidence: enough pairs (MIN_EVIDENCE) and a leave-one-attribute-out AUC above chance."""
    import fairvision.prune.risk as risk

    features = study_features(study)
    monkeypatch.setattr(risk, "MIN_EVIDENCE", 1)
    real = risk._validate

    def with_auc(*args, **kwargs):
        table = real(*args, **kwargs)
        table.loc[table["feature"] == "combined", "auc"] = auc
        return table

    monkeypatch.setattr(risk, "_validate", with_auc)
    report = rank_bias_risk(features, evidence=study, n_permutations=9)
    expected = (report.table["score"] >= 0.5) & flags
    assert report.table["flagged"].tolist() == expected.tolist()
    assert len(report.warnings) == int(expected.sum())
    assert flags or any("nothing is flagged" in note for note in report.notes)
    assert expected.any() == flags  # the fixture has attributes the score flags


def test_single_model_drops_disagreement_from_fit_and_validation(study):
    features = study_features(study).assign(dense_disagreement=np.nan)
    report = rank_bias_risk(features, evidence=study, n_permutations=9)
    assert "dense_disagreement" not in report.features_used
    assert "dense_disagreement" not in set(report.validation["feature"])
    assert any("dense_disagreement" in note for note in report.notes)


def test_rank_refuses_a_level_the_study_does_not_have(study):
    with pytest.raises(ConfigError, match=r"sparsity 0.5 is not a level .* \(levels: 0.9\)"):
        rank_bias_risk(study_features(study), evidence=study, sparsity=0.5, n_permutations=9)


# ----------------------------------------------------------------------------- the command


def test_cli_run_folder_with_evidence(study, tmp_path, capsys):
    out, rv = tmp_path / "rank.csv", tmp_path / "rv.csv"
    code, stdout, _ = run(capsys, "predict-bias", study / "runs" / "dense-seed0", study / "runs" / "dense-seed1",
                          "--evidence", study, "--out", out, "--validation-out", rv, "--permutations", 19)
    assert code == 0
    assert "validation evidence" in stdout and "combined" in stdout
    assert len(pd.read_csv(out)) == len(ATTRIBUTES) and len(pd.read_csv(rv)) == len(TARGETS) * (len(FEATURES) + 2)


def test_cli_json_without_evidence(study, capsys):
    code, stdout, _ = run(capsys, "predict-bias", study / "runs" / "dense-seed0", "--json")
    assert code == 0
    result = json.loads(stdout)
    assert result["ranked_by"] == DEFAULT_FEATURE and result["evidence"] is None and result["validation"] == []
    assert [row["rank"] for row in result["ranking"]] == list(range(1, len(ATTRIBUTES) + 1))


def _celeba(tmp_path):
    """Tiny list_attr_celeba.txt / list_eval_partition.txt (train 8, val 2, test 6) and a test logits file."""
    names = ["Male", "Smiling", "Bald"]
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, (16, 3))
    labels[:2] = [[0, 0, 0], [1, 1, 1]]
    labels[10:12] = [[0, 0, 0], [1, 1, 1]]
    partition = [0] * 8 + [1] * 2 + [2] * 6
    images = [f"{i:06d}.jpg" for i in range(1, 17)]
    root = tmp_path / "celeba"
    root.mkdir()
    lines = ["16", " ".join(names)] + [im + "".join(f" {v:>2}" for v in 2 * row - 1) for im, row in zip(images, labels)]
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (root / "list_eval_partition.txt").write_text("".join(f"{im} {p}\n" for im, p in zip(images, partition)))
    logits = tmp_path / "test_logits.txt"
    np.savetxt(logits, (2 * labels[10:] - 1) + rng.normal(0, 1, (6, 3)))
    return root, logits


def test_cli_celeba_logits(tmp_path, capsys):
    root, logits = _celeba(tmp_path)
    code, stdout, _ = run(capsys, "predict-bias", logits, "--celeba", root, "--json")
    assert code == 0
    assert {row["attribute"] for row in json.loads(stdout)["ranking"]} == {"Male", "Smiling", "Bald"}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["{missing}"], "no such run folder or logits file"),
        (["{logits}"], "is a logits file: give --celeba ROOT"),
        (["{run}", "--celeba", "{celeba}"], "--celeba is for logits files"),
        (["{run}", "--evidence", "{missing}"], "--evidence: "),
        (["{run}", "--threshold", "nan"], "must be a finite number"),
        (["{logits}", "--celeba", "{missing}"], "CelebA root folder not found"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(study, tmp_path, capsys, argv, message):
    root, logits = _celeba(tmp_path)
    values = {"missing": tmp_path / "nope", "logits": logits, "run": study / "runs" / "dense-seed0", "celeba": root}
    code, _, err = run(capsys, "predict-bias", *[a.format(**{k: str(v) for k, v in values.items()}) for a in argv])
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("fairvision predict-bias: error: ") and message in err
