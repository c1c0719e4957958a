"""Evaluate a trained run (or checkpoint) on a split of its data, or on another data set."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
import yaml
from rich.console import Console

from fairvision._io import write_csv
from fairvision.errors import ConfigError, DatasetError
from fairvision.train.checkpoint import dense_state_dict, load_checkpoint
from fairvision.train.config import DataConfig, RunConfig, load_data_config
from fairvision.train.data import SPLITS, load_split
from fairvision.train.tasks import diverged_metrics, embed_and_score
from fairvision.train.layout import RunLayout
from fairvision.train.step import build_model, resolve_device

__all__ = ["evaluate", "load_trained_model"]


def _locate(source: str | Path) -> tuple[Path, Path]:
    source = Path(source)
    ckpt = RunLayout(source).checkpoint if source.is_dir() else source
    return ckpt, ckpt.parent


def load_trained_model(source: str | Path, *, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, RunConfig, dict]:
    """The backbone of a run folder or checkpoint file (eval mode), its config and the checkpoint dict.
    A pruned run's masks are folded into plain weights (pruned weights are exact zeros)."""
    ckpt, _ = _locate(source)
    state = load_checkpoint(ckpt)
    cfg = RunConfig.from_dict(state["config"], source=f"{ckpt} (stored config)")
    model = build_model(cfg)
    model.load_state_dict(dense_state_dict(state["model"]))
    model.to(device).eval()
    return model, cfg, state


def evaluate(
    source: str | Path,
    *,
    data: str | Path | dict | DataConfig | None = None,
    overrides: Sequence[str] = (),
    split: str = "test",
    device: str = "auto",
    batch_size: int | None = None,
    ranks_out: str | Path | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Metrics of the trained backbone on ``split`` of ``data``.

    ``source`` is a run folder or a ``checkpoint.pt``.  ``data`` is a YAML file
    (or mapping) with a ``data`` section, or a :class:`DataConfig`; default the
    run's own data config; ``overrides`` are ``data.key=value`` strings.
    ``split`` is ``train``/``val``/``test`` (the identity-disjoint splits
    training made, recomputed from the data config) or ``all`` (the whole data
    set, e.g. RFW; the eval protocol applies unless ``data.eval_protocol`` is
    null).  Returns the ``fairvision fairness --json`` keys plus ``epoch``,
    ``status`` and ``split``, ``images`` and ``identities``.  A diverged run
    gives its diverged record (Error = 1).  ``ranks_out`` writes
    ``ids, identity, group, path, rank_by_id, rank_by_image``.

    Another data set: ``overrides`` that change ``data.kind`` (e.g.
    ``data.kind=rfw``, ``data.root=/data/RFW``) start from that kind's
    defaults, not from the run's data keys (a synthetic run's generator
    settings do not apply to RFW).  Images are always resized to the run's
    ``data.image_size``, the input size the model was trained on; a data
    spec that sets a different size is a ConfigError.
    """
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1
    ):
        raise ConfigError(f"batch_size: must be a whole number >= 1, got {batch_size}")
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    ckpt, run_dir = _locate(source)
    dev = resolve_device(device)
    model, cfg, state = load_trained_model(ckpt, device=dev)
    epoch = int(state["epoch"]) - 1
    data_cfg = _data_config(data, overrides, cfg.data)
    if state["status"] == "diverged":
        return {**diverged_metrics(epoch), "split": split}
    faces = load_split(data_cfg, split, run_dir=run_dir)
    groups = sorted(map(str, faces.frame[data_cfg.group_column].unique()))
    if len(groups) < 2:
        raise DatasetError(
            f"{faces.name}: the {split!r} split has only the group {groups[0]!r} in column "
            f"{data_cfg.group_column!r}; fairness metrics compare at least two groups"
        )
    scored = embed_and_score(
        model,
        faces,
        data_cfg.group_column,
        image_size=data_cfg.image_size,
        device=dev,
        precision=cfg.train.precision,
        batch_size=batch_size or cfg.train.eval_batch_size,
        num_workers=data_cfg.num_workers,
    )
    if scored is None:
        return {**diverged_metrics(epoch), "split": split}
    _, ranks, report = scored
    frame = faces.frame
    if ranks_out is not None:
        out = pd.DataFrame({"ids": np.arange(len(frame)), "identity": frame["identity"].to_numpy()})
        out["group"] = frame[data_cfg.group_column].to_numpy()
        out["path"] = frame["path"].to_numpy()
        out["rank_by_id"] = ranks.rank_by_id
        out["rank_by_image"] = ranks.rank_by_image
        write_csv(ranks_out, out)
    result = report.to_dict()
    result.update(
        epoch=epoch,
        status=state["status"],
        split=split,
        images=len(frame),
        identities=int(frame["identity"].nunique()),
    )
    if console is not None:
        from fairvision.report import print_fairness

        print_fairness(report, title=f"{split} split, {len(frame)} images", console=console)
    return result


_UNSET = object()


def _override(overrides: Sequence[str], key: str):
    """The (YAML-parsed) value of the last ``key=...`` override, or ``_UNSET``."""
    found = _UNSET
    for item in overrides:
        name, sep, value = str(item).partition("=")
        if sep and name.strip() == key:
            try:
                found = yaml.safe_load(value)
            except yaml.YAMLError:
                found = value.strip()
    return found


def _data_config(data, overrides: Sequence[str], run_data: DataConfig) -> DataConfig:
    """The data config to evaluate on (see :func:`evaluate`), with the run's image size."""
    kind = _override(overrides, "data.kind")
    if isinstance(data, DataConfig):
        data_cfg = load_data_config(None, overrides, base=data) if overrides else data
        explicit = "image_size" in data.model_fields_set or _override(overrides, "data.image_size") is not _UNSET
    else:
        if data is None and kind is not _UNSET and str(kind) != run_data.kind:
            # another data set: its kind's defaults, plus what the model needs from the run
            base = {"data": {"image_size": run_data.image_size, "num_workers": run_data.num_workers}}
            data_cfg = load_data_config(base, overrides)
        else:
            data_cfg = load_data_config(data, overrides, base=run_data)
        explicit = "image_size" in data_cfg.model_fields_set  # the file's or an override's
    size = run_data.image_size
    if data_cfg.image_size != size:
        if explicit:
            raise ConfigError(
                f"data.image_size: the run was trained on {size} px images and evaluation resizes every image to "
                f"that size; drop data.image_size from the data spec (or set it to {size}), not {data_cfg.image_size}"
            )
        data_cfg = data_cfg.model_copy(update={"image_size": size})
    return data_cfg
