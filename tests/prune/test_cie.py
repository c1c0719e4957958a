"""Compression-identified exemplars on a hand-made study: modal votes and ties, the CIE definition, the dense-only
scores, AUC / precision@k, composition and error rates, the files and the `fairvision cie` command."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from fairvision.cli import main
from fairvision.errors import ConfigError, DatasetError
from fairvision.prune.cie import (
    cie_summary,
    compression_identified_exemplars,
    dense_scores,
    load_study_predictions,
    modal_predictions,
    precision_at_k,
    seed_disagreement,
    write_cie,
)

ATTRIBUTES = ["Male", "Smiling"]
# 4 test samples x 2 attributes. Dense: 2 seeds (ties on sample 1's and sample 3's Male / Smiling).
DENSE = [
    [[2, 1], [3, -1], [-3, -3], [0.5, -0.5]],
    [[1, 2], [-1, -3], [-3, -3], [-0.5, 0.5]],
]
# Dense modal: s0 [1, 1]; s1 Male tie -> mean p(3), p(-1) = 0.61 > 0.5 -> 1, Smiling 0; s2 [0, 0];
# s3 both ties with mean p exactly 0.5 -> 0.  Pruned (3 seeds, majority): s0 [0, 1], s1 [1, 0], s2 [1, 1], s3 [0, 0].
PRUNED = [
    [[-1, 1], [1, -1], [1, 1], [-1, -1]],
    [[-1, 2], [1, -1], [1, 1], [-1, -1]],
    [[1, 3], [1, -1], [-1, -1], [-1, -1]],
]
LABELS = pd.DataFrame({"ids": [10, 11, 12, 13], "path": ["a.png", "b.png", "c.png", "d.png"],
                       "identity": ["i1", "i2", "i3", "i4"], "group": ["A", "B", "A", "B"],
                       "Male": [1, 0, 0, 1], "Smiling": [1, 0, 1, 0]})


def write_run(folder, logits, labels=LABELS, *, protected=("Male",), train=None):
    """A run folder as `fairvision prune-study` leaves it (the files this analysis reads)."""
    folder.mkdir(parents=True)
    np.savetxt(folder / "logits_test.txt", np.asarray(logits, dtype=float))
    labels.to_csv(folder / "labels_test.csv", index=False)
    (labels if train is None else train).to_csv(folder / "labels_train.csv", index=False)
    (folder / "config.yaml").write_text(yaml.safe_dump({"task": {"name": "attribute", "protected": list(protected)}}))
    (folder / "metrics.json").write_text('{"status": "complete"}')


@pytest.fixture
def study(tmp_path):
    root = tmp_path / "study"
    for seed, logits in enumerate(DENSE):
        write_run(root / "runs" / f"dense-seed{seed}", logits)
    for seed, logits in enumerate(PRUNED):
        write_run(root / "runs" / f"sparsity0.9-seed{seed}", logits)
    return root


def _p(z: float) -> float:
    return 1 / (1 + math.exp(-z))


@pytest.mark.parametrize(
    "logits, expected",
    [
        ([[[1.0]], [[2.0]], [[-1.0]]], True),  # 2 of 3 vote yes
        ([[[-1.0]], [[2.0]], [[-1.0]]], False),  # 1 of 3
        ([[[3.0]], [[-1.0]]], True),  # tie; mean p = (0.95 + 0.27) / 2 > 0.5
        ([[[1.0]], [[-3.0]]], False),  # tie; mean p < 0.5
        ([[[0.5]], [[-0.5]]], False),  # tie; mean p exactly 0.5: negative, as logit > 0 is strict
        ([[[0.0]], [[0.0]]], False),  # no vote for yes: 0 is not > 0
    ],
)
def test_modal_prediction_majority_and_ties(logits, expected):
    assert bool(modal_predictions(np.array(logits))[0, 0]) is expected


def test_seed_disagreement_and_dense_scores_by_hand():
    dense = np.array(DENSE, dtype=float)
    assert seed_disagreement(dense).tolist() == [[False, False], [True, False], [False, False], [True, True]]
    assert not seed_disagreement(dense[:1]).any()  # one seed never disagrees
    scores = dense_scores(dense)
    margins = [[(abs(_p(a) - 0.5) + abs(_p(b) - 0.5)) / 2 for a, b in zip(s0, s1)] for s0, s1 in zip(*DENSE)]
    assert scores["dense_score"].tolist() == pytest.approx([-min(m) for m in margins])
    assert scores["dense_disagreement"].tolist() == [0.0, 0.5, 0.0, 1.0]


@pytest.mark.parametrize(
    "scores, positives, k, expected",
    [
        ([3, 2, 1, 0], [1, 1, 0, 0], 2, 1.0),
        ([3, 2, 1, 0], [0, 1, 0, 1], 2, 0.5),
        ([3, 2, 2, 1], [1, 0, 1, 0], 2, 0.75),  # 3 counts fully; one of the two tied 2s: half a positive
        ([1, 1, 1, 1], [1, 0, 0, 0], 1, 0.25),  # all tied: the base rate
        ([3, 2, 1, 0], [1, 0, 1, 0], 4, 0.5),
    ],
)
def test_precision_at_k(scores, positives, k, expected):
    assert precision_at_k(scores, positives, k) == pytest.approx(expected)


def test_precision_at_k_zero_is_nan_and_bad_k_raises():
    assert math.isnan(precision_at_k([1.0, 2.0], [True, False], 0))
    with pytest.raises(ValueError, match="k must be between 0"):
        precision_at_k([1.0, 2.0], [True, False], 3)


def test_cie_rows_follow_the_definition(study):
    cie = compression_identified_exemplars(study)
    assert list(cie.columns) == ["sparsity", "ids", "path", "identity", "group", "Male", "is_cie",
                                 "n_cie_attributes", "cie_attributes", "dense_score", "dense_disagreement"]
    assert cie["sparsity"].tolist() == [0.9] * 4
    assert cie["ids"].tolist() == [10, 11, 12, 13]
    assert cie["is_cie"].tolist() == [1, 0, 1, 0]
    assert cie["n_cie_attributes"].tolist() == [1, 0, 2, 0]
    assert cie["cie_attributes"].tolist() == ["Male", "", "Male;Smiling", ""]
    assert cie["Male"].tolist() == [1, 0, 0, 1]
    assert cie["dense_disagreement"].tolist() == [0.0, 0.5, 0.0, 1.0]


def test_a_dense_tie_decided_by_mean_probability_is_not_a_cie(study):
    """Sample 1's dense Male vote is 1:1; the mean probability says 1, as the pruned models do: no CIE."""
    cie = compression_identified_exemplars(study)
    assert cie.loc[cie["ids"] == 11, "is_cie"].item() == 0


