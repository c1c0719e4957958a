"""optuna engine: NSGA-II, TPE or GP sampler, every trial at ``max_budget``.

The ConfigSpace space is translated define-by-run (:func:`suggest_config`): hyperparameters are
visited in ConfigSpace's (topological) order and each is suggested only when its conditions hold
given the values suggested so far, so FR-NAS's ``optimizer`` is asked first and then only the
matching ``lr_adam`` / ``lr_sgd``. Categorical → ``suggest_categorical``, float/int →
``suggest_float``/``suggest_int`` (``log`` kept), ordinal → categorical, constant → fixed value.
A draw that violates a forbidden clause is told as failed and drawn again.

All objectives are minimised inside the study (maximised ones negated). Constraints are passed as
``constraints_func`` (optuna's convention, violation ``<= 0`` feasible) to all three samplers.
``sampler="tpe"`` uses ``multivariate=True, group=True`` (conditional spaces); ``"gp"`` samples the
conditional learning rates independently (GPSampler models the always-active parameters only).
Restored trials are replayed through ``enqueue_trial`` + ``ask`` so sampler bookkeeping (NSGA-II
generations, constraint attributes) is rebuilt exactly as for asked trials.
"""

from __future__ import annotations

import logging
import math
import warnings
from contextlib import contextmanager
from typing import Any

from ConfigSpace import Configuration, ConfigurationSpace
from ConfigSpace.hyperparameters import (
    CategoricalHyperparameter,
    Constant,
    FloatHyperparameter,
    IntegerHyperparameter,
    OrdinalHyperparameter,
)

from fairvision.errors import ConfigError
from fairvision.search.engines.base import Engine, Trial

__all__ = ["OptunaEngine", "suggest_config"]

SAMPLERS = ("nsga2", "tpe", "gp")
_VIOLATIONS = "fairvision:violations"
_BIG = 1e12  # stands in for an infinite violation (optuna sums violations)


def _active(space: ConfigurationSpace, name: str, values: dict[str, Any]) -> bool:
    for cond in space.parent_conditions_of.get(name, []):
        try:
            if not cond.satisfied_by_value(values):
                return False
        except KeyError:  # a parent is itself inactive
            return False
    return True


def suggest_config(trial: Any, space: ConfigurationSpace) -> dict[str, Any]:
    """Suggest the active hyperparameters of ``space`` on an optuna trial (define-by-run)."""
    values: dict[str, Any] = {}
    for name, hp in space.items():
        if not _active(space, name, values):
            continue
        if isinstance(hp, Constant):
            values[name] = hp.value
        elif isinstance(hp, CategoricalHyperparameter):
            values[name] = trial.suggest_categorical(name, list(hp.choices))
        elif isinstance(hp, OrdinalHyperparameter):
            values[name] = trial.suggest_categorical(name, list(hp.sequence))
        elif isinstance(hp, IntegerHyperparameter):
            values[name] = trial.suggest_int(name, int(hp.lower), int(hp.upper), log=bool(hp.log))
        elif isinstance(hp, FloatHyperparameter):
            values[name] = trial.suggest_float(name, float(hp.lower), float(hp.upper), log=bool(hp.log))
        else:
            raise ConfigError(f"optuna engine: unsupported hyperparameter type {type(hp).__name__} ({name})")
    return values


@contextmanager
def _quiet():
    """Silence optuna's per-trial INFO log lines and experimental-feature warnings, then restore."""
    import optuna

    logger = logging.getLogger("optuna")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        logger.setLevel(level)


class OptunaEngine(Engine):
    name = "optuna"

    def __init__(self, space, objectives, *, sampler: str = "nsga2", **kwargs: Any) -> None:
        sampler_options = {k: kwargs.pop(k) for k in list(kwargs)
                           if k not in ("seed", "min_budget", "max_budget", "n_trials", "output_dir",
                                        "constraints")}
        super().__init__(space, objectives, **kwargs)
        if sampler not in SAMPLERS:
            raise ConfigError(f"optuna engine: sampler must be one of {SAMPLERS}, got {sampler!r}")
        import optuna

        self.options = {"sampler": sampler, **sampler_options}
        constraints_func = self._constraints_func if self.constraints else None
        with _quiet():
            try:
                if sampler == "nsga2":
                    s = optuna.samplers.NSGAIISampler(seed=self.seed, constraints_func=constraints_func,
                                                      **sampler_options)
                elif sampler == "tpe":
                    opts = {"multivariate": True, "group": True, "n_startup_trials": 10, **sampler_options}
                    s = optuna.samplers.TPESampler(seed=self.seed, constraints_func=constraints_func, **opts)
                else:
                    opts = {"n_startup_trials": 10, "warn_independent_sampling": False, **sampler_options}
                    s = optuna.samplers.GPSampler(seed=self.seed, constraints_func=constraints_func, **opts)
            except TypeError as exc:
                raise ConfigError(f"optuna engine ({sampler}): bad sampler option ({exc})") from None
            self.study = optuna.create_study(directions=["minimize"] * len(self.objectives), sampler=s)

    def _constraints_func(self, frozen) -> list[float]:
        return frozen.user_attrs.get(_VIOLATIONS, [_BIG] * len(self.constraints))

    def _valid(self, values: dict[str, Any]) -> bool:
        if not self.space.forbidden_clauses:
            return True
        try:
            Configuration(self.space, values=values).check_valid_configuration()
        except Exception:
            return False
        return True

    def _ask(self):
        import optuna

        with _quiet():
            for _ in range(1000):
                ot = self.study.ask()
                values = suggest_config(ot, self.space)
                if self._valid(values):
                    return values, self.max_budget, self.seed, ot
                self.study.tell(ot, state=optuna.trial.TrialState.FAIL)
        raise ConfigError("optuna engine: 1000 draws in a row violated the space's forbidden clauses")

    def _restore(self, config, budget, seed, running):
        with _quiet():
            self.study.enqueue_trial(config)
            ot = self.study.ask()
            suggest_config(ot, self.space)
        return ot

    def _tell(self, trial: Trial, costs, status, violations) -> None:
        import optuna

        ot = trial.info
        if ot is None:  # a Trial built by hand: replay it
            ot = self._restore(trial.config, trial.budget, trial.seed, True)
        with _quiet():
            if costs is None:
                self.study.tell(ot, state=optuna.trial.TrialState.FAIL)
                return
            if self.constraints:
                ot.set_user_attr(_VIOLATIONS, [min(v, _BIG) if not math.isnan(v) else _BIG for v in violations])
            self.study.tell(ot, list(costs))
