"""``fairvision search``: a search described by one YAML file, run against the trial store.

Search config keys (unknown keys are errors)::

    train: synthetic-tiny.yaml    # base training config: a path (relative to this file) or a mapping
    overrides: []                 # "key.path=value" overrides of the training config
    space: frnas                  # "frnas" | {timm_zoo: [resnet18, ...]} | a space mapping | a YAML path
    compression: null             # {sparsity: [lo, hi] | null, width: [0.25, 0.5, 1.0] | null}
    engine: smac                  # smac | optuna | optuna-nsga2 | optuna-tpe | optuna-gp | random
    engine_options: {}            # e.g. {eta: 2, n_initial: 10} for smac
    objectives: [Error, Rank Disparity]   # names (minimised) or {name, direction}
    constraints: []               # [{name: params, upper: 5.0e6}]
    trials: 200
    min_budget: 1                 # epochs
    max_budget: 100
    seed: 0
    study: default
    retries: 1
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fairvision.config import load_yaml
from fairvision.errors import ConfigError

__all__ = ["SearchConfig", "load_search_config", "build_space", "run_search_config"]


class SearchConfig(BaseModel):
    """A whole search (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    train: str | dict[str, Any]
    overrides: list[str] = Field(default_factory=list)
    space: str | dict[str, Any] = "frnas"
    compression: dict[str, Any] | None = None
    engine: str = "smac"
    engine_options: dict[str, Any] = Field(default_factory=dict)
    objectives: list[str | dict[str, Any]] = Field(default_factory=lambda: ["Error", "Rank Disparity"])
    constraints: list[dict[str, Any]] = Field(default_factory=list)
    trials: int = Field(200, ge=1)
    min_budget: float = Field(1.0, gt=0)
    max_budget: float = Field(100.0, gt=0)
    seed: int = Field(0, ge=0)
    study: str = Field("default", min_length=1)
    retries: int = Field(1, ge=0)

    base_dir: Path = Field(default=Path("."), exclude=True)


def load_search_config(path: str | Path) -> SearchConfig:
    """Read and validate a search YAML file; ConfigError names the file and key."""
    path = Path(path)
    data = load_yaml(path)
    try:
        cfg = SearchConfig(**data)
    except ValidationError as exc:
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{path}: " + "; ".join(parts)) from None
    if cfg.min_budget > cfg.max_budget:
        raise ConfigError(f"{path}: min_budget {cfg.min_budget} > max_budget {cfg.max_budget}")
    cfg.base_dir = path.parent
    return cfg


def _train_mapping(cfg: SearchConfig) -> dict[str, Any]:
    from fairvision.train import apply_overrides

    if isinstance(cfg.train, str):
        train_path = Path(cfg.train)
        if not train_path.is_absolute():
            train_path = cfg.base_dir / train_path
        data = load_yaml(train_path)
    else:
        data = dict(cfg.train)
    return apply_overrides(data, cfg.overrides) if cfg.overrides else data


def build_space(cfg: SearchConfig):
    """The ConfigSpace search space of ``cfg``."""
    from fairvision.search.spaces import frnas_space, load_space, space_from_dict, timm_zoo_space, with_compression

    spec = cfg.space
    if spec == "frnas":
        space = frnas_space(seed=cfg.seed)
    elif isinstance(spec, dict) and set(spec) == {"timm_zoo"}:
        space = timm_zoo_space(list(spec["timm_zoo"]), seed=cfg.seed)
    elif isinstance(spec, dict):
        space = space_from_dict(spec, seed=cfg.seed)
    else:
        path = Path(spec)
        space = load_space(path if path.is_absolute() else cfg.base_dir / path, seed=cfg.seed)
    if cfg.compression is not None:
        space = with_compression(space, **cfg.compression)
    return space


def run_search_config(
    cfg: SearchConfig,
    store_path: str | Path,
    *,
    engine: str | None = None,
    trials: int | None = None,
    workers: int = 1,
    dask_scheduler: str | None = None,
    progress: bool = True,
):
    """Run (or resume) the search; returns the store's trial table."""
    from fairvision.search import TrialStore, create_engine, run_search
    from fairvision.search.objectives import parse_constraints, parse_objectives
    from fairvision.search.training import TrainingObjective

    objectives = parse_objectives(cfg.objectives)
    store = TrialStore(store_path)
    base = _train_mapping(cfg)
    data = base.setdefault("data", {})
    if data.get("kind") == "synthetic" and not data.get("root"):
        # one shared copy of the synthetic faces for every trial, beside the store
        where = store.path.parent / f"{store.path.stem}_data" if store.path else Path("search_data")
        data["root"] = str(where.resolve())
    objective_fn = TrainingObjective(base, max_budget=cfg.max_budget, objectives=[o.name for o in objectives])
    n_trials = trials or cfg.trials
    name = engine or cfg.engine
    output_dir = (store.path.parent / f"{store.path.stem}_{name}" / cfg.study) if store.path else None
    eng = create_engine(name, build_space(cfg), objectives, seed=cfg.seed, min_budget=cfg.min_budget,
                        max_budget=cfg.max_budget, n_trials=n_trials, output_dir=output_dir,
                        constraints=parse_constraints(cfg.constraints) or None, **cfg.engine_options)
    try:
        return run_search(objective_fn, engine=eng, store=store, n_trials=n_trials, workers=workers,
                          dask_scheduler=dask_scheduler, retries=cfg.retries, progress=progress,
                          study=cfg.study)
    finally:
        eng.close()
        store.close()
