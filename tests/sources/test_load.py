"""Loading each kind of source into the report's data: runs (per-group intervals from the saved ranks), trial
stores (fronts with baselines, Kendall τ) and pruning studies (levels, dense-only predictions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairvision.metrics import fairness_metrics
from fairvision.sources import Source, group_intervals, load_prune_study, load_run, load_stores

from .fakes import GROUPS, IDENTITIES, RANKS, make_attribute_run, make_prune_study, make_run, make_store, \
    search_trials, zoo_trials


def test_run_results_are_recomputed_from_the_saved_ranks_with_intervals(tmp_path):
    run = load_run(make_run(tmp_path / "run"), bootstrap=300, seed=3)
    assert run.task == "identification" and run.overview["epochs done"] == 3 and run.overview["model"] == "frnas_dpn"
    [result] = run.results
    assert result.title == "validation split, epoch 2"
    expected = fairness_metrics(RANKS[2], GROUPS, identities=IDENTITIES, bootstrap=300, seed=3)
    pd.testing.assert_series_equal(result.headline["value"], expected.metrics.rename("value"))
    np.testing.assert_allclose(result.headline[["lower", "upper"]], expected.ci[["lower", "upper"]])
    groups = result.groups
    assert list(groups.index) == ["A", "B"] and list(groups["n"]) == [12, 12]
    for col in ("accuracy", "error", "mean_rank"):
        assert (groups[f"{col}_lower"] <= groups[col]).all() and (groups[col] <= groups[f"{col}_upper"]).all()
    assert groups.loc["B", "error_upper"] > groups.loc["A", "error_upper"]
    assert "300 replicates" in result.note and "seed 3" in result.note
    assert list(run.group_errors.index) == [1, 2] and list(run.group_errors.columns) == ["A", "B"]
    assert run.history["epoch"].tolist() == [0, 1, 2]
    assert ("config.yaml" in run.provenance.configs[0][0]
            and "frnas_dpn" in run.provenance.configs[0][1])


def test_group_intervals_share_the_metrics_bootstrap_draws():
    """Per group, the same identities are drawn as in fairness_metrics' bootstrap. With group B always right,
    Disparity = 1 - acc_A = error_A in every replicate, so its interval is exactly A's error interval."""
    ranks = RANKS[2][:12] + [0] * 12
    expected = fairness_metrics(ranks, GROUPS, identities=IDENTITIES, bootstrap=400, seed=11).ci.loc["Disparity"]
    table = group_intervals(ranks, GROUPS, IDENTITIES, replicates=400, seed=11)
    assert (table.loc["A", "error_lower"], table.loc["A", "error_upper"]) == pytest.approx(
        (expected["lower"], expected["upper"]))
    assert table.loc["B", "accuracy_lower"] == table.loc["B", "accuracy_upper"] == 1.0
    table = group_intervals(RANKS[2], GROUPS, IDENTITIES, replicates=200, seed=5)
    again = group_intervals(RANKS[2], GROUPS, IDENTITIES, replicates=200, seed=5)
    pd.testing.assert_frame_equal(table, again)
    np.testing.assert_allclose(table["error_lower"], 1 - table["accuracy_upper"])
    constant = group_intervals([0] * 6 + [1] * 6, ["A"] * 6 + ["B"] * 6, list("aabbccddeeff"), replicates=50)
    assert constant.loc["B", "mean_rank_lower"] == constant.loc["B", "mean_rank_upper"] == 1.0


def test_run_without_ranks_or_history_shows_point_values_and_says_why(tmp_path):
    run = load_run(make_run(tmp_path / "run", ranks=False, history=False), bootstrap=100)
    [result] = run.results
    assert "lower" not in result.headline and "error_lower" not in result.groups
    expected = fairness_metrics(RANKS[2], GROUPS).by_group
    assert result.groups.loc["B", "error"] == pytest.approx(expected.loc["B", "error"])
    assert "intervals not available" in result.note
    assert run.history is None and any("history.jsonl not found" in n for n in run.notes)
    no_ci = load_run(tmp_path / "run", bootstrap=0).results[0]
    assert "lower" not in no_ci.headline.columns


def test_evaluation_outputs_in_the_run_folder_are_results_too(tmp_path):
    root = make_run(tmp_path / "run")
    pd.DataFrame({"ids": range(24), "identity": IDENTITIES, "group": GROUPS, "path": "x",
                  "rank_by_id": RANKS[1], "rank_by_image": RANKS[1]}).to_csv(root / "test_ranks.csv", index=False)
    (root / "eval_test.json").write_text(
        '{"split": "test", "Error": 0.25, "groups": {"A": {"n": 12, "accuracy": 0.8, "error": 0.2, "mean_rank": 0.3},'
        ' "B": {"n": 12, "accuracy": 0.7, "error": 0.3, "mean_rank": 0.6}}}')
    run = load_run(root, bootstrap=50)
    titles = [r.title for r in run.results]
    assert titles == ["validation split, epoch 2", "test split (eval_test.json)", "ranks of test_ranks.csv"]
    assert run.results[1].headline.loc["Error", "value"] == 0.25 and "no intervals" in run.results[1].note
    assert "error_lower" in run.results[2].groups


