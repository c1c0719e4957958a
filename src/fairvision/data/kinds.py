"""The data set kinds a config can name (``data.kind``): how each is loaded and what its config may hold.

:data:`DATA_KINDS` is the one place the names live: the training config
validates ``data.kind`` against it and takes the default group column from it,
and :func:`fairvision.train.data.load_faces` loads through it.  A new kind is
one ``DATA_KINDS.register(name, DataKind(...))`` call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from fairvision.data._faceset import FaceSet
from fairvision.data.agedb import AGEDB_BINS, load_agedb
from fairvision.data.celeba import load_celeba
from fairvision.data.folders import load_identity_folders, load_rfw
from fairvision.data.vggface2 import load_vggface2
from fairvision.errors import ConfigError, DatasetError
from fairvision.registry import Registry

__all__ = ["DATA_KINDS", "DataKind", "Loader", "RFW_MAX_IMAGES_PER_GROUP"]


class Loader(Protocol):
    """``load(root, *, group_column, demographics, which) -> FaceSet``; ``which`` is ``"all"`` or ``"test"``."""

    def __call__(self, root: Path, *, group_column: str, demographics: Path | None, which: str) -> FaceSet: ...


@dataclass(frozen=True)
class DataKind:
    """A loadable kind of data set.

    Attributes:
        load: the loader (see :class:`Loader`).
        group_column: default demographic column scored by the fairness metrics.
        official_partition: has an official train/val/test partition (``data.partition: official``).
        demographics: takes a separate demographics file (``data.demographics``).
        generated: generated from ``data.synthetic`` into a cache folder (``data.root`` optional).
        eval_protocol: the kind's defaults of ``data.eval_protocol`` keys that an evaluation data spec
            leaves unset (:func:`fairvision.train.evaluate`; e.g. RFW's FR-NAS cap of 8,327 images per
            race); ``None``: no eval protocol unless the spec sets one (the group varies within an identity).
    """

    load: Loader
    group_column: str
    official_partition: bool = False
    demographics: bool = False
    generated: bool = False
    eval_protocol: dict[str, Any] | None = field(default_factory=dict)


#: Data set kinds by name.
DATA_KINDS: Registry[DataKind] = Registry("data kind")


def _synthetic(root: Path, *, group_column: str, demographics: Path | None, which: str) -> FaceSet:
    faces = load_identity_folders(root / "images", demographics=root / "demographics.csv", name="synthetic")
    per_image = root / "attributes.csv"
    if not per_image.is_file():
        return faces
    # the per-image CelebA-named attributes (Smiling, Eyeglasses, ...), joined by path in the set's order
    table = pd.read_csv(per_image)
    table.index = [str(root / p) for p in table["path"]]
    extra = [c for c in table.columns if c not in faces.frame.columns]
    frame = faces.frame.copy()
    try:
        for col in extra:
            frame[col] = table.loc[frame["path"].to_numpy(), col].to_numpy()
    except KeyError as exc:
        raise DatasetError(f"{per_image}: no row for image {exc.args[0]}") from None
    return FaceSet(frame, name=faces.name, skipped=faces.skipped)


def _folders(root: Path, *, group_column: str, demographics: Path | None, which: str) -> FaceSet:
    return load_identity_folders(root, demographics=demographics, group_column=group_column)


def _celeba(root: Path, *, group_column: str, demographics: Path | None, which: str) -> FaceSet:
    return load_celeba(root, split="all")


def _vggface2(root: Path, *, group_column: str, demographics: Path | None, which: str) -> FaceSet:
    return load_vggface2(root, split="test" if which == "test" else "train")


def _rfw(root: Path, *, group_column: str, demographics: Path | None, which: str) -> FaceSet:
    return load_rfw(root, group_column=group_column)


def _agedb(root: Path, *, group_column: str, demographics: Path | None, which: str) -> FaceSet:
    # ``age_group`` (default bins) or ``age_group:0,20,40,60,110`` (bin edges): the column keeps that name
    name, sep, edges = group_column.partition(":")
    if name.strip() != "age_group":
        return load_agedb(root)  # e.g. gender: the default age bins are still there
    try:
        return load_agedb(root, bins=edges if sep else AGEDB_BINS, group_column=group_column)
    except ValueError as exc:
        if isinstance(exc, DatasetError):
            raise
        raise ConfigError(f"data.group_column: {group_column!r}: {exc}") from None


#: FR-NAS's RFW protocol: at most 8,327 images per race (their smallest race's image count).
RFW_MAX_IMAGES_PER_GROUP = 8327

DATA_KINDS.register("synthetic", DataKind(_synthetic, "group", generated=True))
DATA_KINDS.register("folders", DataKind(_folders, "group", demographics=True))
DATA_KINDS.register("celeba", DataKind(_celeba, "Male", official_partition=True))
DATA_KINDS.register("vggface2", DataKind(_vggface2, "gender", official_partition=True))
DATA_KINDS.register("rfw", DataKind(_rfw, "race", eval_protocol={"max_images_per_group": RFW_MAX_IMAGES_PER_GROUP}))
DATA_KINDS.register("agedb", DataKind(_agedb, "age_group", eval_protocol=None))
