"""1:1 verification of a trained run on a benchmark's pair list (LFW, CALFW, CPLFW).

:func:`evaluate_pairs` embeds every image the pair file names with the run's
backbone (flip test-time augmentation, images resized to the run's
``data.image_size``), scores each pair by the cosine similarity of its two
embeddings and reports the 10-fold accuracy as the benchmarks do
(:func:`fairvision.metrics.verification_accuracy_10fold`).  With a
demographics file (identity -> group), it also reports per-group FMR / FNMR
at one threshold shared by all groups
(:func:`fairvision.metrics.pair_verification_rates`).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from rich.console import Console

from fairvision._io import jsonable, write_csv
from fairvision.data import FaceSet, read_pairs
from fairvision.data.torch_dataset import input_images
from fairvision.data.folders import _read_demographics
from fairvision.errors import ConfigError, DatasetError
from fairvision.metrics import pair_verification_rates, verification_accuracy_10fold
from fairvision.models import embed
from fairvision.train.evaluate import _locate, load_trained_model
from fairvision.train.step import autocast, resolve_device

__all__ = ["evaluate_pairs"]


def _image_table(pairs: pd.DataFrame, root: Path) -> tuple[FaceSet, np.ndarray, np.ndarray]:
    """The distinct images of the pairs (checked to exist) and each pair's two rows in that table."""
    source = pairs.attrs.get("source", "pair file")
    names = pd.unique(np.concatenate([pairs["first"].to_numpy(), pairs["second"].to_numpy()]))
    row_of = {n: i for i, n in enumerate(names)}
    identity_of: dict[str, str] = {}
    for row in pairs[["first", "identity_first", "second", "identity_second", "line"]].itertuples(index=False):
        for name, who in ((row[0], row[1]), (row[2], row[3])):
            if name not in identity_of:
                path = root / name
                if not path.is_file():
                    raise DatasetError(f"{source}, line {row[4]}: image {path} not found")
                identity_of[name] = who
    frame = pd.DataFrame(
        {
            "path": pd.Series([str(root / n) for n in names], dtype="str"),
            "identity": pd.Series([identity_of[n] for n in names], dtype="str"),
        }
    )
    first = np.array([row_of[n] for n in pairs["first"]], dtype=np.int64)
    second = np.array([row_of[n] for n in pairs["second"]], dtype=np.int64)
    return FaceSet(frame, name=Path(source).stem), first, second


def _groups(pairs: pd.DataFrame, demographics: str | os.PathLike, group_column: str) -> tuple[np.ndarray, np.ndarray]:
    path, demo = _read_demographics(demographics, group_column)
    if group_column not in demo.columns:
        raise DatasetError(f"{path}: no column {group_column!r} (columns: {', '.join(c for c in demo.columns if c != 'identity')})")
    group_of = dict(zip(demo["identity"].astype(str), demo[group_column]))
    out = []
    for col in ("identity_first", "identity_second"):
        values = []
        for who, line in zip(pairs[col], pairs["line"]):
            g = group_of.get(str(who))
            if g is None or (isinstance(g, float) and np.isnan(g)):
                raise DatasetError(
                    f"{path}: no {group_column!r} for identity {who!r} (pair file {pairs.attrs.get('source')}, line {line})"
                )
            values.append(str(g))
        out.append(np.asarray(values, dtype=object))
    return out[0], out[1]