def test_attribute_run(tmp_path):
    run = load_run(make_attribute_run(tmp_path / "run"))
    assert run.task == "attribute" and not run.results
    assert list(run.attributes.index) == ["Male", "Smiling"]
    assert run.protected.loc["Male", "mean |BA|"] == pytest.approx(0.2)
    assert np.isnan(run.protected.loc["Male", "mean |FNR gap|"])
    assert run.overview["Mean AUC (val)"] == 0.7
    assert any("not computed for attribute runs" in n for n in run.notes)


def test_search_front_with_zoo_baselines_and_kendall_tau(tmp_path):
    search = make_store(tmp_path / "search.db", study="search", engine="smac", trials=search_trials())
    zoo = make_store(tmp_path / "zoo.db", study="zoo", engine="grid", trials=zoo_trials())
    other = make_store(tmp_path / "other.db", study="other", engine="grid", trials=zoo_trials(),
                       objectives=("Error", "Disparity"))
    [study] = load_stores([Source(str(search), "store", ("search",)), Source(str(zoo), "store", ("zoo",)),
                           Source(str(other), "store", ("other",))])
    assert study.name == "search" and study.engine == "smac" and len(study.trials) == 10
    assert sorted(study.summary["front"]["number"]) == [6, 7, 8, 9]  # budget 3: each trades Error for the gap
    tau = study.summary["kendall_tau"]
    assert set(tau["objective"]) == {"Error", "Log-Odds Gap"} and (tau["tau"] == 1).all()
    assert len(study.baselines) == 4 and set(study.baselines["source"]) == {"zoo"}
    summary = study.baseline_summary.set_index("name")
    assert summary.loc["zoo: resnet18/CosFace/AdamW", "n"] == 2
    assert summary.loc["zoo: resnet18/CosFace/AdamW", "Error_mean"] == pytest.approx(0.405)
    assert any("'other'" in n and "Log-Odds Gap" in n for n in study.notes)
    commands = dict(study.provenance.commands)
    assert any(f"--baselines {zoo}" in c for c in commands.values())
    assert "engine: smac" in study.provenance.configs[0][1]


def test_without_a_search_every_study_gets_a_front(tmp_path):
    a = make_store(tmp_path / "a.db", study="zoo-a", engine="grid", trials=zoo_trials())
    b = make_store(tmp_path / "b.db", study="zoo-b", engine="grid", trials=zoo_trials())
    studies = load_stores([Source(str(a), "store", ("zoo-a",)), Source(str(b), "store", ("zoo-b",))])
    assert [s.name for s in studies] == ["zoo-a", "zoo-b"]
    assert set(studies[0].baselines["source"]) == {"zoo-b"} and set(studies[1].baselines["source"]) == {"zoo-a"}
    assert studies[0].summary["kendall_tau"].empty  # one budget


def test_prune_study(tmp_path):
    study = load_prune_study(make_prune_study(tmp_path / "study"))
    assert len(study.levels) == 12 and set(study.levels["threshold"]) == {"default", "recalibrated"}
    table = study.level_summary
    assert len(table) == 6 and (table["seeds"] == 2).all()
    row = table[(table["threshold"] == "default") & (table["requested"] == 0.8)].iloc[0]
    assert row["accuracy"] == pytest.approx(0.1 + 0.08 + 0.005 + 0.0) and row["accuracy_std"] > 0
    assert study.trials["status"].tolist() == ["complete"] * 6
    assert len(study.risk_validation) == 3 and len(study.cie) == 8
    assert study.cie["path"].iloc[0] == str(tmp_path / "study" / "images" / "0.png")  # relative to the folder
    assert study.cie_summary["statistic"].tolist() == ["auc"]
    assert "not kept in the study folder" in study.provenance.note
    titles = [t for t, _ in study.provenance.configs]
    assert any("study.db" in t for t in titles) and any("dense-seed0" in t for t in titles)


def test_prune_study_from_summary_csv_only(tmp_path):
    root = tmp_path / "study"
    root.mkdir()
    rows = [{"sparsity": s, "requested": s, "seed": 0, "attribute": a, "protected": "Male", "threshold": "default",
             "accuracy": 0.9 - s / 10, "auc": 0.8, "positive_rate": 0.5, "fpr_gap": 0.1, "fnr_gap": -0.2,
             "bias_amplification": 0.05, "uncertainty": 0.3, "ece": 0.1, "interdependence_r2": 0.4,
             "rare_value_ratio": 1.0} for s in (0.0, 0.9) for a in ("Male", "Smiling")]
    pd.DataFrame(rows).to_csv(root / "summary.csv", index=False)
    study = load_prune_study(root)
    assert len(study.levels) == 2 and study.levels["mean_abs_fnr_gap"].tolist() == [0.2, 0.2]
    assert any("recomputed from summary.csv" in n for n in study.notes)
    assert any("study.db not found" in n for n in study.notes)
    assert study.risk_validation is None and study.cie is None
