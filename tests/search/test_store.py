"""TrialStore: SQLite (WAL) by default, any SQLAlchemy URL; lifecycle, persistence, refusal to resume."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import text

from fairvision.errors import ConfigError
from fairvision.search import Objective, TrialStore, frnas_space, timm_zoo_space

OBJ = ["Error", "Rank Disparity"]
CFG = {"edge1": "2", "edge2": "0", "edge3": "1", "head": "CosFace", "optimizer": "Adam", "lr_adam": 0.001}


def _study(store: TrialStore, name: str = "s", **kw) -> int:
    return store.create_or_load_study(name, space=kw.get("space", frnas_space()),
                                      objectives=kw.get("objectives", OBJ), engine="smac",
                                      settings={"eta": 2})


def test_lifecycle_and_persistence(tmp_path):
    path = tmp_path / "db" / "search.db"
    store = TrialStore(path)
    _study(store)
    with store.engine.connect() as con:
        assert con.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    store.add_trial(0, CFG, 2.0, 7, run_dir=tmp_path / "t0")
    store.add_trial(1, CFG, 8.0, 7)
    store.add_trial(2, CFG, 8.0, 7)
    for n in (0, 1, 2):
        store.start(n)
    store.finish(0, objectives={"Error": 0.2, "Rank Disparity": 0.5},
                 metrics={"groups": {"male": {"accuracy": 0.9}, "female": {"accuracy": math.nan}}})
    store.start(1)  # a retry
    store.fail(1, "RuntimeError: boom")
    assert store.unfinished()["number"].tolist() == [2]
    store.close()

    again = TrialStore(path)  # a new process would see the same
    with pytest.raises(ConfigError, match="create_or_load_study"):
        again.trials()
    _study(again)
    df = again.trials()
    assert df["number"].tolist() == [0, 1, 2]
    assert df["status"].tolist() == ["complete", "crashed", "running"]
    assert df["attempts"].tolist() == [1, 2, 1]
    assert df.loc[0, "config"] == CFG and df.loc[0, "budget"] == 2.0 and df.loc[0, "seed"] == 7
    assert df.loc[0, "metrics"]["groups"]["female"]["accuracy"] is None  # NaN stored as null
    assert df.loc[0, "Error"] == 0.2 and math.isnan(df.loc[1, "Error"])
    assert df.loc[0, "run_dir"].endswith("t0") and df.loc[1, "error"] == "RuntimeError: boom"
    assert df.loc[0, "finished"] >= df.loc[0, "started"]
    assert again.trials("crashed")["number"].tolist() == [1]
    assert again.trials(["complete", "crashed"])["number"].tolist() == [0, 1]
    assert again.study()["objectives"] == [Objective("Error"), Objective("Rank Disparity")]
    assert again.study()["settings"] == {"eta": 2}
    reader = TrialStore(path)
    with pytest.raises(ConfigError, match="no study 'nope'"):
        reader.load_study("nope")
    reader.load_study()  # the only study
    assert reader.study_name == "s" and reader.trials()["number"].tolist() == [0, 1, 2]
    _study(reader, "t")
    with pytest.raises(ConfigError, match=r"studies \['s', 't'\]; name the one"):
        reader.load_study()
    with pytest.raises(ConfigError, match="no study$"):
        TrialStore(tmp_path / "empty.db").load_study()


def test_refuses_resume_with_other_space_or_objectives(tmp_path):
    store = TrialStore(tmp_path / "s.db")
    _study(store)
    with pytest.raises(ConfigError, match="different search space"):
        _study(store, space=timm_zoo_space(["dpn107"]))
    with pytest.raises(ConfigError, match="cannot resume with"):
        _study(store, objectives=["Error", "Disparity"])
    with pytest.raises(ConfigError, match="maximize"):
        _study(store, objectives=["Error", Objective("Rank Disparity", "maximize")])
    _study(store, "other", space=timm_zoo_space(["dpn107"]))  # another study in the same file is fine
    assert _study(store) == 1  # same space (any seed) and objectives: loads


def test_errors_and_atomicity(tmp_path):
    store = TrialStore(tmp_path / "s.db")
    _study(store)
    store.add_trial(0, CFG, 8.0, 0)
    with pytest.raises(ValueError, match="already has a trial 0"):
        store.add_trial(0, CFG, 8.0, 0)
    with pytest.raises(KeyError, match="no trial 5"):
        store.finish(5, objectives={"Error": 0.1})
    with pytest.raises(ValueError, match="status"):
        store.finish(0, status="crashed")
    with pytest.raises(ValueError, match="unknown status"):
        store.trials("done")
    df = store.trials()
    assert len(df) == 1 and df.loc[0, "status"] == "running" and df.loc[0, "attempts"] == 0


def test_any_sqlalchemy_url():
    store = TrialStore("sqlite://")  # in memory
    _study(store)
    store.add_trial(0, CFG, 8.0, 0)
    store.finish(0, status="diverged", objectives={})
    assert store.trials()["status"].tolist() == ["diverged"]
    assert store.path is None and store.url == "sqlite://"
