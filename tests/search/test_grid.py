"""The grid engine: a fixed list of (config, seed) points, run by the driver, resumable and extendable."""

from __future__ import annotations

import pytest
from ConfigSpace import ConfigurationSpace, Float

from fairvision.errors import ConfigError
from fairvision.search import TrialStore, create_engine, run_search

SPACE = ConfigurationSpace({"sparsity": Float("sparsity", (0.0, 1.0))})


def _points(levels, seeds):
    return [{"config": {"sparsity": s}, "seed": seed} for s in levels for seed in seeds]


class Recorder:
    """Picklable objective: Error = sparsity + seed / 100."""

    def __call__(self, config, budget, seed, run_dir):
        return {"objectives": {"Error": config["sparsity"] + seed / 100}}


def _run(store, points, n=None):
    engine = create_engine("grid", SPACE, ["Error"], n_trials=len(points), points=points)
    return run_search(Recorder(), engine=engine, store=store, n_trials=n or len(points), progress=False)


def test_grid_runs_every_point_in_order_with_its_seed(tmp_path):
    points = _points([0.0, 0.5, 0.9], [0, 1])
    df = _run(TrialStore(tmp_path / "g.db"), points)
    assert [(c["sparsity"], s) for c, s in zip(df["config"], df["seed"])] == [
        (p["config"]["sparsity"], p["seed"]) for p in points]
    assert [o["Error"] for o in df["objectives"]] == [p["config"]["sparsity"] + p["seed"] / 100 for p in points]


def test_grid_resumes_and_extends_without_rerunning(tmp_path):
    store = TrialStore(tmp_path / "g.db")
    first = _run(store, _points([0.0, 0.5], [0, 1]), n=2)  # stopped after 2 of 4
    assert len(first) == 2
    extended = _points([0.0, 0.5], [0, 1, 2])  # one more seed
    df = _run(store, extended)
    got = [(c["sparsity"], s) for c, s in zip(df["config"], df["seed"])]
    assert sorted(got) == sorted((p["config"]["sparsity"], p["seed"]) for p in extended)
    assert len(set(got)) == len(got) == 6
    assert df["attempts"].tolist() == [1] * 6  # nothing ran twice


@pytest.mark.parametrize("points, match", [
    ([], "at least one point"),
    ([{"config": {"sparsity": 0.5}}], "must be"),
    ([{"config": {"sparsity": 2.0}, "seed": 0}], "not in the space"),
])
def test_grid_rejects_bad_points(points, match):
    with pytest.raises(ConfigError, match=match):
        create_engine("grid", SPACE, ["Error"], points=points)


def test_grid_exhausted_is_an_error():
    engine = create_engine("grid", SPACE, ["Error"], points=_points([0.1], [0]))
    engine.ask()
    with pytest.raises(ConfigError, match="all 1 points"):
        engine.ask()
