"""optuna engine: NSGA-II, TPE or GP sampler, every trial at ``max_budget``.

The ConfigSpace space is translated define-by-run (:func:`suggest_config`): hyperparameters are
visited in ConfigSpace's (topological) order and each is suggested only when its conditions hold
given the values suggested so far, so FR-NAS's ``optimizer`` is asked first and then only the
matching ``lr_adam`` / ``lr_sgd``. Categorical → ``suggest_categorical``, float/int →
``suggest_float``/``suggest_int`` (``log`` kept), ordinal → categorical, constant → fixed value.
A draw that violates a forbidden clause is told as failed and drawn again; a duplicate of an
earlier trial is told that trial's result (FAIL while it is pending) and drawn again (``dedupe``);
after 100 duplicate draws in a row the space is taken as exhausted and the duplicate is run.

Crashed trials are told as complete with :meth:`Engine.crash_costs` (user attribute
``fairvision:status = "crashed"``; all constraints violated) so samplers avoid them — optuna would
otherwise ignore FAIL trials and keep proposing the same broken configurations; while nothing has
been observed yet they are told as FAIL.

All objectives are minimised inside the study (maximised ones negated). Constraint violations are
set on each trial with ``Trial.set_constraint`` (optuna >= 5; violation ``<= 0`` feasible), which
NSGA-II, TPE and GP all use for constrained optimisation. ``sampler="tpe"`` uses
``multivariate=True, group=True, n_startup_trials=10`` (conditional spaces); ``"gp"`` samples the
conditional learning rates independently (GPSampler models the always-active parameters only);
``"nsga2"`` uses optuna's defaults (population 50). Extra options go to the sampler.
``torch_threads`` (gp only, default 1; None leaves torch alone) bounds torch's threads during asks.
Restored trials are replayed through ``enqueue_trial`` + ``ask`` so sampler bookkeeping (NSGA-II
generations, constraint values) is rebuilt exactly as for asked trials.
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
_BIG = 1e12
MAX_REDRAWS = 100  # stands in for an infinite violation (optuna sums violations)


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


@contextmanager
def _torch_threads(n: int | None):
    """GPSampler's tensors are tiny: one torch thread is ~5x faster than two on a busy 2-core machine.
    The previous setting is restored after the ask."""
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class OptunaEngine(Engine):
    name = "optuna"
    accepts_any_option = True

    def __init__(self, space, objectives, *, sampler: str = "nsga2", torch_threads: int | None = 1,
                 **kwargs: Any) -> None:
        sampler_options = {k: kwargs.pop(k) for k in list(kwargs)
                           if k not in ("seed", "min_budget", "max_budget", "n_trials", "output_dir",
                                        "constraints", "dedupe")}
        super().__init__(space, objectives, **kwargs)
        if sampler not in SAMPLERS:
            raise ConfigError(f"optuna engine: sampler must be one of {SAMPLERS}, got {sampler!r}")
        import optuna

        self.options = {"sampler": sampler, **sampler_options}
        self._torch_threads = torch_threads if sampler == "gp" else None
        if self._torch_threads is not None:
            self.options["torch_threads"] = int(torch_threads)
        with _quiet():
            try:
                if sampler == "nsga2":
                    s = optuna.samplers.NSGAIISampler(seed=self.seed, **sampler_options)
                elif sampler == "tpe":
                    opts = {"multivariate": True, "group": True, "n_startup_trials": 10, **sampler_options}
                    s = optuna.samplers.TPESampler(seed=self.seed, **opts)
                else:
                    opts = {"n_startup_trials": 10, "warn_independent_sampling": False, **sampler_options}
                    s = optuna.samplers.GPSampler(seed=self.seed, **opts)
            except TypeError as exc:
                raise ConfigError(f"optuna engine ({sampler}): bad sampler option ({exc})") from None
            self.study = optuna.create_study(directions=["minimize"] * len(self.objectives), sampler=s)

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

        duplicate = None
        with _quiet(), _torch_threads(self._torch_threads):
            for _ in range(MAX_REDRAWS):
                ot = self.study.ask()
                values = suggest_config(ot, self.space)
                if not self._valid(values):
                    self.study.tell(ot, state=optuna.trial.TrialState.FAIL)
                    continue
                if not self.is_duplicate(values, self.max_budget):
                    return values, self.max_budget, self.seed, ot
                # a duplicate: tell the sampler what is known about it and draw again
                known = self._seen[self.key(values, self.max_budget)]
                if known is None:  # pending
                    self._tell_study(ot, None, None)
                elif known["status"] == "crashed":
                    self._tell_study(ot, self.crash_costs(), None)
                else:
                    self._tell_study(ot, known["costs"], known["violations"])
                duplicate = values
            if duplicate is None:
                raise ConfigError(f"optuna engine: {MAX_REDRAWS} draws in a row violated the space's "
                                  f"forbidden clauses")
            self.study.enqueue_trial(duplicate)  # the space looks exhausted: run a duplicate
            ot = self.study.ask()
            suggest_config(ot, self.space)
            return duplicate, self.max_budget, self.seed, ot

    def _restore(self, config, budget, seed, running):
        with _quiet(), _torch_threads(self._torch_threads):
            self.study.enqueue_trial(config)
            ot = self.study.ask()
            suggest_config(ot, self.space)
        return ot

    def _tell(self, trial: Trial, costs, status, violations) -> None:
        ot = trial.info
        if ot is None:  # a Trial built by hand: replay it
            ot = self._restore(trial.config, trial.budget, trial.seed, True)
        if costs is None:  # crashed: penalised like smac does, FAIL while nothing is observed
            costs = self.crash_costs()
            violations = [math.inf] * len(self.constraints)
            if costs is not None:
                ot.set_user_attr("fairvision:status", "crashed")
        self._tell_study(ot, costs, violations)

    def _tell_study(self, ot, costs, violations) -> None:
        import optuna

        with _quiet():
            if costs is None:
                self.study.tell(ot, state=optuna.trial.TrialState.FAIL)
                return
            for c, v in zip(self.constraints, violations or [math.inf] * len(self.constraints)):
                ot.set_constraint(c.name, _BIG if math.isnan(v) else min(v, _BIG))
            self.study.tell(ot, list(costs))
