"""Contract tests run on EVERY engine (like optuna's sampler tests), plus engine-specific checks.

Each engine runs a short search on the cheap analytic FR-NAS objective (fairvision.search.toy):
same interface, budgets in [min, max], valid configs (conditional lr respected), deterministic for a
seed, diverged / crashed tells do not break it.
"""

from __future__ import annotations

import math

import pytest
from ConfigSpace import Configuration

from fairvision.errors import ConfigError
from fairvision.search import Constraint, Objective, Trial, create_engine, frnas_space, frnas_toy
from fairvision.search.engines import ENGINES

OBJECTIVES = ["Error", "Rank Disparity"]
MIN_B, MAX_B = 2.0, 8.0
ENGINE_CASES = {
    "random": {},
    "optuna-nsga2": {"population_size": 6},
    "optuna-tpe": {"n_startup_trials": 5},
    "optuna-gp": {"n_startup_trials": 3},
    "smac": {},
}
N_TRIALS = {"optuna-gp": 6, "smac": 20}


def _status(i: int) -> str:
    return "crashed" if i % 7 == 4 else "diverged" if i % 6 == 5 else "complete"


def _run(name: str, out, seed: int = 3) -> tuple[object, list[Trial]]:
    n = N_TRIALS.get(name, 16)
    eng = create_engine(name, frnas_space(), OBJECTIVES, seed=seed, min_budget=MIN_B, max_budget=MAX_B,
                        n_trials=n, output_dir=out, **ENGINE_CASES[name])
    trials = []
    for i in range(n):
        t = eng.ask()
        trials.append(t)
        st = _status(i)
        eng.tell(t, frnas_toy(t.config, t.budget) if st != "crashed" else None, status=st)
    return eng, trials


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            out = tmp_path_factory.mktemp(name)
            cache[name] = (_run(name, out / "a"), _run(name, out / "b"))
        return cache[name]

    return get


@pytest.mark.parametrize("name", list(ENGINE_CASES))
def test_contract_interface_budgets_and_valid_configs(runs, name):
    (eng, trials), _ = runs(name)
    space = frnas_space()
    assert [t.number for t in trials] == list(range(len(trials)))
    for t in trials:
        assert isinstance(t, Trial) and isinstance(t.seed, int) and isinstance(t.config, dict)
        assert MIN_B <= t.budget <= MAX_B
        Configuration(space, values=t.config)  # raises if invalid, incl. an inactive lr that is set
        assert ("lr_sgd" in t.config) == (t.config["optimizer"] == "SGD")
        assert ("lr_adam" in t.config) == (t.config["optimizer"] in ("Adam", "AdamW"))
        assert all(type(v) in (str, float, int) for v in t.config.values())
    assert [h["status"] for h in eng.history] == [_status(i) for i in range(len(trials))]
    if name != "smac":
        assert {t.budget for t in trials} == {MAX_B}


@pytest.mark.parametrize("name", list(ENGINE_CASES))
def test_contract_deterministic_for_a_seed(runs, name):
    (_, a), (_, b) = runs(name)
    assert [(t.config, t.budget, t.seed) for t in a] == [(t.config, t.budget, t.seed) for t in b]


@pytest.mark.parametrize("name", list(ENGINE_CASES))
def test_contract_diverged_and_crashed_tells(runs, name):
    (eng, trials), _ = runs(name)
    seen = []
    for h, t in zip(eng.history, trials):
        if h["status"] == "crashed":
            assert h["costs"] is None
        elif h["status"] == "diverged":
            # FR-NAS convention: Error = 1, other objectives at their worst observed value
            assert h["costs"][0] == 1.0
            assert h["costs"][1] == max(c[1] for c in seen)
        else:
            assert h["costs"] == [frnas_toy(t.config, t.budget)[o] for o in OBJECTIVES]
            seen.append(h["costs"])
    front = eng.front()
    assert front and all(r["status"] == "complete" and r["budget"] == MAX_B for r in front)
    if name.startswith("optuna"):  # crashed: told as complete with the crash costs, so it is avoided
        crashed = [t for t in eng.study.trials if t.user_attrs.get("fairvision:status") == "crashed"]
        assert crashed and all(t.values[0] == 1.0 and t.state.name == "COMPLETE" for t in crashed)
    t = eng.ask()  # still usable after all of that
    eng.tell(t, frnas_toy(t.config, t.budget))


def test_smac_hyperband_produces_several_budgets(runs):
    (eng, trials), _ = runs("smac")
    budgets = [t.budget for t in trials]
    assert set(budgets) == {2.0, 4.0, 8.0}
    assert budgets[0] == MIN_B
    assert eng.settings["eta"] == 2 and eng.settings["rho"] == 0.05
    assert eng.incumbents  # incumbent tracking works (evaluated at max budget)


def test_diverged_before_any_observation_uses_penalty_or_reported_value():
    eng = create_engine("random", frnas_space(), [Objective("Error"), Objective("Rank Disparity", penalty=5.0)])
    eng.tell(eng.ask(), {"Rank Disparity": 0.0}, status="diverged")
    assert eng.history[-1]["costs"] == [1.0, 5.0]
    eng = create_engine("random", frnas_space(), OBJECTIVES)
    eng.tell(eng.ask(), {"Rank Disparity": 0.7}, status="diverged")
    assert eng.history[-1]["costs"] == [1.0, 0.7]
    eng.tell(eng.ask(), {}, status="diverged")  # nothing to go on: told as crashed
    assert eng.history[-1]["status"] == "crashed"


