"""The search objective that trains: a search configuration -> a training run -> objectives.

:class:`TrainingObjective` maps a configuration sampled from a search space onto a base training
config (:class:`fairvision.train.RunConfig`), trains it for ``budget`` epochs with
:func:`fairvision.train.train` and returns the objectives the driver expects.

Search keys (the FR-NAS space and the timm-zoo space use these names):

===============================  ====================================================
``edge1``, ``edge2``, ``edge3``  ``model.edges`` (FR-NAS DPN ops, "0".."8")
``backbone``                     ``model.name`` (a timm model name or ``frnas_dpn``)
``head``                         ``head.name``
``optimizer``                    ``optim.name``
``lr_adam``, ``lr_sgd``, ``lr``  ``optim.lr`` (whichever is active)
``width``                        ``model.width``
``sparsity``                     ``prune.sparsity`` (> 0: the base config's ``prune``
                                 section, default GMP from epoch 0 to 3/4 of the
                                 maximum budget, pruned to this level; 0: dense)
any dotted key, e.g.             that key of the training config
``optim.weight_decay``
===============================  ====================================================

Multi-fidelity: the budget is the number of epochs, and the cosine schedule is fixed to the
maximum budget (``train.schedule_epochs``), so a configuration promoted by Hyperband continues from
the checkpoint of its lower-budget trial (found among the sibling trial folders) instead of
starting again: training ``e`` epochs then extending to ``E`` gives the weights of ``E`` epochs.

Objectives: ``Error`` and every fairness metric of ``metrics.json``, ``params`` (parameters of the
embedding network), ``flops`` (forward FLOPs of one image, counted by
``torch.utils.flop_counter``) and ``latency`` (ms per image, batch 1, CPU, median of 20).  A
diverged run is a result (FR-NAS: ``Error = 1``), not a crash.
"""

from __future__ import annotations

import copy
import math
import shutil
import statistics
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from fairvision.errors import ConfigError
from fairvision.metrics import METRIC_NAMES

__all__ = ["TrainingObjective", "apply_search_config"]

_DIRECT = {"backbone": ("model", "name"), "head": ("head", "name"), "optimizer": ("optim", "name"),
           "width": ("model", "width")}
_LR_KEYS = ("lr_adam", "lr_sgd", "lr")
_MODEL_OBJECTIVES = ("params", "flops", "latency")
REPORTED = tuple(METRIC_NAMES) + _MODEL_OBJECTIVES  # what a trial can report as an objective or constraint


