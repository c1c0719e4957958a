"""Hyperparameter analysis (FR-NAS phase 1): ANOVA / Tukey HSD against statsmodels and scipy, fronts per
(head, optimizer), the released vgg_val_phase1.csv, the `analyze` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("statsmodels")

from scipy import stats  # noqa: E402
from statsmodels.formula.api import ols  # noqa: E402
from statsmodels.stats.anova import anova_lm  # noqa: E402

from fairvision.errors import ConfigError, DatasetError  # noqa: E402
from fairvision.search.hyperparams import (  # noqa: E402
    from_store,
    hyperparameter_analysis,
    parse_model_name,
    read_phase1_csv,
)
from ..cli_run import run_cli as run  # noqa: E402

PHASE1 = Path(__file__).parents[1] / "data" / "frnas" / "analysis" / "vgg_val_phase1.csv"
needs_phase1 = pytest.mark.skipif(not PHASE1.is_file(), reason="tests/data/frnas/analysis/vgg_val_phase1.csv absent")

HEAD_EFFECT = {"ArcFace": 0.10, "CosFace": 0.0, "MagFace": 0.0}  # ArcFace is worse, the other two equal


def known_effect_table(reps: int = 5, seed: int = 0) -> pd.DataFrame:
    """Balanced 3 heads x 2 optimizers x ``reps``: Error has a head effect only; Disparity has none."""
    rng = np.random.default_rng(seed)
    rows = []
    for head in HEAD_EFFECT:
        for opt in ("AdamW", "SGD"):
            for r in range(reps):
                rows.append({"name": f"net{r}_{head}_{opt}", "head": head, "optimizer": opt,
                             "Error": 0.2 + HEAD_EFFECT[head] + rng.normal(0, 0.02),
                             "Disparity": 0.05 + rng.normal(0, 0.01)})
    return pd.DataFrame(rows)


# -- model names ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [
    ("selecsls60b_MagFace_SGD", ("selecsls60b", "MagFace", "SGD", "none")),
    ("tf_efficientnet_b7_ns_ArcFace_AdamW_0.001_cosine", ("tf_efficientnet_b7_ns", "ArcFace", "AdamW", "0.001_cosine")),
    ("twins_svt_large_CosFace_SGD_0.1_cosine", ("twins_svt_large", "CosFace", "SGD", "0.1_cosine")),
    ("dla102x2_CosFace_sgd", ("dla102x2", "CosFace", "SGD", "none")),
    ("twins_svt_large_CosFace_adamw", ("twins_svt_large", "CosFace", "AdamW", "none")),
    ("cspdarknet53_CosFace_adam", ("cspdarknet53", "CosFace", "Adam", "none")),
    ("tf_efficientnet_b7_ns_CosFace_rmsproptf", ("tf_efficientnet_b7_ns", "CosFace", "RMSpropTF", "none")),
    ("inception_v4_CosFace_RMSProp", ("inception_v4", "CosFace", "RMSProp", "none")),
    ("resnet_cosface_Lion", ("resnet", "CosFace", "Lion", "none")),
])
def test_parse_model_name(name, expected):
    assert tuple(parse_model_name(name).values()) == expected


@pytest.mark.parametrize("name", ["resnet50_SGD", "CosFace_SGD", "resnet50_CosFace", ""])
def test_parse_model_name_rejects(name):
    with pytest.raises(ValueError, match="BACKBONE_HEAD_OPTIMIZER"):
        parse_model_name(name)


# -- ANOVA and Tukey against statsmodels / scipy -----------------------------------------------


def test_one_factor_anova_is_scipy_f_oneway():
    table = known_effect_table()
    res = hyperparameter_analysis(table, objectives=["Error"], factors=["head"])
    groups = [g["Error"].to_numpy() for _, g in table.groupby("head")]
    ref = stats.f_oneway(*groups)
    assert res["anova"]["Error"]["head"]["F"] == pytest.approx(ref.statistic, rel=1e-10)
    assert res["anova"]["Error"]["head"]["p"] == pytest.approx(ref.pvalue, rel=1e-8)
    assert res["anova"]["Error"]["head"]["df"] == 2 and res["residual"]["Error"]["df"] == len(table) - 3


def test_two_factor_anova_matches_anova_lm_and_finds_the_known_effect():
    table = known_effect_table()
    res = hyperparameter_analysis(table)  # default: the numeric columns, the factors present
    assert res["objectives"] == ["Error", "Disparity"] and res["factors"] == ["head", "optimizer"]
    assert res["formula"]["Error"] == "Error ~ head + optimizer"
    for objective in ("Error", "Disparity"):
        ref = anova_lm(ols(f"{objective} ~ C(head) + C(optimizer)", data=table).fit(), typ=2)
        for factor in ("head", "optimizer"):
            got = res["anova"][objective][factor]
            assert got["F"] == pytest.approx(ref.loc[f"C({factor})", "F"], rel=1e-10)
            assert got["p"] == pytest.approx(ref.loc[f"C({factor})", "PR(>F)"], rel=1e-8)
    assert res["anova"]["Error"]["head"]["p"] < 1e-10  # the planted effect
    assert res["anova"]["Error"]["optimizer"]["p"] > 0.05  # none planted
    assert res["anova"]["Disparity"]["head"]["p"] > 0.05
    # balanced design: sequential (Type I) and Type II tables agree
    seq = hyperparameter_analysis(table, anova_type=1)
    for factor in ("head", "optimizer"):
        assert seq["anova"]["Error"][factor]["F"] == pytest.approx(res["anova"]["Error"][factor]["F"], rel=1e-9)


def test_tukey_pairs_match_scipy_tukey_hsd():
    table = known_effect_table()
    res = hyperparameter_analysis(table, objectives=["Error"], alpha=0.05)
    pairs = res["tukey"]["Error"]["head"]
    assert [(p["a"], p["b"]) for p in pairs] == [("ArcFace", "CosFace"), ("ArcFace", "MagFace"), ("CosFace", "MagFace")]
    levels = ["ArcFace", "CosFace", "MagFace"]
    groups = [table.loc[table["head"] == h, "Error"].to_numpy() for h in levels]
    ref = stats.tukey_hsd(*groups)
    for p in pairs:
        i, j = levels.index(p["a"]), levels.index(p["b"])
        assert p["diff"] == pytest.approx(groups[j].mean() - groups[i].mean(), abs=1e-12)  # mean(b) - mean(a)
        assert p["p_adj"] == pytest.approx(ref.pvalue[i, j], abs=1e-6)
        assert p["reject"] == (p["p_adj"] < 0.05)
        assert p["lower"] < p["diff"] < p["upper"]
    assert [p["reject"] for p in pairs] == [True, True, False]  # ArcFace differs, CosFace ~ MagFace
    assert pairs[0]["diff"] < 0  # CosFace has the lower Error
    assert res["means"]["Error"]["head"]["CosFace"]["n"] == 10
    assert [(p["a"], p["b"]) for p in res["tukey"]["Error"]["optimizer"]] == [("AdamW", "SGD")]


def test_unbalanced_type2_adjusts_for_the_other_factors():
    table = known_effect_table(reps=4)
    table["backbone"] = np.where(np.arange(len(table)) % 3 == 0, "big", "small")
    table = table.iloc[:-3].reset_index(drop=True)  # unbalanced
    res = hyperparameter_analysis(table, objectives=["Error"])
    assert res["factors"] == ["head", "optimizer", "backbone"]
    ref = anova_lm(ols("Error ~ C(head) + C(optimizer) + C(backbone)", data=table).fit(), typ=2)
    seq = anova_lm(ols("Error ~ C(head) + C(optimizer) + C(backbone)", data=table).fit(), typ=1)
    got = hyperparameter_analysis(table, objectives=["Error"], anova_type=1)
    for factor in ("head", "optimizer", "backbone"):
        assert res["anova"]["Error"][factor]["F"] == pytest.approx(ref.loc[f"C({factor})", "F"], rel=1e-10)
        assert got["anova"]["Error"][factor]["F"] == pytest.approx(seq.loc[f"C({factor})", "F"], rel=1e-10)
    assert res["anova"]["Error"]["optimizer"]["F"] != pytest.approx(got["anova"]["Error"]["optimizer"]["F"], rel=1e-6)


def test_missing_values_single_levels_and_bad_options():
    table = known_effect_table()
    table.loc[0, "Error"] = np.nan
    table.loc[1, "Error"] = np.inf
    table.loc[2, "optimizer"] = None
    res = hyperparameter_analysis(table, objectives=["Error", "Disparity"])
    assert res["n"] == {"Error": len(table) - 3, "Disparity": len(table) - 1}
    one = hyperparameter_analysis(table.assign(optimizer="SGD"), objectives=["Error"])
    assert one["skipped"]["Error"] == ["optimizer"] and list(one["anova"]["Error"]) == ["head"]
    with pytest.raises(ConfigError, match="unknown"):
        hyperparameter_analysis(table, objectives=["Accuracy"])
    with pytest.raises(ConfigError, match="unknown"):
        hyperparameter_analysis(table, factors=["lr"])
    with pytest.raises(ConfigError, match="no factor column"):
        hyperparameter_analysis(table.drop(columns=["head", "optimizer"]))
    with pytest.raises(ConfigError, match="alpha"):
        hyperparameter_analysis(table, alpha=1.5)
    with pytest.raises(ConfigError, match="both"):
        hyperparameter_analysis(table, objectives=["Error"], factors=["Error"])
    with pytest.raises(DatasetError, match="not numeric"):
        hyperparameter_analysis(table.assign(Error="high"), objectives=["Error"])
    confounded = table.assign(optimizer=table["head"].map({"ArcFace": "SGD", "CosFace": "AdamW", "MagFace": "AdamW"}))
    with pytest.raises(DatasetError, match="Error: the factors head \\+ optimizer are confounded"):
        hyperparameter_analysis(confounded, objectives=["Error"])
    with pytest.raises(DatasetError, match="too few"):
        hyperparameter_analysis(table.iloc[[3, 8, 13]], objectives=["Disparity"])


# -- fronts ----------------------------------------------------------------------------------------


def test_fronts_per_head_optimizer_combination():
    rows = [  # CosFace/SGD: (0.3, 0.4) is dominated by (0.2, 0.3)
        ("a", "CosFace", "SGD", 0.1, 0.5, 3.0), ("b", "CosFace", "SGD", 0.2, 0.3, 1.0),
        ("c", "CosFace", "SGD", 0.3, 0.4, 2.0), ("d", "CosFace", "SGD", 0.4, 0.1, 9.0),
        ("e", "ArcFace", "SGD", 0.5, 0.5, 1.0), ("f", "ArcFace", "SGD", 0.6, 0.6, 1.0),
        ("g", "CosFace", "AdamW", 0.3, 0.3, 1.0), ("h", "CosFace", "AdamW", np.nan, 0.0, 0.0),
    ]
    table = pd.DataFrame(rows, columns=["name", "head", "optimizer", "Error", "Disparity", "Rank Disparity"])
    fronts = hyperparameter_analysis(table, factors=["head", "optimizer"], anova_type=1)["fronts"]
    assert sorted(fronts) == ["ArcFace/SGD", "CosFace/AdamW", "CosFace/SGD"]  # no ArcFace/AdamW rows
    cos = fronts["CosFace/SGD"]
    assert cos["levels"] == {"head": "CosFace", "optimizer": "SGD"} and cos["n"] == 4
    assert list(cos["fronts"]) == ["Error vs Disparity", "Error vs Rank Disparity"]
    assert [r["name"] for r in cos["fronts"]["Error vs Disparity"]] == ["a", "b", "d"]  # sorted by Error
    assert cos["fronts"]["Error vs Disparity"][1] == {"name": "b", "head": "CosFace", "optimizer": "SGD",
                                                       "Error": 0.2, "Disparity": 0.3}
    assert [r["name"] for r in cos["fronts"]["Error vs Rank Disparity"]] == ["a", "b"]
    assert [r["name"] for r in fronts["ArcFace/SGD"]["fronts"]["Error vs Disparity"]] == ["e"]
    assert [r["name"] for r in fronts["CosFace/AdamW"]["fronts"]["Error vs Disparity"]] == ["g"]  # NaN row never on it
    maxi = hyperparameter_analysis(table, factors=["head", "optimizer"], objectives=["Error", "Disparity"],
                                   directions={"Disparity": "maximize"})["fronts"]
    assert [r["name"] for r in maxi["CosFace/SGD"]["fronts"]["Error vs Disparity"]] == ["a"]


# -- the released FR-NAS phase-1 table -------------------------------------------------------------


@needs_phase1
def test_read_phase1_csv_parses_every_name():
    table = read_phase1_csv(PHASE1)
    assert len(table) == 355
    assert table.attrs["objectives"] == ["Error", "Disparity", "Rank Disparity", "Ratio", "Rank Ratio", "Error Ratio"]
    assert table["head"].value_counts().to_dict() == {"CosFace": 130, "MagFace": 113, "ArcFace": 112}
    assert table["optimizer"].value_counts().to_dict() == {"AdamW": 171, "SGD": 169, "Adam": 11, "RMSProp": 2,
                                                         "RMSpropTF": 2}
    assert table["Error"].isna().sum() == 1 and table["Ratio"].isna().sum() == 53
    assert table.loc[table["name"] == "xception65_ArcFace_AdamW_0.001_cosine", "suffix"].item() == "0.001_cosine"


@needs_phase1
def test_phase1_head_and_optimizer_effects_on_error():
    """Error ~ head + optimizer on the released table (all 354 rows with an Error, Type II ANOVA):
    the head matters -- CosFace has a lower Error than ArcFace and MagFace, which do not differ; the
    optimizer effect comes from the few Adam / RMSProp rows: AdamW and SGD do not differ.
    These figures are the ones quoted in docs/hyperparams.md."""
    table = read_phase1_csv(PHASE1)
    res = hyperparameter_analysis(table, objectives=["Error"], factors=["head", "optimizer"])
    assert res["n"]["Error"] == 354 and res["residual"]["Error"]["df"] == 347
    anova = res["anova"]["Error"]
    assert anova["head"]["F"] == pytest.approx(13.97596, rel=1e-5) and anova["head"]["p"] == pytest.approx(1.4535e-6, rel=1e-3)
    assert anova["optimizer"]["F"] == pytest.approx(6.29178, rel=1e-5)
    assert anova["optimizer"]["p"] == pytest.approx(6.7459e-5, rel=1e-3)
    means = {k: v["mean"] for k, v in res["means"]["Error"]["head"].items()}
    assert means == pytest.approx({"ArcFace": 0.49607, "CosFace": 0.34308, "MagFace": 0.48264}, abs=1e-4)
    head = {(p["a"], p["b"]): p for p in res["tukey"]["Error"]["head"]}
    assert head["ArcFace", "CosFace"]["reject"] and head["ArcFace", "CosFace"]["diff"] == pytest.approx(-0.15299, abs=1e-5)
    assert head["ArcFace", "CosFace"]["p_adj"] == pytest.approx(7.13e-4, rel=1e-2)
    assert head["CosFace", "MagFace"]["reject"] and head["CosFace", "MagFace"]["diff"] == pytest.approx(0.13956, abs=1e-5)
    assert head["CosFace", "MagFace"]["p_adj"] == pytest.approx(2.25e-3, rel=1e-2)
    assert not head["ArcFace", "MagFace"]["reject"] and head["ArcFace", "MagFace"]["p_adj"] > 0.9
    opt = {(p["a"], p["b"]): p for p in res["tukey"]["Error"]["optimizer"]}
    assert len(opt) == 10 and [k for k, p in opt.items() if p["reject"]] == [("Adam", "AdamW")]
    assert opt["AdamW", "SGD"]["diff"] == pytest.approx(0.01477, abs=1e-5) and opt["AdamW", "SGD"]["p_adj"] > 0.99

    # FR-NAS's own notebook used the sequential table (head first): the head's F changes, the optimizer's not
    seq = hyperparameter_analysis(table, objectives=["Error"], factors=["head", "optimizer"], anova_type=1)
    assert seq["anova"]["Error"]["head"]["F"] == pytest.approx(9.15493, rel=1e-5)
    assert seq["anova"]["Error"]["optimizer"]["F"] == pytest.approx(anova["optimizer"]["F"], rel=1e-9)

    # without the 86 non-converged models (Error > 0.75, FR-NAS's notebook cut): the head effect stays,
    # the optimizer effect is no longer significant at 0.05
    conv = hyperparameter_analysis(table[~(table["Error"] > 0.75)], objectives=["Error"], factors=["head", "optimizer"])
    assert conv["n"]["Error"] == 268
    assert conv["anova"]["Error"]["head"]["F"] == pytest.approx(18.16513, rel=1e-5)
    assert conv["anova"]["Error"]["head"]["p"] < 1e-7
    assert conv["anova"]["Error"]["optimizer"]["p"] == pytest.approx(0.0602, rel=1e-2)
    assert [(p["a"], p["b"]) for p in conv["tukey"]["Error"]["head"] if p["reject"]] == [("ArcFace", "CosFace"),
                                                                                        ("CosFace", "MagFace")]
    assert not any(p["reject"] for p in conv["tukey"]["Error"]["optimizer"])


# -- the command -------------------------------------------------------------------------------------


@needs_phase1
def test_cli_analyze_json_on_phase1(capsys):
    code, out, err = run(capsys, "analyze", PHASE1, "--json", "--objectives", "Error", "Rank Disparity",
                         "--factors", "head", "optimizer", "backbone", "--max-error", "0.75")
    assert code == 0, err
    result = json.loads(out)
    assert {"anova", "tukey", "fronts", "means", "n"} <= set(result) and result["n"]["Error"] == 268
    assert set(result["anova"]) == {"Error", "Rank Disparity"}
    assert set(result["anova"]["Error"]) == {"head", "optimizer", "backbone"}
    assert set(result["anova"]["Error"]["head"]) >= {"F", "p"}
    assert isinstance(result["anova"]["Error"]["head"]["F"], float)
    assert set(result["tukey"]["Error"]) == {"head", "optimizer", "backbone"}
    assert set(result["tukey"]["Error"]["head"][0]) >= {"a", "b", "diff", "p_adj", "reject"}
    assert "CosFace/SGD" in result["fronts"]
    assert list(result["fronts"]["CosFace/SGD"]["fronts"]) == ["Error vs Rank Disparity"]
    code, out, err = run(capsys, "analyze", PHASE1, "--factors", "head", "optimizer", "--objectives", "Error")
    assert code == 0, err
    assert "Error ~ head + optimizer" in out and "CosFace/SGD" in out


@pytest.fixture
def store_path(tmp_path):
    from fairvision.search import TrialStore, timm_zoo_space

    path = tmp_path / "study.db"
    store = TrialStore(path)
    store.create_or_load_study("zoo", space=timm_zoo_space(["resnet18", "vgg11"]),
                               objectives=["Error", {"name": "Rank Disparity", "direction": "minimize"}],
                               engine="random")
    rng = np.random.default_rng(1)
    number = 0
    for backbone in ("resnet18", "vgg11"):
        for head in ("CosFace", "ArcFace", "MagFace"):
            for opt in ("SGD", "AdamW"):
                for budget in (2.0, 8.0):
                    store.add_trial(number, {"backbone": backbone, "head": head, "optimizer": opt}, budget, 0)
                    store.start(number)
                    err = 0.2 + (0.15 if head == "ArcFace" else 0) + rng.normal(0, 0.01) + 0.3 / budget
                    store.finish(number, objectives={"Error": err, "Rank Disparity": 1 + rng.normal(0, 0.1)})
                    number += 1
    store.add_trial(number, {"backbone": "vgg11", "head": "CosFace", "optimizer": "SGD"}, 8.0, 0)
    store.start(number)
    store.fail(number, "RuntimeError: boom")  # crashed: left out
    store.close()
    return path


def test_from_store_uses_complete_trials_at_the_full_budget(store_path):
    frame = from_store(store_path)
    assert len(frame) == 12 and set(frame["budget"]) == {8.0}
    assert frame.attrs["objectives"] == ["Error", "Rank Disparity"]
    res = hyperparameter_analysis(frame)
    assert res["factors"] == ["head", "optimizer", "backbone"] and res["n"]["Error"] == 12
    assert res["anova"]["Error"]["head"]["p"] < 1e-3
    assert res["fronts"]["CosFace/SGD"]["n"] == 2
    front = res["fronts"]["CosFace/SGD"]["fronts"]["Error vs Rank Disparity"]
    assert 1 <= len(front) <= 2 and {r["number"] for r in front} <= set(frame["number"])


def test_cli_analyze_store_json(store_path, capsys):
    code, out, err = run(capsys, "analyze", store_path, "--json", "--study", "zoo")
    assert code == 0, err
    result = json.loads(out)
    assert set(result["anova"]) == {"Error", "Rank Disparity"}
    assert set(result["tukey"]["Error"]) == {"head", "optimizer", "backbone"}
    assert len(result["fronts"]) == 6


@pytest.mark.parametrize("text, match", [
    ("index,epoch,Error\nresnet50_CosFace_SGD,10,0.2\nresnet50_SGD,10,0.3\n",
     r"bad\.csv, line 3: cannot read 'resnet50_SGD'"),
    ("index,epoch,Error\nresnet50_CosFace_SGD,10,0.2\nresnet50_ArcFace_SGD,10,high\n",
     r"bad\.csv, line 3: Error is 'high'"),
    ("model,Error\nresnet50_CosFace_SGD,0.2\n", r"bad\.csv: no model-name column 'index'"),
    ("index,epoch\nresnet50_CosFace_SGD,10\n", r"bad\.csv: no objective column"),
    ("", r"bad\.csv: phase-1 results file is empty"),
])
def test_cli_bad_csv_is_one_line_exit_2(tmp_path, capsys, text, match):
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    code, out, err = run(capsys, "analyze", bad)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("fairvision analyze: error: ")
    import re

    assert re.search(match, err), err


def test_cli_other_bad_inputs(tmp_path, capsys):
    good = tmp_path / "ok.csv"
    combos = [("CosFace", "SGD"), ("ArcFace", "AdamW"), ("CosFace", "AdamW"), ("ArcFace", "SGD")]
    good.write_text("index,Error\n" + "".join(f"n{i}_{h}_{o},{0.1 * i + 0.01 * k:.2f}\n"
                                              for i in range(1, 5) for k, (h, o) in enumerate(combos)))
    for argv, match in [((tmp_path / "missing.csv",), "not found"),
                        ((tmp_path / "none.db",), "no trial store"),
                        ((good, "--study", "x"), "--study applies to a trial store"),
                        ((good, "--objectives", "Accuracy"), "unknown"),
                        ((good, "--max-error", "0.115", "--factors", "head"), "too few")]:
        code, out, err = run(capsys, "analyze", *argv)
        assert code == 2 and err.count("\n") == 1 and match in err, (argv, err)
    code, out, err = run(capsys, "analyze", good, "--json", "--factors", "head", "optimizer", "--anova-type", "1")
    assert code == 0, err
    assert json.loads(out)["anova_type"] == 1
