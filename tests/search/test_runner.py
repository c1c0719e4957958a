"""A real (tiny) training search through the CLI: search, trials, pareto, retrain, resume."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

from fairvision.cli import main
from fairvision.errors import ConfigError
from fairvision.search.runner import load_search_config
from fairvision.search.training import apply_search_config

CONFIGS = Path(__file__).parents[2] / "configs"

TINY_TRAIN = {
    "data": {"kind": "synthetic", "synthetic": {"n_identities": 24, "images_per_identity": 4, "size": 16,
                                                 "group_difficulty": {"A": 0.0, "B": 0.8}},
             "image_size": 16, "val_fraction": 0.5, "test_fraction": 0.25, "eval_protocol": None},
    "model": {"name": "frnas_dpn", "edges": [1, 0, 1], "width": 0.0625, "embedding_dim": 16},
    "head": {"name": "CosFace"},
    "optim": {"name": "AdamW", "lr": 0.003, "warmup_epochs": 0},
    "train": {"epochs": 2, "batch_size": 16, "device": "cpu"},
}


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    root = tmp_path_factory.mktemp("search")
    (root / "train.yaml").write_text(yaml.safe_dump(TINY_TRAIN))
    (root / "search.yaml").write_text(yaml.safe_dump({
        "train": "train.yaml", "space": "frnas", "engine": "random", "objectives": ["Error", "Rank Disparity", "params"],
        "trials": 3, "min_budget": 2, "max_budget": 2, "seed": 1, "study": "tiny"}))
    assert main(["search", str(root / "search.yaml"), "--store", str(root / "s.db"), "--quiet"]) == 0
    return root


def test_trials_json(search, capsys):
    capsys.readouterr()
    assert main(["trials", str(search / "s.db"), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["number"] for r in records] == [0, 1, 2]
    assert any(r["status"] == "complete" for r in records)
    for r in records:
        assert set(r) == {"number", "config", "budget", "status", "objectives"}
        assert r["budget"] == 2.0 and r["status"] in ("complete", "diverged")
        assert {"edge1", "edge2", "edge3", "head", "optimizer"} <= set(r["config"])
        if r["status"] == "complete":
            assert 0.0 <= r["objectives"]["Error"] <= 1.0 and r["objectives"]["params"] > 1000


def test_trial_runs_use_the_sampled_config(search):
    from fairvision.search.analysis import open_store, trial_records

    store = open_store(search / "s.db")
    try:
        records = trial_records(store)
    finally:
        store.close()
    for r in records[:3]:
        run = search / "s_runs" / "tiny" / f"trial_{r['number']:05d}"
        cfg = yaml.safe_load((run / "config.yaml").read_text())
        c = r["config"]
        assert cfg["model"]["edges"] == [int(c["edge1"]), int(c["edge2"]), int(c["edge3"])]
        assert cfg["head"]["name"] == c["head"] and cfg["optim"]["name"] == c["optimizer"]
        assert cfg["optim"]["lr"] == pytest.approx(c.get("lr_adam", c.get("lr_sgd")))
        assert cfg["train"]["epochs"] == 2 and cfg["train"]["schedule_epochs"] == 2
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["status"] == r["status"]
        if r["status"] == "complete":
            assert metrics["Error"] == pytest.approx(r["objectives"]["Error"])


def test_pareto_json_and_plot(search, capsys):
    capsys.readouterr()
    assert main(["pareto", str(search / "s.db"), "--json", "--plot", str(search / "front.png")]) == 0
    front = json.loads(capsys.readouterr().out)
    assert front and all(set(f) >= {"config", "objectives"} for f in front)
    assert (search / "front.png").read_bytes()[:4] == b"\x89PNG"


def _records(path):
    from fairvision.search.analysis import open_store, trial_records

    store = open_store(path)
    try:
        return trial_records(store)
    finally:
        store.close()


def test_search_resumes_and_extends(search):
    # re-running with more trials keeps the 3 finished ones unchanged and adds one
    before = _records(search / "s.db")[:3]
    assert main(["search", str(search / "search.yaml"), "--store", str(search / "s.db"), "--trials", "4",
                 "--quiet"]) == 0
    after = _records(search / "s.db")
    assert [r["number"] for r in after] == [0, 1, 2, 3]
    assert after[:3] == before


def test_retrain_top_config(search, capsys):
    assert main(["retrain", str(search / "s.db"), "--top", "1", "--seeds", "2", "--out", str(search / "re"),
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Error_mean" in out
    table = pd.read_csv(search / "re" / "retrain.csv")
    assert len(table) == 1 and table.loc[0, "seeds"] == 2
    runs = sorted(p.name for p in (search / "re").glob("trial_*_seed*"))
    assert len(runs) == 2 and runs[0].endswith("seed0") and runs[1].endswith("seed1")


def test_retrain_picks(search, capsys):
    from fairvision.search.analysis import front_summary, open_store
    from fairvision.search.pareto import select

    store = open_store(search / "s.db")
    try:
        summary = front_summary(store)
    finally:
        store.close()
    front, objectives = summary["front"], summary["objectives"]
    names = [o.name for o in objectives]
    expected = {pick: int(front.iloc[select(front[names].to_numpy(float), objectives, by=pick, names=names)]["number"])
                for pick in ("knee", names[1])}
    assert main(["retrain", str(search / "s.db"), "--pick", "knee", "--pick", names[1], "--seeds", "1",
                 "--out", str(search / "picks"), "--quiet"]) == 0
    table = pd.read_csv(search / "picks" / "retrain.csv")
    assert table["pick"].iloc[0] == "knee" and int(table["number"].iloc[0]) == expected["knee"]
    assert dict(zip(table["pick"], table["number"])) == {
        p: n for p, n in expected.items() if p == "knee" or n != expected["knee"]}  # a member picked twice: once
    capsys.readouterr()
    assert main(["retrain", str(search / "s.db"), "--pick", "Bogus", "--seeds", "1", "--out",
                 str(search / "bad"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'Bogus' is neither 'knee' nor an objective" in err[0]


@pytest.mark.parametrize("name", ["search-synthetic.yaml", "search-frnas-celeba.yaml", "search-frnas-vggface2.yaml"])
def test_shipped_search_configs_validate(name):
    from fairvision.search.runner import _train_mapping, build_space
    from fairvision.train import RunConfig

    cfg = load_search_config(CONFIGS / name)
    assert len(list(build_space(cfg).values())) >= 6
    RunConfig.from_dict(_train_mapping(cfg))


def test_apply_search_config_mapping():
    out = apply_search_config(TINY_TRAIN, {"edge1": "3", "edge2": "0", "edge3": "1", "head": "ArcFace",
                                           "optimizer": "SGD", "lr_sgd": 0.2, "optim.weight_decay": 0.01})
    assert out["model"]["edges"] == [3, 0, 1] and out["head"]["name"] == "ArcFace"
    assert out["optim"] == {**TINY_TRAIN["optim"], "name": "SGD", "lr": 0.2, "weight_decay": 0.01}
    zoo = apply_search_config(TINY_TRAIN, {"backbone": "resnet18"})
    assert zoo["model"]["name"] == "resnet18" and "edges" not in zoo["model"]
    with pytest.raises(ConfigError, match="no meaning"):
        apply_search_config(TINY_TRAIN, {"bogus": 1})


def test_sparsity_dimension_prunes_the_trial(tmp_path):
    """The search space's sparsity dimension: a pruned training run (GMP over 3/4 of the full budget)."""
    import json

    from fairvision.search.training import TrainingObjective

    dense = apply_search_config(TINY_TRAIN, {"sparsity": 0.0})
    assert dense["prune"] is None
    objective = TrainingObjective(TINY_TRAIN, max_budget=4, objectives=["Error"])
    cfg = objective.run_config({"sparsity": 0.6}, 4, 0)
    assert (cfg.prune["method"], cfg.prune["sparsity"], cfg.prune["start"], cfg.prune["end"]) == ("gmp", 0.6, 0, 3)
    result = objective({"sparsity": 0.6}, 4, 0, tmp_path / "trial")
    assert result["status"] == "complete" and 0 <= result["objectives"]["Error"] <= 1
    last = json.loads((tmp_path / "trial" / "history.jsonl").read_text().splitlines()[-1])
    assert last["sparsity"] == pytest.approx(0.6, abs=1e-3)