def apply_search_config(base: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the training-config mapping ``base`` with the search ``config`` applied."""
    out = copy.deepcopy(dict(base))
    edges = [config.get(f"edge{i}") for i in (1, 2, 3)]
    if any(e is not None for e in edges):
        if not all(e is not None for e in edges):
            raise ConfigError(f"search config sets only some of edge1..edge3: {edges}")
        out.setdefault("model", {})["edges"] = [int(e) for e in edges]
    backbone = config.get("backbone")
    if backbone is not None and backbone != "frnas_dpn":  # DPN-only settings of the base do not apply
        for key in ("edges", "width"):
            out.get("model", {}).pop(key, None)
    for key, value in config.items():
        if key in ("edge1", "edge2", "edge3") or value is None:
            continue
        if key in _DIRECT:
            section, field = _DIRECT[key]
            out.setdefault(section, {})[field] = value
        elif key in _LR_KEYS:
            out.setdefault("optim", {})["lr"] = float(value)
        elif key == "sparsity":
            if float(value) > 0:  # the base config's prune section (default: GMP over the run) at this level
                out["prune"] = {**(out.get("prune") or {"method": "gmp"}), "sparsity": float(value)}
            else:
                out["prune"] = None
        elif "." in key:
            node = out
            *parents, leaf = key.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = value
        else:
            raise ConfigError(
                f"search key {key!r} has no meaning for training; use edge1..3, backbone, head, optimizer, "
                f"lr_adam/lr_sgd/lr, width, or a dotted training-config key such as 'optim.weight_decay'"
            )
    return out


class TrainingObjective:
    """Picklable objective function ``(config, budget, seed, run_dir) -> result`` for the driver.

    Args:
        base: the base training config (a mapping, as loaded from YAML).
        max_budget: the full budget in epochs (fixes the cosine schedule length).
        objectives: names of the objectives to report (see :data:`REPORTED`).
        constraints: names of constrained values; model statistics among them (``params``, ...)
            are measured and reported in the trial's metrics.
        optimizer_overrides: ``{optimizer name: ["key.path=value", ...]}`` applied to the training
            config of every trial that uses that optimizer (per-family defaults such as SGD's weight
            decay and gradient clipping, so that every region of the space can train in the budget).
        progress: show the training progress bars.
    """

    def __init__(self, base: Mapping[str, Any], *, max_budget: float, objectives: Sequence[str],
                 constraints: Sequence[str] = (), optimizer_overrides: Mapping[str, Sequence[str]] | None = None,
                 progress: bool = False) -> None:
        from fairvision.train import RunConfig, apply_overrides

        RunConfig.from_dict(dict(base), source="search: train config")  # fail early, in the driver
        self.optimizer_overrides = {str(k): list(v) for k, v in (optimizer_overrides or {}).items()}
        for name, items in self.optimizer_overrides.items():  # each set of overrides must give a valid config
            RunConfig.from_dict(apply_overrides(copy.deepcopy(dict(base)), [f"optim.name={name}", *items]),
                                source=f"search: optimizer_overrides.{name}")
        self.base = dict(base)
        self.max_budget = int(math.ceil(max_budget))
        self.objectives = list(objectives)
        self.constraints = list(constraints)
        self.progress = progress

    def check(self, space) -> None:
        """Fail before the first trial, with one line, on what would make every trial crash:
        unknown objective or constraint names, a training config that the space's default
        configuration turns invalid, a data root that does not exist, a model that does not build,
        or a backbone choice that is no known model."""
        from fairvision.models import create_model, is_model
        from fairvision.search.spaces import config_to_dict

        for what, names in (("objective", self.objectives), ("constraint", self.constraints)):
            unknown = [n for n in names if n not in REPORTED]
            if unknown:
                raise ConfigError(f"unknown {what} {unknown[0]!r}: a training trial reports "
                                  f"{', '.join(REPORTED)}")
        if "backbone" in space:
            hp = space["backbone"]
            bad = [c for c in getattr(hp, "choices", getattr(hp, "sequence", ())) if not is_model(str(c))]
            if bad:
                raise ConfigError(f"space: backbone {bad[0]!r} is not a known model (see `fairvision.models."
                                  f"list_models()`)")
        cfg = self.run_config(config_to_dict(space.get_default_configuration()), self.max_budget, 0)
        from fairvision.data import DATA_KINDS

        if not DATA_KINDS.get(cfg.data.kind).generated:
            from fairvision.train.data import expand_path

            for key in ("root", "demographics"):
                value = getattr(cfg.data, key)
                if value and not expand_path(value, f"data.{key}").exists():
                    raise ConfigError(f"data.{key}: {value} does not exist")
        try:
            create_model(cfg.model.name, **cfg.model.create_kwargs())
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - any build failure is a set-up error here
            raise ConfigError(f"model {cfg.model.name!r} does not build with the search's default "
                              f"configuration: {type(exc).__name__}: {exc}") from None

    def run_config(self, config: Mapping[str, Any], budget: float, seed: int):
        """The :class:`RunConfig` a trial trains."""
        from fairvision.train import RunConfig

        from fairvision.train import apply_overrides

        data = apply_search_config(self.base, config)
        extra = self.optimizer_overrides.get(str(data.get("optim", {}).get("name")))
        if extra:
            data = apply_overrides(data, extra)
        data.setdefault("train", {})
        data["train"]["epochs"] = max(1, int(math.ceil(budget)))
        data["train"]["schedule_epochs"] = self.max_budget
        data["train"]["seed"] = int(seed)
        prune = data.get("prune")
        if isinstance(prune, dict) and prune.get("method") == "gmp" and prune.get("end") is None:
            # the sparsity dimension without a schedule in the base config: GMP over the first 3/4 of the
            # full budget (fixed for every budget, so Hyperband's continuation stays exact)
            data["prune"] = {**prune, "start": int(prune.get("start") or 0),
                             "end": max(int(prune.get("start") or 0) + 1, (3 * self.max_budget) // 4)}
        return RunConfig.from_dict(data, source="search trial config")

    def __call__(self, config: Mapping[str, Any], budget: float, seed: int, run_dir: str | Path) -> dict:
        from fairvision.train import train

        cfg = self.run_config(config, budget, seed)
        run_dir = Path(run_dir)
        _continue_from_lower_budget(cfg, run_dir)
        result = train(cfg, run_dir, progress=self.progress)
        metrics, status = result.metrics, result.status
        objectives: dict[str, float] = {}
        wanted = self.objectives + self.constraints
        model_stats = _model_stats(cfg, wanted) if any(o in _MODEL_OBJECTIVES for o in wanted) else {}
        for name in self.objectives:
            value = model_stats.get(name, metrics.get(name))
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                objectives[name] = float(value)
        if status == "diverged":
            objectives = {k: v for k, v in objectives.items() if k.lower() == "error" or k in _MODEL_OBJECTIVES}
            objectives.setdefault("Error", 1.0)
        return {"status": status, "objectives": objectives,
                "metrics": {k: v for k, v in metrics.items() if k != "groups"} | model_stats
                | {"groups": metrics.get("groups")}}


def _comparable(cfg_dict: Mapping[str, Any]) -> dict[str, Any]:
    d = copy.deepcopy(dict(cfg_dict))
    d.get("train", {}).pop("epochs", None)
    return d


def _continue_from_lower_budget(cfg, run_dir: Path) -> None:
    """Seed ``run_dir`` with the checkpoint of the same config trained for fewer epochs, if any (configs
    recorded by earlier versions are compared with the defaults of newer keys filled in)."""
    from fairvision.train import RunLayout
    from fairvision.train.engine import normalized_config

    if RunLayout(run_dir).checkpoint.exists() or not run_dir.parent.is_dir():
        return
    target = _comparable(cfg.to_dict())
    best: tuple[int, Path] | None = None
    for other in map(RunLayout, run_dir.parent.iterdir()):
        if other.root == run_dir or not (other.config.is_file() and other.checkpoint.exists()):
            continue
        try:
            data = yaml.safe_load(other.config.read_text())
        except (OSError, yaml.YAMLError):
            continue
        epochs = int(data.get("train", {}).get("epochs", 0))
        if epochs <= cfg.train.epochs and _comparable(normalized_config(data)) == target and (
                best is None or epochs > best[0]):
            best = (epochs, other.root)
    if best is not None:
        shutil.copytree(best[1], run_dir, dirs_exist_ok=True)


def _model_stats(cfg, names: Sequence[str]) -> dict[str, float]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from fairvision.models import create_model

    model = create_model(cfg.model.name, **cfg.model.create_kwargs()).eval()
    x = torch.zeros(1, 3, cfg.data.image_size, cfg.data.image_size)
    out: dict[str, float] = {"params": float(sum(p.numel() for p in model.parameters()))}
    with torch.no_grad():
        if "flops" in names:
            counter = FlopCounterMode(display=False)
            with counter:
                model(x)
            out["flops"] = float(counter.get_total_flops())
        if "latency" in names:
            times = []
            for _ in range(23):
                t0 = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - t0)
            out["latency"] = 1000.0 * statistics.median(times[3:])
    return out
