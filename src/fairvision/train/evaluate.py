"""Evaluate a trained run (or checkpoint) on a split of its data, or on another data set."""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
import yaml
from rich.console import Console

from fairvision._io import write_csv
from fairvision.data import DATA_KINDS
from fairvision.errors import ConfigError, DatasetError
from fairvision.metrics import METRIC_NAMES, fairness_metrics
from fairvision.train.checkpoint import dense_state_dict, load_checkpoint
from fairvision.train.config import DataConfig, EvalProtocolConfig, RunConfig, load_data_config
from fairvision.train.data import SPLITS, load_split
from fairvision.train.tasks import diverged_metrics, embed_and_score
from fairvision.train.layout import RunLayout
from fairvision.train.step import build_model, resolve_device

__all__ = ["evaluate", "load_trained_model", "pairwise_metrics"]


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
    ``data.image_size``, the input size the model was trained on (via the
    run's ``task.resize`` and a centre crop, if set); a data spec that sets
    a different size is a ConfigError.

    Per-kind eval protocol: a data spec that leaves ``data.eval_protocol`` (or
    some of its keys) unset gets the kind's defaults
    (:attr:`fairvision.data.DataKind.eval_protocol`): RFW caps every race at
    8,327 images (FR-NAS); AgeDB has no protocol (age varies within a person).
    The result's ``eval_protocol`` is the protocol applied (null: none), and
    ``pairwise`` scores every pair of groups on its own (see
    :func:`pairwise_metrics`): FR-NAS's RFW analysis reports the mean accuracy
    and the maximum Disparity / Rank Disparity over race pairs.
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
        resize=cfg.task.resize_to(data_cfg.image_size),  # the run's task.resize: resize + centre crop
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
    pairwise = pairwise_metrics(ranks.rank_by_id, frame[data_cfg.group_column].to_numpy())
    result.update(
        epoch=epoch,
        status=state["status"],
        split=split,
        images=len(frame),
        identities=int(frame["identity"].nunique()),
        group_column=data_cfg.group_column,
        eval_protocol=None if data_cfg.eval_protocol is None else data_cfg.eval_protocol.model_dump(mode="json"),
        pairwise=pairwise,
    )
    if console is not None:
        from fairvision.report import print_fairness

        print_fairness(report, title=f"{split} split, {len(frame)} images", console=console)
        if len(groups) > 2:
            _print_pairwise(pairwise, console)
    return result


def pairwise_metrics(ranks, groups) -> dict[str, Any]:
    """FR-NAS metrics of every pair of groups, each restricted to the samples of its two groups.

    ``ranks`` are per-sample identification ranks computed once, on one gallery
    of all groups (FR-NAS's RFW protocol); ``groups`` the per-sample groups.
    Returns ``{"pairs": [{"groups": [a, b], "Accuracy": ..., <the metrics of
    fairness_metrics on a and b>}, ...], "mean accuracy": <mean over pairs of
    the pair accuracy>, "max Disparity": ..., "max Rank Disparity": ...}``;
    pairs in sorted order, the pair accuracy pooled over both groups' samples
    (with equal group sizes the mean over pairs equals the mean group accuracy).
    An undefined value (no sample with a rank) is NaN.
    """
    ranks = np.asarray(ranks)
    labels = pd.Series(groups).astype(str).to_numpy()
    names = sorted(set(labels))
    rows = []
    for a, b in itertools.combinations(names, 2):
        mask = (labels == a) | (labels == b)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = fairness_metrics(ranks[mask], labels[mask])
        row: dict[str, Any] = {"groups": [a, b], "Accuracy": float(1.0 - report.metrics["Error"])}
        row.update({m: float(report.metrics[m]) for m in METRIC_NAMES})
        rows.append(row)

    def over_pairs(key: str, how) -> float:
        values = np.array([r[key] for r in rows], dtype=float)
        return float(how(values)) if len(values) and not np.isnan(values).any() else float("nan")

    return {
        "pairs": rows,
        "mean accuracy": over_pairs("Accuracy", np.mean),
        "max Disparity": over_pairs("Disparity", np.max),
        "max Rank Disparity": over_pairs("Rank Disparity", np.max),
    }


def _print_pairwise(pairwise: dict[str, Any], console: Console) -> None:
    from rich.table import Table

    table = Table(title="group pairs (one gallery)")
    for col in ("pair", "Accuracy", "Disparity", "Rank Disparity"):
        table.add_column(col, justify="left" if col == "pair" else "right")
    for row in pairwise["pairs"]:
        table.add_row(" / ".join(row["groups"]), *(f"{row[c]:.4f}" for c in ("Accuracy", "Disparity", "Rank Disparity")))
    console.print(table)
    console.print(
        f"mean accuracy {pairwise['mean accuracy']:.4f}, max Disparity {pairwise['max Disparity']:.4f}, "
        f"max Rank Disparity {pairwise['max Rank Disparity']:.4f}"
    )


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
        protocol_keys = _protocol_keys(data, overrides)
    else:
        if data is None and kind is not _UNSET and str(kind) != run_data.kind:
            # another data set: its kind's defaults, plus what the model needs from the run
            base = {"data": {"image_size": run_data.image_size, "num_workers": run_data.num_workers}}
            data_cfg = load_data_config(base, overrides)
        else:
            data_cfg = load_data_config(data, overrides, base=run_data)
        explicit = "image_size" in data_cfg.model_fields_set  # the file's or an override's
        protocol_keys = _protocol_keys(data_cfg, ())
    data_cfg = _kind_protocol(data_cfg, protocol_keys)
    size = run_data.image_size
    if data_cfg.image_size != size:
        if explicit:
            raise ConfigError(
                f"data.image_size: the run was trained on {size} px images and evaluation resizes every image to "
                f"that size; drop data.image_size from the data spec (or set it to {size}), not {data_cfg.image_size}"
            )
        data_cfg = data_cfg.model_copy(update={"image_size": size})
    return data_cfg


def _protocol_keys(data: DataConfig, overrides: Sequence[str]) -> set[str] | None:
    """The ``eval_protocol`` keys a data spec sets (None: it does not set ``eval_protocol`` at all)."""
    keys: set[str] | None = None
    if "eval_protocol" in data.model_fields_set:
        keys = set(data.eval_protocol.model_fields_set) if data.eval_protocol is not None else set()
    for item in overrides:
        name = str(item).partition("=")[0].strip()
        if name == "data.eval_protocol":
            value = _override([item], name)
            keys = set(value) if isinstance(value, dict) else set()
        elif name.startswith("data.eval_protocol."):
            keys = (keys or set()) | {name.split(".")[2]}
    return keys


def _kind_protocol(data_cfg: DataConfig, keys: set[str] | None) -> DataConfig:
    """``data_cfg`` with its kind's eval-protocol defaults in the keys the spec left unset (see :func:`evaluate`)."""
    defaults = DATA_KINDS.get(data_cfg.kind).eval_protocol
    if keys is None:  # the spec says nothing about the protocol: the kind's default
        protocol = None if defaults is None else EvalProtocolConfig(**defaults)
        return data_cfg.model_copy(update={"eval_protocol": protocol})
    if data_cfg.eval_protocol is None or not defaults:
        return data_cfg
    missing = {k: v for k, v in defaults.items() if k not in keys}
    if not missing:
        return data_cfg
    return data_cfg.model_copy(update={"eval_protocol": data_cfg.eval_protocol.model_copy(update=missing)})
