"""Our metrics reproduce the data released with FR-NAS (tests/data/frnas, see SOURCE.md there)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairvision.cli import main
from fairvision.metrics import fairness_metrics

FRNAS = Path(__file__).parents[1] / "data" / "frnas"
RUNS = FRNAS / "Checkpoints" / "Phase1B"
RANK_FILES = sorted(RUNS.glob("*/*_rank_by_id*_val.csv"))


def test_reference_files_present():
    assert len(RANK_FILES) == 4


# -- (a) the formulas: Phase-1 VGGFace2 table -----------------------------------------------------


def phase1_rows() -> pd.DataFrame:
    table = pd.read_csv(FRNAS / "analysis" / "vgg_val_phase1.csv")
    return table.dropna(subset=["Error", "Disparity", "Ratio", "Error Ratio"])


def test_phase1_table_has_302_complete_rows():
    assert len(phase1_rows()) == 302


def test_phase1_ratios_follow_from_error_and_disparity():
    """Equal group sizes: acc = 1 - Error +- Disparity/2, and our formulas give the file's Ratio / Error Ratio.

    The table does not say which group is which, so each row is checked with the
    numerator group being either the better or the worse one, the same for both ratios.
    """
    rows = phase1_rows()
    error, disparity = rows["Error"].to_numpy(), rows["Disparity"].to_numpy()
    acc_hi, acc_lo = 1 - error + disparity / 2, 1 - error - disparity / 2
    fits = []
    for (acc_a, acc_b) in ((acc_hi, acc_lo), (acc_lo, acc_hi)):
        ratio, err_ratio = [], []
        for a, b in zip(acc_a, acc_b):
            ratio.append(abs(1 - a / b))
            err_ratio.append(abs(1 - (1 - a) / (1 - b)))
        fits.append(
            (np.abs(np.array(ratio) - rows["Ratio"].to_numpy()) < 1e-12)
            & (np.abs(np.array(err_ratio) - rows["Error Ratio"].to_numpy()) < 1e-12)
        )
    assert (fits[0] | fits[1]).all()
    assert fits[0].sum() == 290  # numerator is the more accurate group (male, per FR-NAS) ...
    assert (rows["Error"][~fits[0]] >= 0.96).all()  # ... except near-chance models


def test_phase1_with_our_function_on_rates():
    """The same rows through metrics_from_sums (the code path fairness_metrics uses)."""
    from fairvision.metrics._fairness import metrics_from_sums

    rows = phase1_rows()
    e, d = rows["Error"].to_numpy(), rows["Disparity"].to_numpy()
    n = np.ones((len(rows), 2))
    correct = np.stack([1 - e - d / 2, 1 - e + d / 2], axis=1)  # columns: reference (female), male
    out = metrics_from_sums(n, correct, np.zeros_like(n), {"female": 0, "male": 1}, [("male", "female")])
    good = np.abs(out["Ratio"] - rows["Ratio"].to_numpy()) < 1e-12
    np.testing.assert_allclose(out["Error"][good], e[good], atol=1e-12)
    np.testing.assert_allclose(out["Disparity"], d, atol=1e-12)
    np.testing.assert_allclose(out["Error Ratio"][good], rows["Error Ratio"].to_numpy()[good], atol=1e-12)
    assert good.sum() == 290


# -- (b) the CLI on every released rank file and every epoch ---------------------------------------


def independent_metrics(ranks: np.ndarray, groups: np.ndarray) -> dict:
    acc = {g: np.mean(ranks[groups == g] == 0) for g in ("male", "female")}
    mr = {g: np.mean(ranks[groups == g]) for g in ("male", "female")}
    return {
        "Error": np.mean(ranks != 0),
        "Disparity": abs(acc["male"] - acc["female"]),
        "Ratio": abs(1 - acc["male"] / acc["female"]),
        "Error Ratio": abs(1 - (1 - acc["male"]) / (1 - acc["female"])),
        "Rank Disparity": abs(mr["male"] - mr["female"]),
        "Rank Ratio": abs(1 - mr["male"] / mr["female"]),
    }


@pytest.mark.parametrize("rank_file", RANK_FILES, ids=lambda p: p.parent.name)
def test_cli_fairness_matches_formulas_on_every_epoch(rank_file, celeba_val_meta, capsys):
    assert main(
        ["fairness", "--ranks", str(rank_file), "--groups", str(celeba_val_meta),
         "--group-column", "gender_expression", "--on", "ids", "--json"]
    ) == 0
    out = json.loads(capsys.readouterr().out)
    ranks = pd.read_csv(rank_file)
    meta = pd.read_csv(celeba_val_meta)
    joined = ranks.merge(meta, on="ids")
    assert len(joined) == len(ranks) == len(meta) == 15272
    epochs = [c for c in ranks.columns if c.startswith("epoch_")]
    assert sorted(out) == sorted(epochs)
    for col in epochs:
        expected = independent_metrics(joined[col].to_numpy(), joined["gender_expression"].to_numpy())
        got = out[col]
        for name, value in expected.items():
            assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-15), (col, name)
        for g in ("male", "female"):
            sel = joined["gender_expression"] == g
            assert got["groups"][g]["n"] == 7636
            assert got["groups"][g]["accuracy"] == pytest.approx(np.mean(joined.loc[sel, col] == 0))
            assert got["groups"][g]["mean_rank"] == pytest.approx(joined.loc[sel, col].mean())


def test_cli_single_column_json_keys(celeba_val_meta, capsys):
    rank_file = RUNS / "rexnet_200_CosFace_SGD" / "rexnet_200_CosFace_SGD_rank_by_id_val.csv"
    main(["fairness", "--ranks", str(rank_file), "--rank-column", "epoch_99", "--groups", str(celeba_val_meta),
          "--group-column", "gender_expression", "--on", "ids", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"Error", "Disparity", "Ratio", "Error Ratio", "Rank Disparity", "Rank Ratio", "Log-Odds Gap",
                        "groups"}
    # The figures measured on this file in tests/data/frnas/SOURCE.md, section 3.
    assert out["Error"] == pytest.approx(0.045966, abs=5e-7)
    assert out["Rank Disparity"] == pytest.approx(2.1856, abs=5e-5)
    assert out["Rank Ratio"] == pytest.approx(0.403730, abs=5e-7)
    assert out["groups"]["female"]["mean_rank"] == pytest.approx(5.4134, abs=5e-5)


# -- per-gender rank-0 accuracy vs the training log's "Acc k" ----------------------------------------
#
# Why they differ (documented in README "Reproducing FR-NAS"): in FR-NAS both come from one
# evaluate() call (flip TTA, L2 norm, Euclidean 1-NN over the whole val set), so within a call they
# are equal by construction.  The released files come from different evaluation passes: the log
# row is appended by the training loop on the live model, while the rank file keeps, per epoch
# column, whichever evaluation wrote it last (its writer drops and re-adds the column), and in
# EMA-enabled configs the EMA pass overwrites the variable the non-EMA rank file is written from.
# The measured gap is small and mostly one-sided (rank file lower) for three runs, and large for
# TNT, whose rank file clearly comes from another run.  We assert what the data justify:
#  * both are on the same split: every Acc k is a whole number of the 7636 images per gender;
#  * |rank-0 acc - Acc k| <= 1.25 pp at every logged epoch >= 39 for rexnet, ese_vovnet and the
#    mobilenet EMA pair (epoch 19 of mobilenet EMA differs by 2.8 pp: the EMA moves fast early).

LOG_PAIRS = [
    ("rexnet_200_CosFace_SGD", "rexnet_200_CosFace_SGD_rank_by_id_val.csv", "timm_from-scratch.csv"),
    ("ese_vovnet39b_MagFace_AdamW", "ese_vovnet39b_MagFace_AdamW_rank_by_id_val.csv", "timm_from-scratch.csv"),
    ("mobilenetv3_large_100_CosFace_SGD", "mobilenetv3_large_100_CosFace_SGD_rank_by_id_ema_val.csv",
     "timm_from-scratch_ema.csv"),
]


def read_log(path: Path) -> pd.DataFrame:
    log = pd.read_csv(path, sep="\t")
    log.columns = [c.strip() for c in log.columns]
    return log.set_index("epoch")


def rank0_accuracy_pp(rank_file: Path, meta: Path) -> pd.DataFrame:
    joined = pd.read_csv(rank_file).merge(pd.read_csv(meta), on="ids")
    cols = [c for c in joined.columns if c.startswith("epoch_")]
    return pd.DataFrame(
        {g: [100 * np.mean(joined.loc[joined.gender_expression == g, c] == 0) for c in cols] for g in ("male", "female")},
        index=[int(c.split("_")[1]) for c in cols],
    )


@pytest.mark.parametrize("run, rank_name, log_name", LOG_PAIRS, ids=[p[0] for p in LOG_PAIRS])
def test_rank0_accuracy_close_to_logged_acc_k(run, rank_name, log_name, celeba_val_meta):
    acc = rank0_accuracy_pp(RUNS / run / rank_name, celeba_val_meta)
    log = read_log(RUNS / run / log_name)
    for g in ("male", "female"):
        logged = log[f"Acc k {g}"]
        images = logged * 7636 / 100
        assert np.abs(images - images.round()).max() < 0.06  # whole images, up to the log's 3 decimals
        diff = acc[g] - logged.reindex(acc.index)
        late = diff[diff.index >= 39]
        assert len(late) >= 4
        assert late.abs().max() <= 1.25, (g, late.to_dict())


def test_tnt_rank_file_comes_from_another_run(celeba_val_meta):
    run = "tnt_s_patch16_224_CosFace_AdamW"
    acc = rank0_accuracy_pp(RUNS / run / f"{run}_rank_by_id_val.csv", celeba_val_meta)
    log = read_log(RUNS / run / "timm_from-scratch.csv")
    assert acc.loc[19, "male"] - log.loc[19, "Acc k male"] < -20  # documented mismatch, not a metric bug


# -- (c) rank -1 rows ------------------------------------------------------------------------------


def test_minus_one_rows_are_excluded_and_counted():
    ranks = np.array([0, 1, -1, 0, 2, -1, 0])
    groups = np.array(["f", "f", "f", "m", "m", "m", "m"])
    report = fairness_metrics(ranks, groups)
    assert report.n_excluded == 2
    assert report.by_group.loc["f", "n"] == 2 and report.by_group.loc["f", "n_excluded"] == 1
    # f: ranks [0, 1] -> acc 0.5, mean rank 0.5; m: [0, 2, 0] -> acc 2/3, mean rank 2/3
    assert report.metrics["Error"] == pytest.approx(2 / 5)
    assert report.metrics["Ratio"] == pytest.approx(abs(1 - (2 / 3) / 0.5))
    assert report.metrics["Rank Disparity"] == pytest.approx(abs(2 / 3 - 0.5))