def test_bad_search_config(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text("train: x.yaml\ntrials: 0\nunknown: 1\n")
    assert main(["search", str(tmp_path / "s.yaml"), "--store", str(tmp_path / "s.db")]) == 2
    err = capsys.readouterr().err
    assert "s.yaml" in err and "trials" in err and "unknown" in err


def test_missing_store(tmp_path, capsys):
    assert main(["pareto", str(tmp_path / "none.db")]) == 2
    assert "no trial store" in capsys.readouterr().err


@pytest.mark.parametrize("engine", ["smac", "optuna", "optuna-nsga2", "optuna-tpe", "optuna-gp", "random"])
@pytest.mark.parametrize("name", ["search-synthetic.yaml", "search-frnas-celeba.yaml", "search-frnas-vggface2.yaml"])
def test_shipped_search_configs_run_with_every_engine(name, engine):
    """`--engine E` on a shipped config: the options of that engine (none for another engine) build it."""
    from fairvision.search import create_engine
    from fairvision.search.runner import build_space, resolve_engine_options

    cfg = load_search_config(CONFIGS / name)
    notes = []
    options = resolve_engine_options(cfg, engine, note=notes.append)
    eng = create_engine(engine, build_space(cfg), cfg.objectives, seed=cfg.seed, min_budget=cfg.min_budget,
                        max_budget=cfg.max_budget, n_trials=cfg.trials, **options)
    try:
        if engine == "smac":
            assert eng.options["eta"] == 2 and eng.options["n_initial"] == cfg.engine_options["smac"]["n_initial"]
        assert not notes
    finally:
        eng.close()


def _cfg(tmp_path, text: str):
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text))
    return load_search_config(path)