def test_maximize_objective_is_negated():
    eng = create_engine("random", frnas_space(), [Objective("Accuracy", "maximize"), "Rank Disparity"])
    eng.tell(eng.ask(), {"Accuracy": 0.9, "Rank Disparity": 0.2})
    assert eng.history[-1]["costs"] == [-0.9, 0.2]


def test_complete_tell_needs_every_objective():
    eng = create_engine("random", frnas_space(), OBJECTIVES)
    with pytest.raises(ValueError, match="Rank Disparity"):
        eng.tell(eng.ask(), {"Error": 0.1})
    with pytest.raises(ValueError, match="Error"):
        eng.tell(eng.ask(), {"Error": math.nan, "Rank Disparity": 0.1})
    with pytest.raises(ConfigError, match="status"):
        eng.tell(eng.ask(), {"Error": 0.1, "Rank Disparity": 0.1}, status="pruned")


@pytest.mark.parametrize("name", ["optuna-nsga2", "optuna-tpe", "random"])
def test_constraints_mark_infeasible_and_front_is_feasible(name):
    cons = [Constraint("params", upper=5.0)]
    eng = create_engine(name, frnas_space(), OBJECTIVES, seed=1, constraints=cons, n_trials=14,
                        **({"population_size": 6} if name == "optuna-nsga2" else {}))
    for _ in range(14):
        t = eng.ask()
        params = 1.0 + 2.0 * int(t.config["edge1"])  # feasible iff edge1 <= 2
        eng.tell(t, frnas_toy(t.config, t.budget), metrics={"params": params})
    feas = [h["feasible"] for h in eng.history]
    assert feas == [int(h["config"]["edge1"]) <= 2 for h in eng.history]
    assert all(r["feasible"] for r in eng.front())
    if name.startswith("optuna"):
        done = [t for t in eng.study.trials if t.state.name == "COMPLETE"]
        assert all(set(t.constraints) == {"params"} for t in done)


def test_smac_refuses_constraints():
    with pytest.raises(ConfigError, match="engine smac does not support constraints"):
        create_engine("smac", frnas_space(), OBJECTIVES, constraints=[Constraint("params", upper=1)])


def test_create_engine_errors():
    with pytest.raises(ConfigError, match="unknown search engine"):
        create_engine("hyperopt", frnas_space(), OBJECTIVES)
    with pytest.raises(ConfigError, match="sampler"):
        create_engine("optuna", frnas_space(), OBJECTIVES, sampler="cmaes")
    with pytest.raises(ConfigError, match="min_budget"):
        create_engine("random", frnas_space(), OBJECTIVES, min_budget=5, max_budget=1)
    with pytest.raises(ConfigError, match="duplicate"):
        create_engine("random", frnas_space(), ["Error", "Error"])
    with pytest.raises(ConfigError, match="direction"):
        Objective("Error", "down")
    assert set(ENGINE_CASES) <= set(ENGINES.names())


@pytest.mark.parametrize("name", ["random", "optuna-tpe", "smac"])
def test_restore_then_continue(name, tmp_path):
    """A fresh engine re-told the first trials of a run continues without proposing pending ones."""
    eng = create_engine(name, frnas_space(), OBJECTIVES, seed=5, min_budget=MIN_B, max_budget=MAX_B,
                        n_trials=12, output_dir=tmp_path / "a")
    first = [eng.ask() for _ in range(6)]
    fresh = create_engine(name, frnas_space(), OBJECTIVES, seed=5, min_budget=MIN_B, max_budget=MAX_B,
                          n_trials=12, output_dir=tmp_path / "b")
    for t in first[:4]:
        r = fresh.restore(t.number, t.config, t.budget, t.seed)
        fresh.tell(r, frnas_toy(r.config, r.budget))
    pending = [fresh.restore(t.number, t.config, t.budget, t.seed, running=True) for t in first[4:]]
    nxt = fresh.ask()
    assert nxt.number == 6
    if name == "random":  # random stream realigned: same as the uninterrupted engine
        assert nxt.config == eng.ask().config
    if name == "smac":  # pending trials are not proposed again
        assert (nxt.config, nxt.budget) not in [(p.config, p.budget) for p in pending]
    for p in pending:
        fresh.tell(p, frnas_toy(p.config, p.budget))
    with pytest.raises(ConfigError, match="not valid"):
        fresh.restore(99, {"edge1": "0"}, 8.0, 0)


@pytest.mark.parametrize("name", ["random", "optuna-tpe", "optuna-nsga2"])
def test_dedupe_never_proposes_a_duplicate_until_exhausted(name):
    from fairvision.search import space_from_dict

    tiny = space_from_dict({"a": {"type": "categorical", "choices": ["x", "y"]},
                            "b": {"type": "categorical", "choices": [1, 2, 3]}})
    eng = create_engine(name, tiny, ["Error"], seed=0, n_trials=8,
                        **({"population_size": 4} if name == "optuna-nsga2" else {}))
    configs = []
    for i in range(7):
        t = eng.ask()
        configs.append(tuple(sorted(t.config.items())))
        if i != 2:  # one stays pending: it must not be proposed again either
            eng.tell(t, {"Error": 0.1 * t.config["b"] + (t.config["a"] == "x")})
    assert len(set(configs[:6])) == 6  # all 6 combinations, no repeat
    assert configs[6] in configs[:6]  # exhausted: a duplicate is run rather than failing
    off = create_engine(name, tiny, ["Error"], seed=0, dedupe=False,
                        **({"population_size": 4} if name == "optuna-nsga2" else {}))
    assert off.settings["dedupe"] is False
