"""The zoo study (``fairvision zoo CONFIG --store DB``): hand-picked backbones x heads x optimizers, trained
into one trial store, so that they sit on the same front as a search (FR-NAS's phase 1).

Zoo config (YAML, unknown keys are errors)::

    train: ../configs/synthetic-bias.yaml   # base training config: a path (relative to this file) or a mapping
    overrides: []
    backbones: [resnet18, mobilenetv3_large_100]   # model names (timm or fairvision's own)
    heads: [CosFace, ArcFace, MagFace]
    optimizers: [{name: SGD, lr: 0.1}, {name: AdamW, lr: 0.001}]
    seeds: [0]
    epochs: 6
    objectives: [Error, Rank Disparity]
    optimizer_overrides: {}                 # as in a search config
    study: zoo

Every combination is one point of a :class:`~fairvision.search.engines.GridEngine` run by the search driver:
resumable, parallel with ``--workers``/Dask, and a combination that fails to build or train is recorded as
``crashed`` with its reason while the study goes on (no crash-streak stop, no retry). Trials carry the keys
``backbone``, ``head``, ``optimizer`` and ``lr`` like a timm-zoo search, so ``fairvision trials``,
``fairvision pareto`` and ``fairvision analyze`` read the store as they read a search's.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fairvision.config import load_yaml, validate_config
from fairvision.errors import ConfigError

__all__ = ["OptimizerChoice", "ZooConfig", "load_zoo_config", "run_zoo", "zoo_points"]


class OptimizerChoice(BaseModel):
    """One optimizer of the zoo with its learning rate."""

    model_config = ConfigDict(extra="forbid")

    name: str
    lr: float = Field(..., gt=0)


class ZooConfig(BaseModel):
    """A zoo study file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    train: str | dict[str, Any]
    overrides: list[str] = Field(default_factory=list)
    backbones: list[str] = Field(..., min_length=1)
    heads: list[str] = Field(default_factory=lambda: ["CosFace"], min_length=1)
    optimizers: list[OptimizerChoice] = Field(
        default_factory=lambda: [OptimizerChoice(name="SGD", lr=0.1), OptimizerChoice(name="AdamW", lr=1e-3)],
        min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    epochs: int = Field(10, ge=1)
    objectives: list[str | dict[str, Any]] = Field(default_factory=lambda: ["Error", "Rank Disparity"])
    optimizer_overrides: dict[str, list[str]] = Field(default_factory=dict)
    study: str = Field("zoo", min_length=1)
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("backbones", "heads")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"names repeat: {sorted({v for v in value if value.count(v) > 1})}")
        return value


def load_zoo_config(path: str | Path | dict) -> ZooConfig:
    """Read and validate a zoo file (or mapping); ConfigError names the file and key."""
    if isinstance(path, dict):
        return validate_config(ZooConfig, path, source="zoo config")
    cfg = validate_config(ZooConfig, load_yaml(path), source=str(path))
    cfg.base_dir = Path(path).resolve().parent
    return cfg


def zoo_points(cfg: ZooConfig) -> list[dict[str, Any]]:
    """Every (backbone, head, optimizer, seed) as a grid point, in that nesting order."""
    return [{"config": {"backbone": b, "head": h, "optimizer": o.name, "lr": float(o.lr)}, "seed": int(s)}
            for b, h, o, s in itertools.product(cfg.backbones, cfg.heads, cfg.optimizers, cfg.seeds)]


def _space(cfg: ZooConfig):
    from ConfigSpace import Categorical, ConfigurationSpace, Float

    lrs = [o.lr for o in cfg.optimizers]
    return ConfigurationSpace({
        "backbone": Categorical("backbone", list(cfg.backbones)),
        "head": Categorical("head", list(cfg.heads)),
        "optimizer": Categorical("optimizer", sorted({o.name for o in cfg.optimizers})),
        "lr": Float("lr", (min(lrs) / 2, max(lrs) * 2), log=True),
    })


def run_zoo(cfg: ZooConfig, store_path: str | Path, *, workers: int = 1, dask_scheduler: str | None = None,
            progress: bool = True):
    """Validate, then train (or resume) every combination into the store; returns the store's trial table.
    Unknown head or optimizer names and a bad base config are errors before anything runs; a backbone that
    does not build or train is a crashed trial with its reason."""
    from fairvision.models import HEADS
    from fairvision.search import TrialStore, create_engine, run_search
    from fairvision.search.objectives import parse_objectives
    from fairvision.search.runner import _store_path
    from fairvision.search.training import TrainingObjective
    from fairvision.train import apply_overrides
    from fairvision.train.config import OPTIMIZERS

    if int(workers) < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    for head in cfg.heads:
        HEADS.canonical(head)
    bad = [o.name for o in cfg.optimizers if o.name not in OPTIMIZERS]
    if bad:
        raise ConfigError(f"optimizers: {bad[0]!r} is not one of {', '.join(OPTIMIZERS)}")
    if isinstance(cfg.train, str):
        path = Path(cfg.train)
        base = load_yaml(path if path.is_absolute() else cfg.base_dir / path)
    else:
        base = dict(cfg.train)
    base = apply_overrides(base, cfg.overrides) if cfg.overrides else base
    db = _store_path(store_path)
    data = base.setdefault("data", {})
    if data.get("kind", "synthetic") == "synthetic" and not data.get("root"):
        where = db.parent / f"{db.stem}_data" if db else Path("zoo_data")
        data["root"] = str(where.resolve())
    objectives = parse_objectives(cfg.objectives)
    objective_fn = TrainingObjective(base, max_budget=cfg.epochs, objectives=[o.name for o in objectives],
                                     optimizer_overrides=cfg.optimizer_overrides)
    points = zoo_points(cfg)
    engine = create_engine("grid", _space(cfg), objectives, min_budget=cfg.epochs, max_budget=cfg.epochs,
                           n_trials=len(points), points=points)
    try:
        store = TrialStore(store_path)
        try:
            return run_search(objective_fn, engine=engine, store=store, n_trials=len(points), workers=workers,
                              dask_scheduler=dask_scheduler, retries=0, max_consecutive_crashes=0,
                              progress=progress, study=cfg.study)
        finally:
            store.close()
    finally:
        engine.close()