def test_engine_options_flat_nested_and_overrides(tmp_path):
    from fairvision.search.runner import resolve_engine_options

    flat = _cfg(tmp_path, "train: t.yaml\nengine: smac\nengine_options: {eta: 3}\n")
    assert resolve_engine_options(flat, "smac") == {"eta": 3}
    notes = []
    assert resolve_engine_options(flat, "random", note=notes.append) == {}
    assert "belong to engine 'smac'" in notes[0] and "eta" in notes[0]
    nested = _cfg(tmp_path, "train: t.yaml\nengine_options: {optuna: {constant_liar: true}, "
                            "optuna-tpe: {n_startup_trials: 5}, smac: {eta: 3}}\n")
    assert resolve_engine_options(nested, "optuna-tpe") == {"constant_liar": True, "n_startup_trials": 5}
    assert resolve_engine_options(nested, "optuna-nsga2") == {"constant_liar": True}
    assert resolve_engine_options(nested, "smac", {"eta": 4, "rho": 0.1}) == {"eta": 4, "rho": 0.1}
    mixed = _cfg(tmp_path, "train: t.yaml\nengine_options: {smac: {eta: 3}, eta: 2}\n")
    with pytest.raises(ConfigError, match="mixes engine names"):
        resolve_engine_options(mixed, "smac")


def _search_yaml(tmp_path, **over) -> Path:
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(TINY_TRAIN))
    spec = {"train": "train.yaml", "space": "frnas", "engine": "random", "objectives": ["Error", "Rank Disparity"],
            "trials": 4, "min_budget": 1, "max_budget": 1, "seed": 1, "study": "s", **over}
    (tmp_path / "search.yaml").write_text(yaml.safe_dump(spec))
    return tmp_path / "search.yaml"