def _stat(summary, statistic, by="", level=""):
    rows = summary[(summary["statistic"] == statistic) & (summary["by"] == by) & (summary["level"] == level)]
    assert len(rows) == 1, (statistic, by, level)
    return rows.iloc[0]


def test_summary_scores_composition_and_errors(study):
    summary = cie_summary(study)
    assert _stat(summary, "n_cie")["value"] == 2 and _stat(summary, "cie_rate")["value"] == 0.5
    assert _stat(summary, "n_dense_seeds")["value"] == 2 and _stat(summary, "n_pruned_seeds")["value"] == 3
    # dense_score [-.306, -.342, -.453, -.122], CIEs = samples 0 and 2: 1 of 4 (positive, negative) pairs won
    assert _stat(summary, "auc", "dense_score")["value"] == pytest.approx(0.25)
    assert _stat(summary, "auc", "dense_disagreement")["value"] == pytest.approx(0.0)  # [0, .5, 0, 1]
    assert _stat(summary, "precision_at_k", "dense_score")["value"] == pytest.approx(0.5)  # k = 2 CIEs
    assert _stat(summary, "precision_at_k", "dense_score")["n"] == 2
    assert _stat(summary, "precision_at_k", "dense_disagreement")["value"] == pytest.approx(0.0)
    assert _stat(summary, "cie_rate", "group", "A")["value"] == 1.0
    assert _stat(summary, "cie_rate", "group", "B")["value"] == 0.0
    assert _stat(summary, "share_of_data", "group", "A")["value"] == 0.5
    assert _stat(summary, "share_of_cie", "group", "A")["value"] == 1.0
    assert _stat(summary, "representation", "group", "A")["value"] == 2.0
    assert _stat(summary, "cie_rate", "Male", "1")["value"] == 0.5
    assert 0 <= _stat(summary, "chi2_p", "group")["value"] <= 1
    assert _stat(summary, "attribute_cie_rate", "attribute", "Smiling")["value"] == 0.25
    # errors of the modal predictions (labels Male [1,0,0,1], Smiling [1,0,1,0]), worked out in the module above
    assert _stat(summary, "error_dense", "subset", "cie")["value"] == pytest.approx(0.25)
    assert _stat(summary, "error_dense", "subset", "rest")["value"] == pytest.approx(0.5)
    assert _stat(summary, "error_pruned", "subset", "cie")["value"] == pytest.approx(0.5)
    flipped_dense = _stat(summary, "error_dense", "subset", "cie_cells")["value"]
    flipped_pruned = _stat(summary, "error_pruned", "subset", "cie_cells")["value"]
    assert flipped_dense == pytest.approx(1 / 3) and flipped_dense + flipped_pruned == pytest.approx(1.0)


