"""SMAC3 issue #1050: multi-objective + Hyperband incumbent update raises AssertionError.

Reproduced with smac 2.4.1: with SMAC's default ``incumbent_selection="highest_observed_budget"`` the
Pareto incumbents end up evaluated at different highest budgets, the intersection of their
instance-seed-budget keys is empty and ``AbstractIntensifier.update_incumbents`` asserts on every
later tell. The engine (a) defaults to ``incumbent_selection="highest_budget"`` which avoids it and
(b) contains the assertion if it fires anyway. Both are tested over several Hyperband brackets.
"""

from __future__ import annotations

import logging

import pytest

from fairvision.errors import ConfigError

from fairvision.search import create_engine, frnas_space, frnas_toy

OBJ = ["Error", "Rank Disparity"]


def _search(tmp_path, n: int, **options):
    eng = create_engine("smac", frnas_space(), OBJ, seed=0, min_budget=1, max_budget=8, n_trials=n,
                        output_dir=tmp_path, **options)
    trials = []
    for i in range(n):
        t = eng.ask()
        trials.append(t)
        eng.tell(t, frnas_toy(t.config, t.budget), status="diverged" if i == 17 else "complete")
    return eng, trials


def _first_budgets(trials) -> set[float]:
    first: dict[str, float] = {}
    for t in trials:
        first.setdefault(repr(sorted(t.config.items())), t.budget)
    return set(first.values())


def test_raw_smac_assertion_is_contained(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="fairvision.search.engines.smac_engine"):
        eng, trials = _search(tmp_path, 30, incumbent_selection="highest_observed_budget")
    assert len(trials) == 30 and len(eng.history) == 30  # the search never crashed
    assert eng.contained_errors > 0, "SMAC issue #1050 no longer reproduces: the containment can go"
    assert "SMAC issue #1050" in caplog.text
    # every result still reached SMAC's runhistory (the assertion fires after it is stored)
    assert len(eng.smac.runhistory) == 30


def test_default_setting_avoids_the_assertion_over_several_brackets(tmp_path):
    eng, trials = _search(tmp_path, 40)
    assert eng.contained_errors == 0
    assert {t.budget for t in trials} == {1.0, 2.0, 4.0, 8.0}
    # new configurations entered at budgets 1, 2, 4 and 8: Hyperband brackets 0..3 were all visited
    assert _first_budgets(trials) == {1.0, 2.0, 4.0, 8.0}
    incumbents = eng.incumbents
    assert len(incumbents) >= 1  # a Pareto set (a single config when it dominates; depends on PYTHONHASHSEED)
    full = {repr(sorted(t.config.items())) for t in trials if t.budget == 8.0}
    assert all(repr(sorted(c.items())) in full for c in incumbents)


def test_bad_incumbent_selection_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="incumbent_selection"):
        _search(tmp_path, 1, incumbent_selection="not_a_mode")
