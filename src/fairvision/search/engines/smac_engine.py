"""SMAC3 engine: FR-NAS's multi-fidelity, multi-objective BO (``MultiFidelityFacade``).

Settings (FR-NAS): random-forest surrogate, ParEGO scalarisation (ρ = 0.05) when there are several
objectives, Hyperband with η = 2 between ``min_budget`` and ``max_budget`` epochs, 10 random initial
configurations (``n_initial``; not capped by SMAC's ``max_ratio``), ``deterministic=True``, output in
``output_dir/smac/<seed>`` (``overwrite=True``; a temporary folder when no directory is given).
SMAC's ask/tell API is used directly.

Determinism: a given seed reproduces a run within one interpreter and across interpreters with
the same ``PYTHONHASHSEED``; SMAC's local search orders its start points through a ``set`` of
Configurations (hashes of string values), so different hash seeds give different proposals.

Constraints are **not supported**: SMAC has no constraint handling, and penalising infeasible trials
would silently change the objective. ``create_engine("smac", ..., constraints=[...])`` raises
ConfigError; use the ``optuna`` or ``random`` engine.

Statuses: diverged trials are told as SUCCESS with the base class's diverged costs (Error = 1);
crashed trials as ``StatusType.CRASHED`` with cost = :meth:`Engine.crash_costs` (each objective's
worst observed cost, its penalty if worse; Error: 1.0) so that the surrogate sees them as bad, not
as infinitely bad; before any value is observed the crash cost is 1.0 per objective.

SMAC issue #1050 (open upstream; reproduced with smac 2.4.1): with several objectives and
Hyperband, ``AbstractIntensifier.update_incumbents`` asserts that the incumbents share at least one
instance-seed-budget key. With SMAC's default ``incumbent_selection="highest_observed_budget"``
the Pareto incumbents soon have been evaluated at *different* highest budgets, the intersection is
empty and every later ``tell`` raises ``AssertionError`` (in our reproduction: from about the 8th
trial on, ~70 of 80 tells). The assertion fires in the tell-end callback, *after* the result was
stored in the runhistory, so only the incumbent update is lost. Containment, two layers:

1. default ``incumbent_selection="highest_budget"``: incumbents are compared on ``max_budget``
   only, which keeps their key sets equal (the upstream maintainers' suggested work-around); over
   3 × 150 trials it never fired. Hyperband's promotion between rungs is unaffected (it uses its
   own per-rung Pareto selection), so which configs are proposed and at which budget is unchanged.
2. ``tell`` catches an ``AssertionError`` raised from SMAC's ``update_incumbents`` (only there),
   logs it once and counts it in ``contained_errors``; the search goes on.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from fairvision.errors import ConfigError
from fairvision.search.engines.base import Engine, Trial
from fairvision.search.spaces import config_to_dict

__all__ = ["SmacEngine"]

log = logging.getLogger(__name__)

INCUMBENT_SELECTIONS = ("highest_budget", "highest_observed_budget", "any_budget")


def _from_update_incumbents(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "update_incumbents":
            return True
        tb = tb.tb_next
    return False


class SmacEngine(Engine):
    name = "smac"
    supports_constraints = False

    def __init__(self, space, objectives, *, eta: int = 2, rho: float = 0.05, n_initial: int = 10,
                 incumbent_selection: str = "highest_budget", rf_n_jobs: int = 1, **kwargs: Any) -> None:
        super().__init__(space, objectives, **kwargs)
        from smac import MultiFidelityFacade, Scenario
        from smac.model.random_forest import RandomForest
        from smac.multi_objective.parego import ParEGO

        if int(eta) < 2:
            raise ConfigError(f"smac engine: eta must be >= 2, got {eta}")
        if incumbent_selection not in INCUMBENT_SELECTIONS:
            raise ConfigError(f"smac engine: incumbent_selection must be one of {INCUMBENT_SELECTIONS}, "
                              f"got {incumbent_selection!r}")
        self.options = {"eta": int(eta), "rho": float(rho), "n_initial": int(n_initial),
                        "incumbent_selection": incumbent_selection, "rf_n_jobs": int(rf_n_jobs)}
        self._owned_dir = self.output_dir is None  # a temporary folder we create is ours to remove
        if self._owned_dir:
            self.output_dir = Path(tempfile.mkdtemp(prefix="fairvision-smac-"))
        names = [o.name for o in self.objectives]
        self.scenario = Scenario(
            self.space, name="smac", output_directory=self.output_dir, deterministic=True,
            objectives=names if len(names) > 1 else names[0], n_trials=self.n_trials,
            min_budget=self.min_budget, max_budget=self.max_budget, seed=self.seed,
        )
        sc = self.scenario
        mo = ParEGO(sc, rho=float(rho)) if len(names) > 1 else None
        try:
            intensifier = MultiFidelityFacade.get_intensifier(sc, eta=int(eta),
                                                              incumbent_selection=incumbent_selection)
        except (ValueError, AssertionError) as exc:
            raise ConfigError(f"smac engine: {exc}") from None
        design = MultiFidelityFacade.get_initial_design(sc, n_configs=int(n_initial), max_ratio=1.0)
        # the facade's random forest (same settings as MultiFidelityFacade.get_model) but with
        # n_jobs=rf_n_jobs: SMAC's default n_jobs=-1 builds a joblib thread pool on every prediction,
        # which made asks ~5x slower on 2 cores; predictions are identical
        model = RandomForest(sc.configspace, log_y=True, n_trees=10, bootstrapping=True, ratio_features=1.0,
                             min_samples_split=2, min_samples_leaf=1, max_depth=2**20,
                             instance_features=sc.instance_features, seed=sc.seed, n_jobs=int(rf_n_jobs))
        self.smac = MultiFidelityFacade(
            sc, target_function=None, model=model, multi_objective_algorithm=mo, intensifier=intensifier,
            initial_design=design, overwrite=True, logging_level=False,
        )
        self.contained_errors = 0

    # ------------------------------------------------------------------ ask / tell
    def close(self) -> None:
        """Remove SMAC's temporary output folder, if this engine created it."""
        if self._owned_dir and self.output_dir is not None:
            shutil.rmtree(self.output_dir, ignore_errors=True)

    def _ask(self):
        with warnings.catch_warnings():  # SMAC's local search averages an empty timing list
            warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
            warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
            info = self.smac.ask()
        seed = self.seed if info.seed is None else int(info.seed)
        return config_to_dict(info.config), float(info.budget), seed, info

    def _restore(self, config, budget, seed, running):
        from ConfigSpace import Configuration
        from smac.runhistory.dataclasses import TrialInfo

        info = TrialInfo(config=Configuration(self.space, values=config), budget=budget, seed=seed)
        if running:
            self.smac.runhistory.add_running_trial(info)
        return info

    def _tell(self, trial: Trial, costs, status, violations) -> None:
        from smac.runhistory.dataclasses import TrialValue
        from smac.runhistory.enumerations import StatusType

        info = trial.info if trial.info is not None else self._restore(trial.config, trial.budget,
                                                                        trial.seed, False)
        smac_status = StatusType.SUCCESS
        if costs is None:
            costs, smac_status = self.crash_costs(), StatusType.CRASHED
            if costs is None:
                costs = [1.0] * len(self.objectives)
        cost = list(costs) if len(costs) > 1 else costs[0]
        try:
            self.smac.tell(info, TrialValue(cost=cost, status=smac_status))
        except AssertionError as exc:
            if not _from_update_incumbents(exc):
                raise
            self.contained_errors += 1
            if self.contained_errors == 1:
                log.warning("SMAC issue #1050 (incumbent update assertion) contained at trial %d; the "
                            "result is kept, only this incumbent update is skipped", trial.number)

    @property
    def incumbents(self) -> list[dict[str, Any]]:
        """SMAC's current incumbents (Pareto set) as config dicts."""
        return [config_to_dict(c) for c in self.smac.intensifier.get_incumbents()]
