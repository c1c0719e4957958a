"""Search engines behind one ask/tell interface (:class:`Engine`, :class:`Trial`).

``create_engine(name, ...)`` with ``name`` one of ``"smac"`` (default of FR-NAS: multi-fidelity BO),
``"optuna"`` (``sampler="nsga2" | "tpe" | "gp"``; also spelt ``"optuna-nsga2"`` etc.) or ``"random"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ConfigSpace import ConfigurationSpace

from fairvision.errors import ConfigError
from fairvision.search.engines.base import STATUSES, Engine, Trial
from fairvision.search.engines.optuna_engine import OptunaEngine, suggest_config
from fairvision.search.engines.random_engine import RandomEngine

__all__ = ["ENGINES", "STATUSES", "Engine", "OptunaEngine", "RandomEngine", "SmacEngine", "Trial",
           "create_engine", "suggest_config"]

ENGINES = ("smac", "optuna", "optuna-nsga2", "optuna-tpe", "optuna-gp", "random")


def __getattr__(name: str):  # SmacEngine imports smac (~2 s) only when used
    if name == "SmacEngine":
        from fairvision.search.engines.smac_engine import SmacEngine

        return SmacEngine
    raise AttributeError(name)


def create_engine(
    name: str,
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
    **options: Any,
) -> Engine:
    """Build a search engine; ``options`` go to the engine (e.g. ``eta`` for smac, ``sampler`` and
    sampler arguments for optuna)."""
    common = dict(seed=seed, min_budget=min_budget, max_budget=max_budget, n_trials=n_trials,
                  output_dir=output_dir, constraints=constraints, dedupe=dedupe)
    if name == "smac":
        from fairvision.search.engines.smac_engine import SmacEngine

        return SmacEngine(space, objectives, **common, **options)
    if name.startswith("optuna"):
        if name != "optuna":
            options = {"sampler": name.split("-", 1)[1], **options}
        return OptunaEngine(space, objectives, **common, **options)
    if name == "random":
        if options:
            raise ConfigError(f"random engine takes no options, got {sorted(options)}")
        return RandomEngine(space, objectives, **common)
    raise ConfigError(f"unknown search engine {name!r}; choose from {', '.join(ENGINES)}")
