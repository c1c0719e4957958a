"""The ask/tell interface every search engine implements.

``engine.ask() -> Trial`` proposes a configuration and a budget (epochs); the caller evaluates it and
``engine.tell(trial, objectives, status=...)`` reports back. Statuses:

* ``"complete"``: ``objectives`` holds a finite value for every objective.
* ``"diverged"``: training diverged (FR-NAS: NaN loss). Told to the engine as a *result*, FR-NAS's
  convention: an ``Error`` objective gets 1.0; every other objective gets its worst value observed
  so far over complete trials, or the objective's ``penalty`` if that is worse (or if nothing was
  observed yet); failing both, the value the trial reported. If none of these exists for some
  objective the trial is told as crashed instead.
* ``"crashed"``: no result. Model-based engines are told the configuration is bad: its costs are
  :meth:`Engine.crash_costs` (each objective's worst observed cost, or its penalty if worse; Error:
  at least 1.0), so they do not propose it or its neighbours again (smac: ``StatusType.CRASHED``
  with those costs; optuna: a complete trial with those costs, or FAIL while nothing is observed).

Duplicates (``dedupe=True``, default): training is deterministic for a config, budget and seed, so
re-running an exact duplicate wastes a run. Random and optuna engines never propose a (config,
budget) already asked, restored or pending; optuna's sampler is told the known result of the
duplicate it drew (or FAIL while pending) and asked again. SMAC never proposes duplicates itself.
When a long run of draws yields only duplicates (random: 1,000, optuna: 100) the space is taken
as exhausted and a duplicate is returned.

Engines number trials 0, 1, 2, ...; :meth:`Engine.restore` rebuilds a trial recorded earlier (from a
:class:`~fairvision.search.store.TrialStore`) so that a fresh engine can be re-told finished trials
and re-run unfinished ones after a restart.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
from ConfigSpace import Configuration, ConfigurationSpace

from fairvision.errors import ConfigError
from fairvision.search.objectives import Constraint, Objective, parse_constraints, parse_objectives

__all__ = ["STATUSES", "Engine", "Trial"]

STATUSES = ("complete", "diverged", "crashed")


@dataclass
class Trial:
    """One evaluation request: ``config`` (active hyperparameters), ``budget`` (epochs), ``seed``.
    ``info`` is engine-private (SMAC's TrialInfo, optuna's trial) and needed by ``tell``."""

    number: int
    config: dict[str, Any]
    budget: float
    seed: int
    info: Any = field(default=None, repr=False, compare=False)


class Engine(ABC):
    """Base class: budgets, objectives, constraints, numbering, diverged handling, history."""

    name: ClassVar[str] = "engine"
    supports_constraints: ClassVar[bool] = True
    accepts_any_option: ClassVar[bool] = False  # True: extra options go on to a library (optuna's sampler)

    def __new__(cls, *args: Any, **kwargs: Any) -> "Engine":
        obj = super().__new__(cls)
        obj._init_args = (args, dict(kwargs))  # for respawn()
        return obj

    def respawn(self) -> "Engine":
        """Close this engine and return a fresh one built with the same arguments (same seed)."""
        self.close()
        args, kwargs = self._init_args
        return type(self)(*args, **kwargs)

    def __init__(
        self,
        space: ConfigurationSpace,
        objectives: Sequence[Any],
        *,
        seed: int = 0,
        min_budget: float = 1.0,
        max_budget: float = 1.0,
        n_trials: int = 100,
        output_dir: str | Path | None = None,
        constraints: Sequence[Any] | None = None,
        dedupe: bool = True,
    ) -> None:
        if not isinstance(space, ConfigurationSpace):
            raise ConfigError(f"engine {self.name}: space must be a ConfigurationSpace")
        if not 0 < float(min_budget) <= float(max_budget):
            raise ConfigError(f"engine {self.name}: need 0 < min_budget <= max_budget, "
                              f"got {min_budget}, {max_budget}")
        if int(n_trials) < 1:
            raise ConfigError(f"engine {self.name}: n_trials must be >= 1, got {n_trials}")
        self.space = space
        self.objectives: list[Objective] = parse_objectives(objectives)
        self.constraints: list[Constraint] = parse_constraints(constraints)
        if self.constraints and not self.supports_constraints:
            raise ConfigError(f"engine {self.name} does not support constraints; use 'optuna' or 'random'")
        self.seed = int(seed)
        self.min_budget, self.max_budget = float(min_budget), float(max_budget)
        self.n_trials = int(n_trials)
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.dedupe = bool(dedupe)
        self.options: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self._seen: dict[str, dict[str, Any] | None] = {}  # (config, budget) key -> told result, None pending
        self._next_number = 0
        self._worst = [-math.inf] * len(self.objectives)  # worst (largest) cost seen on complete trials

    # ------------------------------------------------------------------ public API
    @property
    def settings(self) -> dict[str, Any]:
        """JSON-able description (stored with a study)."""
        return {
            "engine": self.name,
            "seed": self.seed,
            "min_budget": self.min_budget,
            "max_budget": self.max_budget,
            "n_trials": self.n_trials,
            "constraints": [c.to_dict() for c in self.constraints],
            "dedupe": self.dedupe,
            **self.options,
        }

    def ask(self) -> Trial:
        config, budget, seed, info = self._ask()
        trial = Trial(self._next_number, config, float(budget), int(seed), info)
        self._next_number += 1
        self._seen.setdefault(self.key(config, budget), None)
        return trial

    def restore(self, number: int, config: Mapping[str, Any], budget: float, seed: int, *,
                running: bool = False) -> Trial:
        """Rebuild trial ``number`` recorded earlier. Tell it right away (finished trials), or run it
        again and tell later (``running=True``: the engine treats it as pending, not to be proposed)."""
        try:
            Configuration(self.space, values=dict(config))
        except Exception as exc:  # ConfigSpace raises several types
            raise ConfigError(f"trial {number}: configuration {dict(config)} is not valid for the space "
                              f"({exc})") from None
        info = self._restore(dict(config), float(budget), int(seed), running)
        self._next_number = max(self._next_number, int(number) + 1)
        self._seen.setdefault(self.key(config, budget), None)
        return Trial(int(number), dict(config), float(budget), int(seed), info)

    def tell(self, trial: Trial, objectives: Mapping[str, float] | None = None, *,
             status: str = "complete", metrics: Mapping[str, Any] | None = None) -> None:
        """Report a trial's result (see the module docstring for the statuses)."""
        if status not in STATUSES:
            raise ConfigError(f"trial {trial.number}: status must be one of {STATUSES}, got {status!r}")
        objectives = dict(objectives or {})
        costs: list[float] | None = None
        if status == "complete":
            costs = self.costs(objectives, trial.number)
        elif status == "diverged":
            costs = self._diverged_costs(objectives)
            if costs is None:
                status = "crashed"
        violations: list[float] = []
        if self.constraints and costs is not None:
            violations = self.violations(objectives, metrics)
        self._tell(trial, costs, status, violations)
        if status == "complete":
            self._worst = [max(w, c) for w, c in zip(self._worst, costs)]
        record = {
            "number": trial.number, "config": trial.config, "budget": trial.budget, "status": status,
            "costs": costs, "feasible": all(v <= 0 for v in violations), "violations": violations,
        }
        self.history.append(record)
        self._seen[self.key(trial.config, trial.budget)] = record

    @staticmethod
    def key(config: Mapping[str, Any], budget: float) -> str:
        """Identity of a (config, budget) pair, for duplicate detection."""
        return json.dumps([dict(config), float(budget)], sort_keys=True, default=str)

    def is_duplicate(self, config: Mapping[str, Any], budget: float) -> bool:
        return self.dedupe and self.key(config, budget) in self._seen

    def crash_costs(self) -> list[float] | None:
        """Costs told for a crashed trial (see the module docstring); None if some objective has
        neither an observed value nor a penalty."""
        out = []
        for o, worst in zip(self.objectives, self._worst):
            c = [worst] if math.isfinite(worst) else []
            if o.penalty is not None:
                c.append(o.cost(o.penalty))
            if o.is_error:
                c.append(o.cost(1.0))
            if not c:
                return None
            out.append(max(c))
        return out

    def costs(self, objectives: Mapping[str, float], number: int | str = "?") -> list[float]:
        """Finite cost vector (minimisation) of a complete trial; ValueError names what is wrong."""
        out = []
        for o in self.objectives:
            v = objectives.get(o.name)
            if v is None or not isinstance(v, (int, float, np.number)) or not math.isfinite(float(v)):
                raise ValueError(f"trial {number}: objective {o.name!r} must be a finite number, got {v!r}")
            out.append(o.cost(v))
        return out

    def violations(self, objectives: Mapping[str, Any], metrics: Mapping[str, Any] | None) -> list[float]:
        metrics = metrics or {}
        return [c.violation(objectives.get(c.name, metrics.get(c.name))) for c in self.constraints]

    def front(self, *, max_budget_only: bool = True) -> list[dict[str, Any]]:
        """History records on the Pareto front of complete, feasible trials (at ``max_budget``)."""
        from fairvision.search.pareto import pareto_front

        recs = [r for r in self.history if r["status"] == "complete" and r["feasible"]
                and (not max_budget_only or r["budget"] >= self.max_budget)]
        if not recs:
            return []
        mask = pareto_front(np.array([r["costs"] for r in recs]), ["minimize"] * len(self.objectives))
        return [r for r, keep in zip(recs, mask) if keep]

    def close(self) -> None:
        """Release resources (nothing by default)."""

    # ------------------------------------------------------------------ for subclasses
    @abstractmethod
    def _ask(self) -> tuple[dict[str, Any], float, int, Any]:
        """Return (config dict, budget, seed, engine-private info)."""

    @abstractmethod
    def _restore(self, config: dict[str, Any], budget: float, seed: int, running: bool) -> Any:
        """Engine-private info for a restored trial."""

    @abstractmethod
    def _tell(self, trial: Trial, costs: list[float] | None, status: str, violations: list[float]) -> None:
        """Costs are None exactly when status == 'crashed'."""

    # ------------------------------------------------------------------ helpers
    def _diverged_costs(self, objectives: Mapping[str, Any]) -> list[float] | None:
        out = []
        for i, o in enumerate(self.objectives):
            if o.is_error:
                out.append(o.cost(1.0))
                continue
            candidates = [self._worst[i]] if math.isfinite(self._worst[i]) else []
            if o.penalty is not None:
                candidates.append(o.cost(o.penalty))
            if not candidates:
                v = objectives.get(o.name)
                if v is None or not math.isfinite(float(v)):
                    return None
                candidates.append(o.cost(v))
            out.append(max(candidates))
        return out