def test_summary_with_explicit_k(study):
    summary = cie_summary(study, k=1)
    assert _stat(summary, "precision_at_k", "dense_score")["value"] == 0.0  # the top score is sample 3, no CIE
    with pytest.raises(ConfigError, match="k = 5 is more than the 4 samples"):
        cie_summary(study, k=5)


def test_no_cie_gives_nan_auc_with_a_note(tmp_path):
    root = tmp_path / "same"
    for seed, logits in enumerate(DENSE):
        write_run(root / "runs" / f"dense-seed{seed}", logits)
        write_run(root / "runs" / f"sparsity0.5-seed{seed}", logits)  # pruned = dense: nothing changes
    summary = cie_summary(root)
    auc = _stat(summary, "auc", "dense_score")
    assert math.isnan(auc["value"]) and "no sample is a CIE" in auc["note"]
    assert math.isnan(_stat(summary, "precision_at_k", "dense_score")["value"])


def test_write_cie_defaults_to_the_study_folder(study):
    cie, summary = write_cie(study)
    assert pd.read_csv(study / "cie.csv").shape == cie.shape
    assert pd.read_csv(study / "cie_summary.csv").shape == summary.shape


@pytest.mark.parametrize(
    "break_it, error, match",
    [
        (lambda root: None, DatasetError, "study folder not found"),
        (lambda root: write_run(root / "runs" / "dense-seed0", DENSE[0]), DatasetError, "no finished pruned run"),
        (lambda root: write_run(root / "runs" / "sparsity0.9-seed0", PRUNED[0]), DatasetError,
         "no finished dense run"),
    ],
)
def test_unusable_study_folders(tmp_path, break_it, error, match):
    root = tmp_path / "study"
    break_it(root)
    with pytest.raises(error, match=match):
        load_study_predictions(root)


def test_runs_on_other_samples_are_refused(study):
    (study / "runs" / "sparsity0.9-seed1" / "labels_test.csv").write_text(
        LABELS.assign(ids=[1, 2, 3, 4]).to_csv(index=False))
    with pytest.raises(DatasetError, match=r"sparsity0.9-seed1/labels_test.csv: samples \(ids\) differ"):
        load_study_predictions(study)


def test_diverged_runs_are_left_out(study):
    (study / "runs" / "sparsity0.9-seed2" / "metrics.json").write_text('{"status": "diverged"}')
    assert load_study_predictions(study).seeds[0.9] == (0, 1)


def test_bad_split_is_a_config_error(study):
    with pytest.raises(ConfigError, match="split must be one of test, val"):
        load_study_predictions(study, split="train")


def test_cli_writes_both_files(study, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["cie", str(study), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "cie_rate" in printed and str(out / "cie.csv") in printed
    assert len(pd.read_csv(out / "cie.csv")) == 4
    assert set(pd.read_csv(out / "cie_summary.csv")["statistic"]) >= {"n_cie", "auc", "precision_at_k"}


@pytest.mark.parametrize("argv", [["cie", "{missing}"], ["cie", "{study}", "--k", "0"]])
def test_cli_bad_input_is_one_line_exit_2(study, tmp_path, capsys, argv):
    argv = [a.format(missing=tmp_path / "nope", study=study) for a in argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse rejects --k 0
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("fairvision cie: error: ")
