"""``fairvision search``: a search described by one YAML file, run against the trial store.

Search config keys (unknown keys are errors)::

    train: synthetic-tiny.yaml    # base training config: a path (relative to this file) or a mapping
    overrides: []                 # "key.path=value" overrides of the training config
    space: frnas                  # "frnas" | {timm_zoo: [resnet18, ...]} | a space mapping | a YAML path
    compression: null             # {sparsity: [lo, hi] | null, width: [0.25, 0.5, 1.0] | null}
    engine: smac                  # smac | optuna | optuna-nsga2 | optuna-tpe | optuna-gp | random
    engine_options:               # per engine: only the entry of the engine that runs is used
      smac: {eta: 2, n_initial: 10}
      optuna-tpe: {n_startup_trials: 10}
    objectives: [Error, Rank Disparity]   # names (minimised) or {name, direction}
    constraints: []               # [{name: params, upper: 5.0e6}]
    trials: 200
    min_budget: 1                 # epochs
    max_budget: 100
    seed: 0
    study: default
    retries: 1                    # attempts after a trial's first failure
    max_consecutive_crashes: 3    # stop (exit 1) when this many trials crash in a row; 0 = never
    optimizer_overrides:          # training-config overrides for the trials of one optimizer
      SGD: [optim.weight_decay=5.0e-4, train.grad_clip=1.0]

``engine_options`` may also be flat (``{eta: 2}``): it then belongs to ``engine`` and is dropped, with
a note, when another engine is chosen with ``--engine``. For ``optuna-tpe`` etc. the entries
``optuna`` and ``optuna-tpe`` are merged (the specific one wins). ``--engine-option KEY=VALUE``
overrides single options of the engine that runs. An option the engine does not take is an error.

Everything is validated before the store is opened (so a bad config creates no store file) and
before the first trial: the config, the space, the engine and its options, objective and constraint
names, the training config with the space's default configuration, the data root and the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fairvision.config import load_yaml, validate_config
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
    max_consecutive_crashes: int = Field(3, ge=0)
    optimizer_overrides: dict[str, list[str]] = Field(default_factory=dict)

    base_dir: Path = Field(default=Path("."), exclude=True)


def load_search_config(path: str | Path) -> SearchConfig:
    """Read and validate a search YAML file; ConfigError names the file and key."""
    path = Path(path)
    cfg = validate_config(SearchConfig, load_yaml(path), source=str(path))
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


def resolve_engine_options(cfg: SearchConfig, engine: str, overrides: dict[str, Any] | None = None,
                           *, note=None) -> dict[str, Any]:
    """The options of ``engine`` from ``cfg.engine_options`` (per engine, or flat for ``cfg.engine``)
    updated with ``overrides``; ``note(text)`` is told when flat options are dropped."""
    from fairvision.search.engines import ENGINES

    opts = cfg.engine_options
    per_engine = [k for k in opts if k in ENGINES]
    if per_engine and len(per_engine) != len(opts):
        raise ConfigError(f"engine_options: mixes engine names {per_engine} with options "
                          f"{[k for k in opts if k not in ENGINES]}; use {{engine: {{option: value}}}}")
    if per_engine:
        for key, value in opts.items():
            if not isinstance(value, dict):
                raise ConfigError(f"engine_options.{key}: must be a mapping of options, got {value!r}")
        name = ENGINES.canonical(engine)
        family = name.split("-", 1)[0]
        by_name = {ENGINES.canonical(k): v for k, v in opts.items()}
        out = {**by_name.get(family, {}), **(by_name.get(name, {}) if name != family else {})}
    elif opts and ENGINES.canonical(engine) != ENGINES.canonical(cfg.engine):
        if note is not None:
            note(f"engine_options {sorted(opts)} belong to engine {cfg.engine!r}: not used by {engine!r}")
        out = {}
    else:
        out = dict(opts)
    return {**out, **(overrides or {})}


def _store_path(store: str | Path) -> Path | None:
    return None if "://" in str(store) else Path(store).resolve()


def run_search_config(
    cfg: SearchConfig,
    store_path: str | Path,
    *,
    engine: str | None = None,
    engine_options: dict[str, Any] | None = None,
    trials: int | None = None,
    workers: int = 1,
    dask_scheduler: str | None = None,
    progress: bool = True,
    note=None,
):
    """Validate everything, then run (or resume) the search; returns the store's trial table.
    ``engine_options`` override single options of the engine that runs."""
    from fairvision.search import TrialStore, create_engine, run_search
    from fairvision.search.objectives import parse_constraints, parse_objectives
    from fairvision.search.training import TrainingObjective

    if trials is not None and int(trials) < 1:
        raise ConfigError(f"--trials must be >= 1, got {trials}")
    if int(workers) < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if dask_scheduler is not None and int(workers) > 1:
        raise ConfigError("give either --workers > 1 (local processes) or --dask-scheduler, not both")
    n_trials = int(trials) if trials is not None else cfg.trials
    objectives = parse_objectives(cfg.objectives)
    constraints = parse_constraints(cfg.constraints)
    db = _store_path(store_path)
    base = _train_mapping(cfg)
    data = base.setdefault("data", {})
    if data.get("kind", "synthetic") == "synthetic" and not data.get("root"):
        # one shared copy of the synthetic faces for every trial, beside the store
        where = db.parent / f"{db.stem}_data" if db else Path("search_data")
        data["root"] = str(where.resolve())
    space = build_space(cfg)
    objective_fn = TrainingObjective(base, max_budget=cfg.max_budget, objectives=[o.name for o in objectives],
                                     constraints=[c.name for c in constraints],
                                     optimizer_overrides=cfg.optimizer_overrides)
    objective_fn.check(space)
    name = engine or cfg.engine
    options = resolve_engine_options(cfg, name, engine_options, note=note)
    output_dir = (db.parent / f"{db.stem}_{name}" / cfg.study) if db else None
    eng = create_engine(name, space, objectives, seed=cfg.seed, min_budget=cfg.min_budget,
                        max_budget=cfg.max_budget, n_trials=n_trials, output_dir=output_dir,
                        constraints=constraints or None, **options)
    try:
        store = TrialStore(store_path)
        try:
            return run_search(objective_fn, engine=eng, store=store, n_trials=n_trials, workers=workers,
                              dask_scheduler=dask_scheduler, retries=cfg.retries,
                              max_consecutive_crashes=cfg.max_consecutive_crashes, progress=progress,
                              study=cfg.study)
        finally:
            store.close()
    finally:
        eng.close()