@pytest.mark.parametrize("over, flags, message", [
    ({"objectives": ["Error", "Bogus"]}, [], "unknown objective 'Bogus'"),
    ({"constraints": [{"name": "paramz", "upper": 1e6}]}, [], "unknown constraint 'paramz'"),
    ({"overrides": ["data.kind=folders", "data.synthetic=null", "data.root=/no/such/faces"]}, [],
     "data.root: /no/such/faces does not exist"),
    ({"overrides": ["model.name=no_such_net"]}, [], "no_such_net"),
    ({"engine_options": {"bogus": 1}}, [], "random engine: unknown option 'bogus'"),
    ({"engine": "smac"}, ["--engine-option", "etta=3"], "smac engine: unknown option 'etta'"),
    ({}, ["--engine-option", "novalue"], "--engine-option expects KEY=VALUE"),
    ({}, ["--trials", "0"], "argument --trials: must be >= 1, got 0"),
    ({}, ["--workers", "-1"], "argument --workers: must be >= 1"),
    ({}, ["--engine", "smak"], "unknown search engine 'smak' (did you mean 'smac'?)"),
])
def test_bad_search_input_is_one_line_and_creates_no_store(tmp_path, capsys, over, flags, message):
    config = _search_yaml(tmp_path, **over)
    with pytest.raises(SystemExit) if flags[:1] in (["--trials"], ["--workers"]) else _no_raise():
        code = main(["search", str(config), "--store", str(tmp_path / "s.db"), "--quiet", *flags])
        assert code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "s.db").exists() and not list(tmp_path.glob("s_*"))


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_all_crashing_search_exits_1_and_is_retried_once_fixed(tmp_path, capsys):
    """Every trial crashes (an empty data folder): exit 1 with the first error; the crashed trials are
    not kept as finished and run once the data is there."""
    from fairvision.data.synthetic import SyntheticFacesConfig, write_synthetic

    faces = tmp_path / "faces"
    (faces / "images").mkdir(parents=True)
    config = _search_yaml(tmp_path, trials=4, overrides=["data.kind=folders", "data.synthetic=null",
                                                         f"data.root={faces / 'images'}",
                                                         f"data.demographics={faces / 'demographics.csv'}",
                                                         "data.group_column=group"])
    (faces / "demographics.csv").write_text("identity,group\n")
    store = tmp_path / "s.db"
    assert main(["search", str(config), "--store", str(store), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "3 trials in a row crashed" in err and str(faces) in err and len(err.strip().splitlines()) == 1, err
    assert {r["status"] for r in _records(store)} == {"running"}  # nothing recorded as finished
    shutil.rmtree(faces)
    write_synthetic(faces, SyntheticFacesConfig(n_identities=24, images_per_identity=4, size=16), progress=False)
    assert main(["search", str(config), "--store", str(store), "--quiet"]) == 0
    records = _records(store)
    assert [r["number"] for r in records] == [0, 1, 2, 3]
    assert {r["status"] for r in records} <= {"complete", "diverged"}


@pytest.mark.parametrize("command", ["trials", "pareto"])
@pytest.mark.parametrize("kind", ["not-sqlite", "bad-url"])
def test_store_commands_on_bad_stores(tmp_path, capsys, command, kind):
    if kind == "not-sqlite":
        target = tmp_path / "notes.txt"
        target.write_text("hello, not a database\n" * 50)
    else:
        target = "nosuchdialect://user@host/db"
    assert main([command, str(target)]) == 2
    err = capsys.readouterr().err
    assert "trial store" in err and str(target) in err and len(err.strip().splitlines()) == 1, err


def test_search_command_fixes_the_hash_seed(monkeypatch):
    """`fairvision search` re-runs itself with PYTHONHASHSEED=0 (SMAC's proposals depend on it)."""
    import argparse

    from fairvision import cli

    calls = []
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    monkeypatch.setattr(cli.os, "execv", lambda exe, argv: calls.append(argv))
    cli._fix_hash_seed(argparse.Namespace(command="search"))
    assert calls and calls[0][1:] == sys.orig_argv[1:] and cli.os.environ["PYTHONHASHSEED"] == "0"
    calls.clear()
    monkeypatch.setenv("PYTHONHASHSEED", "123")
    cli._fix_hash_seed(argparse.Namespace(command="search"))
    cli._fix_hash_seed(argparse.Namespace(command="trials"))
    assert not calls


def test_optimizer_overrides_apply_to_that_optimizer_only():
    from fairvision.search.training import TrainingObjective

    objective = TrainingObjective(TINY_TRAIN, max_budget=2, objectives=["Error", "Log-Odds Gap"],
                                  optimizer_overrides={"SGD": ["optim.weight_decay=0.0005", "train.grad_clip=1.0"]})
    base = {"edge1": "0", "edge2": "0", "edge3": "0", "head": "CosFace"}
    sgd = objective.run_config({**base, "optimizer": "SGD", "lr_sgd": 0.2}, 2, 0)
    adam = objective.run_config({**base, "optimizer": "AdamW", "lr_adam": 0.001}, 2, 0)
    assert (sgd.optim.weight_decay, sgd.train.grad_clip, sgd.optim.lr) == (0.0005, 1.0, 0.2)
    assert adam.train.grad_clip is None and adam.optim.weight_decay != 0.0005
    with pytest.raises(ConfigError, match="optimizer_overrides.SGD"):
        TrainingObjective(TINY_TRAIN, max_budget=2, objectives=["Error"],
                          optimizer_overrides={"SGD": ["train.grad_clip=-1"]})


def test_workers_and_dask_together_create_no_store(tmp_path, capsys):
    config = _search_yaml(tmp_path)
    assert main(["search", str(config), "--store", str(tmp_path / "s.db"), "--workers", "2",
                 "--dask-scheduler", "tcp://127.0.0.1:1", "--quiet"]) == 2
    assert "not both" in capsys.readouterr().err and not (tmp_path / "s.db").exists()