def evaluate_pairs(
    source: str | Path,
    pairs_file: str | os.PathLike,
    images_root: str | os.PathLike,
    *,
    format: str = "auto",
    demographics: str | os.PathLike | None = None,
    group_column: str = "group",
    target_fmr: float | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    scores_out: str | os.PathLike | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """1:1 verification accuracy (10-fold protocol) of a trained run on a benchmark's pair list.

    Args:
        source: a run folder or ``checkpoint.pt``.
        pairs_file: LFW ``pairs.txt`` or CALFW / CPLFW ``pairs_*.txt`` (see :func:`fairvision.data.read_pairs`).
        images_root: the folder the pair file's image paths are relative to (LFW: the folder of
            ``<name>/<name>_<nnnn>.jpg``; CALFW / CPLFW: ``aligned images``).
        format: ``auto``, ``lfw``, ``calfw`` or ``cplfw``.
        demographics: optional FR-NAS JSON (group -> identities) or CSV (identity column + attributes)
            giving each identity's group; adds per-group FMR / FNMR.
        group_column: the demographics column (CSV) or the name given to the JSON's groups.
        target_fmr: the shared threshold of the per-group rates gives this FMR over all different-person
            pairs; default the threshold of best accuracy over all pairs.
        scores_out: optional CSV of every pair with its score (``first, second, same, fold, score``).

    Returns ``pairs``, ``same_pairs``, ``folds``, ``accuracy`` (mean over folds), ``accuracy_std``
    (ddof=0), ``fold_accuracies``, ``fold_thresholds``, ``images``, ``epoch``, ``status``, ``format``,
    and with demographics ``groups`` (per group ``genuine_pairs``, ``impostor_pairs``, ``FNMR``,
    ``FMR`` and their ratios to the first group), ``threshold``, ``threshold_rule``,
    ``FMR_max_over_geomean``, ``FNMR_max_over_geomean``.  A diverged run (or non-finite
    embeddings) gives ``status: diverged`` and accuracy null.
    """
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1
    ):
        raise ConfigError(f"batch_size: must be a whole number >= 1, got {batch_size}")
    pairs = read_pairs(pairs_file, format=format)
    root = Path(images_root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root}: image folder not found")
    faces, first, second = _image_table(pairs, root)
    groups = _groups(pairs, demographics, group_column) if demographics is not None else None
    ckpt, _ = _locate(source)
    dev = resolve_device(device)
    model, cfg, state = load_trained_model(ckpt, device=dev)
    base: dict[str, Any] = {
        "pairs_file": str(pairs_file),
        "format": pairs.attrs["format"],
        "pairs": len(pairs),
        "same_pairs": int(pairs["same"].sum()),
        "folds": int(pairs["fold"].nunique()),
        "images": len(faces),
        "epoch": int(state["epoch"]) - 1,
        "status": state["status"],
    }
    diverged = {"accuracy": None, "accuracy_std": None, "fold_accuracies": [], "fold_thresholds": []}
    if state["status"] == "diverged":
        return {**base, **diverged}
    data = input_images(faces, size=cfg.data.image_size, resize=cfg.task.resize_to(cfg.data.image_size))
    cuda = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda), autocast(dev, cfg.train.precision):
        emb = embed(model, data, batch_size=batch_size or cfg.train.eval_batch_size, device=dev,
                    num_workers=cfg.data.num_workers)
    if not np.isfinite(emb).all() or (np.linalg.norm(emb, axis=1) == 0).any():
        return {**base, **diverged, "status": "diverged"}
    emb = emb.astype(np.float64)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    scores = np.einsum("nd,nd->n", emb[first], emb[second])
    same = pairs["same"].to_numpy(bool)
    folds = pairs["fold"].to_numpy()
    result = {**base, **verification_accuracy_10fold(scores, same, folds).to_dict()}
    if groups is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = pair_verification_rates(scores, same, groups[0], groups[1], target_fmr=target_fmr)
        result["groups"] = {str(g): {c: jsonable(table.at[g, c]) for c in table.columns} for g in table.index}
        result.update(
            group_column=group_column,
            threshold=jsonable(table.attrs["threshold"]),
            threshold_rule=table.attrs["threshold_rule"],
            FMR_max_over_geomean=jsonable(table.attrs["FMR_max_over_geomean"]),
            FNMR_max_over_geomean=jsonable(table.attrs["FNMR_max_over_geomean"]),
        )
    if scores_out is not None:
        out = pairs[["first", "second", "same", "fold"]].copy()
        out["score"] = scores
        write_csv(scores_out, out)
    if console is not None:
        console.print(
            f"{pairs.attrs['source']}: {len(pairs)} pairs, {result['folds']} folds, accuracy "
            f"{result['accuracy']:.4f} ± {result['accuracy_std']:.4f}"
        )
        for g, row in result.get("groups", {}).items():
            console.print(f"  {g}: FNMR {row['FNMR']}, FMR {row['FMR']} (threshold {result['threshold']})")
    return result
