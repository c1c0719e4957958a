"""Sparsity sweeps (``fairvision prune-study CONFIG --out DIR``): dense models plus pruned models at
several sparsities x seeds, every run's validation and test outputs kept, bias metrics per level.

Study config (YAML, unknown keys are errors)::

    train: prune-base.yaml     # the dense model's training config: a path (relative to this file) or a mapping
    overrides: []              # "key.path=value" overrides of it
    sweep:
      sparsities: [0.8, 0.9, 0.95, 0.98, 0.99, 0.995]
      seeds: 3                 # a count (seeds 0..n-1) or a list
      schedule: posttrain      # posttrain | chained | scratch
      prune: {method: gmp, scope: global, start: 1, end: 6, freq: 1}   # the pruned runs' prune section
      finetune: [optim.name=Adam, optim.lr=1.0e-4, train.epochs=8]     # posttrain/chained: overrides
    study: prune               # name of the study in DIR/study.db
    retries: 1
    max_consecutive_crashes: 3

Schedules: ``scratch`` trains each pruned model from scratch with the ``prune`` section (the paper's GMP
from scratch); ``posttrain`` starts each pruned model from the dense model of its seed
(``train.init_from``) with the ``finetune`` overrides (the paper's post-training GMP: Adam lr 1e-4);
``chained`` starts each level from the previous level's pruned model of its seed (the first from the
dense one), so a sweep costs about one dense training plus short fine-tunes.

The grid runs through the search driver and trial store (:class:`~fairvision.search.engines.GridEngine`):
re-running after ``kill -9`` retrains nothing that completed; ``workers``/``dask_scheduler`` run points
in parallel. A point's run needs its parent run (dense, or the previous level): it trains the parent
itself if needed, under a per-run file lock, so the order in which workers take points does not matter.

Outputs in DIR: ``study.db``, ``runs/dense-seed<S>/`` and ``runs/sparsity<L>-seed<S>/`` (training run
folders), ``summary.csv`` (see :func:`summarize`).
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fairvision.config import load_yaml, validate_config
from fairvision.errors import ConfigError
from fairvision.prune.summary import measured_sparsity, run_name, summarize

__all__ = ["PruneStudyConfig", "SweepConfig", "StudyObjective", "load_study_config", "run_prune_study",
           "study_points"]

DEFAULT_SPARSITIES = (0.8, 0.9, 0.95, 0.98, 0.99, 0.995)


class SweepConfig(BaseModel):
    """The grid and how pruned runs are made (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    sparsities: list[float] = Field(default_factory=lambda: list(DEFAULT_SPARSITIES))
    seeds: int | list[int] = 3
    schedule: Literal["posttrain", "chained", "scratch"] = "posttrain"
    prune: dict[str, Any] = Field(default_factory=lambda: {"method": "gmp"})
    finetune: list[str] = Field(default_factory=list)
    dense: bool = Field(True, description="also record the dense models as points (sparsity 0) of the grid")

    @field_validator("sparsities")
    @classmethod
    def _levels(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError("needs at least one sparsity")
        bad = [v for v in value if not 0.0 < v < 1.0]
        if bad:
            raise ValueError(f"each sparsity must be in (0, 1), got {bad[0]}")
        if len(set(value)) != len(value):
            raise ValueError("sparsities repeat")
        return sorted(float(v) for v in value)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: int | list[int]) -> list[int]:
        seeds = list(range(value)) if isinstance(value, int) else list(value)
        if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
            raise ValueError("a count >= 1 or a list of distinct seeds >= 0")
        return seeds

    @model_validator(mode="after")
    def _finetune(self) -> "SweepConfig":
        if self.schedule == "scratch" and self.finetune:
            raise ValueError("@finetune: only applies to schedule posttrain or chained (scratch trains from scratch)")
        return self


class PruneStudyConfig(BaseModel):
    """A whole study file."""

    model_config = ConfigDict(extra="forbid")

    train: str | dict[str, Any]
    overrides: list[str] = Field(default_factory=list)
    sweep: SweepConfig = Field(default_factory=SweepConfig)
    study: str = Field("prune", min_length=1)
    retries: int = Field(1, ge=0)
    max_consecutive_crashes: int = Field(3, ge=0)
    base_dir: Path = Field(default=Path("."), exclude=True)


def load_study_config(path: str | Path | dict) -> PruneStudyConfig:
    """Read and validate a study file (or mapping); ConfigError names the file and key."""
    if isinstance(path, dict):
        return validate_config(PruneStudyConfig, path, source="prune study config")
    cfg = validate_config(PruneStudyConfig, load_yaml(path), source=str(path))
    cfg.base_dir = Path(path).resolve().parent
    return cfg


def _train_mapping(cfg: PruneStudyConfig) -> dict[str, Any]:
    from fairvision.train import apply_overrides

    if isinstance(cfg.train, str):
        path = Path(cfg.train)
        data = load_yaml(path if path.is_absolute() else cfg.base_dir / path)
    else:
        data = copy.deepcopy(dict(cfg.train))
    return apply_overrides(data, cfg.overrides) if cfg.overrides else data


def study_points(sweep: SweepConfig) -> list[dict[str, Any]]:
    """Grid points in run order: the dense models first, then level by level, seed by seed."""
    levels = ([0.0] if sweep.dense else []) + list(sweep.sparsities)
    return [{"config": {"sparsity": level}, "seed": seed} for level in levels for seed in sweep.seeds]


class StudyObjective:
    """Picklable objective of the grid: trains (or resumes) the run of one point and its parents."""

    def __init__(self, base: dict[str, Any], sweep: SweepConfig, runs: Path, *, progress: bool = False) -> None:
        self.base, self.sweep, self.runs, self.progress = base, sweep, Path(runs), progress

    def run_config(self, sparsity: float, seed: int):
        """The :class:`~fairvision.train.RunConfig` of the run at ``sparsity`` (0: dense) and ``seed``."""
        from fairvision.train import RunConfig, apply_overrides

        data = copy.deepcopy(self.base)
        data.setdefault("train", {})["seed"] = int(seed)
        if sparsity > 0:
            if self.sweep.schedule != "scratch":
                data = apply_overrides(data, self.sweep.finetune)
                data["train"]["init_from"] = str(self.runs / run_name(self.parent(sparsity), seed))
            data["prune"] = {**self.sweep.prune, "sparsity": float(sparsity)}
            parent = self.parent(sparsity)
            if parent > 0 and data["prune"].get("method") == "gmp":
                # the parent's pruned weights are zeros, not masks: start the schedule at its sparsity so that
                # the first event re-masks exactly them and they cannot regrow
                data["prune"]["initial_sparsity"] = parent
        return RunConfig.from_dict(data, source=f"prune study run {run_name(sparsity, seed)}")

    def parent(self, sparsity: float) -> float:
        """The level a post-training run starts from (0: the dense model)."""
        if self.sweep.schedule != "chained":
            return 0.0
        lower = [s for s in self.sweep.sparsities if s < sparsity]
        return lower[-1] if lower else 0.0

    def check(self) -> None:
        """Validate the dense and every pruned run config before anything trains."""
        for seed in self.sweep.seeds[:1]:
            for level in [0.0, *self.sweep.sparsities]:
                self.run_config(level, seed)

    def ensure(self, sparsity: float, seed: int):
        """Train (or resume, or just read) the run and, first, the runs it starts from."""
        from fairvision.train import train

        if sparsity > 0 and self.sweep.schedule != "scratch":
            self.ensure(self.parent(sparsity), seed)
        run_dir = self.runs / run_name(sparsity, seed)
        with _locked(run_dir):
            return train(self.run_config(sparsity, seed), run_dir, progress=self.progress)

    def __call__(self, config: dict, budget: float, seed: int, run_dir: str | Path) -> dict:
        result = self.ensure(float(config["sparsity"]), seed)
        metrics = {k: float(v) for k, v in result.metrics.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        return {"status": result.status, "objectives": {"Error": metrics.get("Error", 1.0)},
                "metrics": {**metrics, "sparsity": measured_sparsity(result.run_dir), "run": str(result.run_dir)}}


@contextlib.contextmanager
def _locked(run_dir: Path) -> Iterator[None]:
    """An exclusive ``fcntl`` lock on ``<run_dir>.lock``: one process trains a run at a time."""
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(run_dir.with_name(run_dir.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_prune_study(cfg: PruneStudyConfig, out: str | Path, *, workers: int = 1, dask_scheduler: str | None = None,
                    progress: bool = True) -> "Any":
    """Validate, run (or resume) the grid, then write ``DIR/summary.csv``; returns the summary frame."""
    from ConfigSpace import ConfigurationSpace, Float

    from fairvision.search import TrialStore, create_engine, run_search

    if int(workers) < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if dask_scheduler is not None and int(workers) > 1:
        raise ConfigError("give either --workers > 1 (local processes) or --dask-scheduler, not both")
    out = Path(out).resolve()
    base = _train_mapping(cfg)
    data = base.setdefault("data", {})
    if data.get("kind", "synthetic") == "synthetic" and not data.get("root"):
        data["root"] = str(out / "data")  # one copy of the synthetic faces for every run
    objective = StudyObjective(base, cfg.sweep, out / "runs", progress=False)
    objective.check()
    points = study_points(cfg.sweep)
    space = ConfigurationSpace({"sparsity": Float("sparsity", (0.0, 1.0))})
    engine = create_engine("grid", space, ["Error"], n_trials=len(points), points=points)
    out.mkdir(parents=True, exist_ok=True)
    _write_study_config(out, cfg, base)
    store = TrialStore(out / "study.db")
    try:
        run_search(objective, engine=engine, store=store, n_trials=len(points), workers=workers,
                   dask_scheduler=dask_scheduler, retries=cfg.retries,
                   max_consecutive_crashes=cfg.max_consecutive_crashes, progress=progress, study=cfg.study,
                   run_root=out / "trials")
    finally:
        store.close()
        engine.close()
    return summarize(out, points=[(p["config"]["sparsity"], p["seed"]) for p in points])


def _write_study_config(out: Path, cfg: PruneStudyConfig, base: dict[str, Any]) -> None:
    """``DIR/study.yaml``: the study as it runs (its training config resolved), so the folder says what made it."""
    import yaml

    from fairvision._io import atomic_write

    resolved = cfg.model_dump(mode="json", exclude={"base_dir"}) | {"train": base, "overrides": []}
    atomic_write(out / "study.yaml", lambda tmp: tmp.write_text(yaml.safe_dump(resolved, sort_keys=False)))


def study_runs(out: str | Path, points: Sequence[tuple[float, int]]) -> list[tuple[float, int, Path]]:
    """``(requested sparsity, seed, run folder)`` of the points of a study in ``out``."""
    runs = Path(out) / "runs"
    return [(s, seed, runs / run_name(s, seed)) for s, seed in points]
