"""Front of a store under both dominance modes (API and CLI) and baselines as mean ± std over seeds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fairvision.cli import main
from fairvision.errors import ConfigError, FairvisionError
from fairvision.search import TrialStore, timm_zoo_space
from fairvision.search.analysis import (
    aggregate_baselines,
    baseline_table,
    front_summary,
    load_baselines,
    open_store,
)

OBJECTIVES = ["Error", "Rank Disparity"]


def _store(path, rows, *, study="zoo"):
    """A store whose complete trials are ``rows``: (config, seed, Error, Rank Disparity) at budget 8."""
    store = TrialStore(path)
    try:
        store.create_or_load_study(study, space=timm_zoo_space(["resnet18", "vgg11"]), objectives=OBJECTIVES,
                                   engine="grid")
        for number, (config, seed, err, rd) in enumerate(rows):
            store.add_trial(number, config, 8.0, seed)
            store.start(number)
            store.finish(number, objectives={"Error": err, "Rank Disparity": rd})
    finally:
        store.close()
    return path


def _cfg(backbone, head="CosFace", optimizer="SGD", **extra):
    return {"backbone": backbone, "head": head, "optimizer": optimizer, **extra}


# trial 1 has trial 0's Error and a worse Rank Disparity: on FR-NAS's front only
SEARCH = [(_cfg("resnet18"), 0, 0.20, 0.50), (_cfg("vgg11"), 0, 0.20, 0.70),
          (_cfg("resnet18", "ArcFace"), 0, 0.30, 0.20), (_cfg("vgg11", "ArcFace"), 0, 0.40, 0.60)]


@pytest.fixture
def search(tmp_path):
    return _store(tmp_path / "search.db", SEARCH, study="search")


@pytest.mark.parametrize("dominance, numbers", [("pareto", [0, 2]), ("frnas", [0, 1, 2])])
def test_front_summary_dominance(search, dominance, numbers):
    store = open_store(search)
    try:
        summary = front_summary(store, dominance=dominance)
        hv = front_summary(store)["hypervolume"]
    finally:
        store.close()
    assert summary["dominance"] == dominance and sorted(summary["front"]["number"]) == numbers
    assert summary["hypervolume"] == hv  # the mode never changes the hypervolume


def test_front_summary_rejects_an_unknown_dominance(search):
    store = open_store(search)
    try:
        with pytest.raises(ConfigError, match="^dominance must be"):
            front_summary(store, dominance="weak")
    finally:
        store.close()


@pytest.mark.parametrize("flags, numbers", [([], [0, 2]), (["--dominance", "pareto"], [0, 2]),
                                            (["--dominance", "frnas"], [0, 1, 2])])
def test_cli_pareto_dominance(search, capsys, flags, numbers):
    assert main(["pareto", str(search), "--json", *flags]) == 0
    assert sorted(r["number"] for r in json.loads(capsys.readouterr().out)) == numbers


@pytest.mark.parametrize("argv, needle", [
    (["--dominance", "weak"], "argument --dominance: invalid choice: 'weak'"),
    (["--weak"], "unrecognized arguments: --weak"),
    (["--baselines", "b.csv"], "--baselines are drawn on the --plot figure"),
])
def test_cli_pareto_bad_options_one_line(search, capsys, argv, needle):
    try:
        code = main(["pareto", str(search), *argv])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and needle in err[0]


def test_cli_text_output_names_the_mode(search, capsys):
    assert main(["pareto", str(search), "--dominance", "frnas"]) == 0
    assert "frnas dominance" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------- baselines

HAND = pd.DataFrame({
    "source": ["zoo", "zoo", "zoo", "zoo", "paper", "zoo"],
    "name": ["zoo: a", "zoo: a", "zoo: a", "zoo: b", "a", "zoo: b"],
    "seed": [0, 1, 2, 0, 0, 1],
    "Error": [0.1, 0.2, 0.3, 0.5, 0.25, np.nan],
    "Rank Disparity": [1.0, 1.0, 4.0, 2.0, 0.5, 3.0],
})


def test_aggregate_baselines_hand_made():
    agg = aggregate_baselines(HAND, OBJECTIVES)
    assert list(agg.columns) == ["source", "name", "n", "Error_mean", "Error_std", "Rank Disparity_mean",
                                 "Rank Disparity_std"]
    assert agg[["source", "name", "n"]].values.tolist() == [["zoo", "zoo: a", 3], ["zoo", "zoo: b", 2],
                                                             ["paper", "a", 1]]
    a, b, paper = (agg.iloc[i] for i in range(3))
    assert a["Error_mean"] == pytest.approx(0.2) and a["Error_std"] == pytest.approx(0.1)  # ddof 1
    assert a["Rank Disparity_mean"] == pytest.approx(2.0) and a["Rank Disparity_std"] == pytest.approx(np.sqrt(3))
    assert b["Error_mean"] == pytest.approx(0.5) and np.isnan(b["Error_std"])  # its NaN Error is left out
    assert b["Rank Disparity_std"] == pytest.approx(np.std([2.0, 3.0], ddof=1))
    assert paper["Error_mean"] == 0.25 and np.isnan(paper["Error_std"])


@pytest.mark.parametrize("table, message", [
    (HAND.drop(columns="name"), "missing columns \\['name'\\]"),
    (HAND.drop(columns="Error"), "missing columns \\['Error'\\]"),
])
def test_aggregate_baselines_missing_columns(table, message):
    with pytest.raises(ConfigError, match=message):
        aggregate_baselines(table, OBJECTIVES)


def test_aggregate_without_source_column_is_one_source():
    agg = aggregate_baselines(HAND.drop(columns="source"), ["Error"])
    assert agg["source"].tolist() == ["baselines"] * 3 and agg["n"].tolist() == [3, 2, 1]


ZOO = [(_cfg("resnet18"), s, 0.2 + 0.01 * s, 0.5 + 0.1 * s) for s in range(3)] + [
    (_cfg("vgg11", lr=0.1), 0, 0.3, 0.4), (_cfg("vgg11", lr=0.01), 0, 0.35, 0.45),
    (_cfg("vgg11", lr=0.1), 1, 0.32, 0.42)]


def test_baseline_table_has_source_seed_and_one_name_per_configuration(tmp_path):
    table = baseline_table(_store(tmp_path / "zoo.db", ZOO))
    assert list(table.columns) == ["source", "name", "seed", "number", *OBJECTIVES]
    assert table["seed"].tolist() == [0, 1, 2, 0, 0, 1] and set(table["source"]) == {"zoo"}
    assert table["name"].tolist() == ["zoo: resnet18/CosFace/SGD"] * 3 + [
        "zoo: vgg11/CosFace/SGD (lr=0.1)", "zoo: vgg11/CosFace/SGD (lr=0.01)", "zoo: vgg11/CosFace/SGD (lr=0.1)"]
    agg = aggregate_baselines(table, OBJECTIVES)
    assert agg["n"].tolist() == [3, 2, 1]
    assert agg["Error_mean"].tolist() == pytest.approx([0.21, 0.31, 0.35])


def test_load_baselines_csv_defaults_and_same_study_name_in_two_stores(tmp_path):
    one = _store(tmp_path / "none.db", ZOO[:3])
    two = _store(tmp_path / "flipped.db", ZOO[3:])  # both studies are called "zoo"
    csv = tmp_path / "paper.csv"
    pd.DataFrame({"Error": [0.3, 0.31], "Rank Disparity": [0.2, 0.25], "seed": [0, 1]}).to_csv(csv, index=False)
    table = load_baselines([one, two, csv], OBJECTIVES)
    assert list(dict.fromkeys(table["source"])) == [f"zoo ({one})", f"zoo ({two})", "paper"]
    assert table["name"].iloc[0] == f"zoo ({one}): resnet18/CosFace/SGD"
    assert table["name"].tolist()[-2:] == ["row 1", "row 2"]
    named = tmp_path / "named.csv"
    pd.DataFrame({"name": ["x"], "source": ["MIT"], "Error": [0.3]}).to_csv(named, index=False)
    assert load_baselines([named], ["Error"])[["source", "name"]].values.tolist() == [["MIT", "x"]]
    with pytest.raises(FairvisionError, match="named.csv: baselines need objectives \\['Rank Disparity'\\]"):
        load_baselines([named], OBJECTIVES)


def test_cli_plot_writes_aggregated_baselines_next_to_the_plot(search, tmp_path, capsys):
    zoo = _store(tmp_path / "zoo.db", ZOO)
    csv = tmp_path / "paper.csv"
    pd.DataFrame({"name": ["FR-NAS", "FR-NAS"], "seed": [0, 1], "Error": [0.1, 0.3],
                  "Rank Disparity": [0.2, 0.4]}).to_csv(csv, index=False)
    plot = tmp_path / "out" / "front.png"
    plot.parent.mkdir()
    assert main(["pareto", str(search), "--plot", str(plot), "--baselines", str(zoo), "--baselines", str(csv),
                 "--dominance", "frnas"]) == 0
    assert plot.read_bytes()[:4] == b"\x89PNG"
    written = pd.read_csv(plot.parent / "front_baselines.csv")
    assert written[["source", "name", "n"]].values.tolist() == [
        ["zoo", "zoo: resnet18/CosFace/SGD", 3], ["zoo", "zoo: vgg11/CosFace/SGD (lr=0.1)", 2],
        ["zoo", "zoo: vgg11/CosFace/SGD (lr=0.01)", 1], ["paper", "FR-NAS", 2]]
    assert written["Error_mean"].tolist() == pytest.approx([0.21, 0.31, 0.35, 0.2])
    assert written["Error_std"].iloc[3] == pytest.approx(np.std([0.1, 0.3], ddof=1))
    assert "front_baselines.csv" in capsys.readouterr().out


@pytest.mark.parametrize("dominance, rows", [("pareto", ["a", "c"]), ("frnas", ["a", "b", "c"])])
def test_hyperparameter_fronts_follow_the_dominance(dominance, rows):
    pytest.importorskip("statsmodels")
    from fairvision.search.hyperparams import hyperparameter_analysis

    table = pd.DataFrame({"name": list("abcdefgh"), "head": ["CosFace"] * 4 + ["ArcFace"] * 4,
                          "optimizer": ["SGD"] * 8, "Error": [0.1, 0.1, 0.3, 0.4, 0.2, 0.25, 0.3, 0.5],
                          "Disparity": [0.5, 0.7, 0.2, 0.6, 0.3, 0.2, 0.4, 0.1]})
    result = hyperparameter_analysis(table, objectives=["Error", "Disparity"], factors=["head"], dominance=dominance)
    assert result["dominance"] == dominance
    assert [r["name"] for r in result["fronts"]["CosFace"]["fronts"]["Error vs Disparity"]] == rows
    with pytest.raises(ConfigError, match="^dominance must be"):
        hyperparameter_analysis(table, objectives=["Error"], factors=["head"], dominance="strict")
