"""Search engines behind one ask/tell interface (:class:`Engine`, :class:`Trial`).

``create_engine(name, ...)`` with ``name`` one of :data:`ENGINES` (a :class:`~fairvision.registry.Registry`):
``"smac"`` (default of FR-NAS: multi-fidelity BO), ``"optuna"`` (``sampler="nsga2" | "tpe" | "gp"``;
also spelt ``"optuna-nsga2"`` etc.) or ``"random"``. :func:`engine_options` lists the options an
engine takes; unknown options are errors.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable, Sequence

from ConfigSpace import ConfigurationSpace

from fairvision.errors import ConfigError
from fairvision.registry import Registry
from fairvision.search.engines.base import STATUSES, Engine, Trial
from fairvision.search.engines.optuna_engine import SAMPLERS, OptunaEngine, suggest_config
from fairvision.search.engines.grid_engine import GridEngine
from fairvision.search.engines.random_engine import RandomEngine

__all__ = ["ENGINES", "STATUSES", "Engine", "GridEngine", "OptunaEngine", "RandomEngine", "SmacEngine", "Trial",
           "create_engine", "engine_options", "suggest_config"]

ENGINES: Registry[Callable[..., type[Engine]]] = Registry("search engine")
"""Engine name -> a function returning (engine class, options it implies)."""
_COMMON = ("seed", "min_budget", "max_budget", "n_trials", "output_dir", "constraints", "dedupe")


def _smac() -> tuple[type[Engine], dict[str, Any]]:
    from fairvision.search.engines.smac_engine import SmacEngine  # imports smac (~2 s) only when used

    return SmacEngine, {}


ENGINES.register("smac", _smac)
ENGINES.register("optuna", lambda: (OptunaEngine, {}))
for _sampler in SAMPLERS:
    ENGINES.register(f"optuna-{_sampler}", lambda s=_sampler: (OptunaEngine, {"sampler": s}))
ENGINES.register("random", lambda: (RandomEngine, {}))
ENGINES.register("grid", lambda: (GridEngine, {}))


def __getattr__(name: str):  # SmacEngine imports smac (~2 s) only when used
    if name == "SmacEngine":
        return _smac()[0]
    raise AttributeError(name)


def engine_options(name: str) -> list[str] | None:
    """Option names engine ``name`` accepts (None: any, passed on to a library, e.g. optuna's sampler)."""
    return _options_of(*ENGINES.get(name)())


def _options_of(cls: type[Engine], implied: dict[str, Any]) -> list[str] | None:
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()) and cls.accepts_any_option:
        return None
    return [p for p in params if p not in ("self", "space", "objectives", *_COMMON, *implied)
            and params[p].kind is inspect.Parameter.KEYWORD_ONLY]


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
    sampler arguments for optuna). An option the engine does not know is a ConfigError."""
    cls, implied = ENGINES.get(name)()
    known = _options_of(cls, implied)
    unknown = [k for k in options if known is not None and k not in known]
    if unknown:
        raise ConfigError(f"{ENGINES.canonical(name)} engine: unknown option {unknown[0]!r}; "
                          f"{'it takes ' + ', '.join(known) if known else 'it takes no options'}")
    return cls(space, objectives, seed=seed, min_budget=min_budget, max_budget=max_budget, n_trials=n_trials,
               output_dir=output_dir, constraints=constraints, dedupe=dedupe, **implied, **options)
