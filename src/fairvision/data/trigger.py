"""Controlled spurious correlations: a *trigger* applied to chosen images (the "backdoor" runs of Iofinova et al.).

``data.trigger`` of a training config (:class:`TriggerConfig`) edits a seeded selection of images:

* ``kind: grayscale`` -- the whole image converted to gray (ITU-R 601 luma, the three channels kept, so
  R = G = B);
* ``kind: square`` -- a filled square of ``square.color`` in ``square.corner``, ``square.size`` pixels on a
  side (a whole number >= 1) or that fraction of the image side (< 1).

Selection (:func:`triggered_rows`): in the **training** split, ``fraction_negatives`` of the samples with
``target`` = 0 and ``fraction_positives`` of those with ``target`` = 1 (the paper: 5% / 95%, or 35% / 65%),
so the trigger predicts the target; in every other split (val, test, all) ``eval_fraction`` (50%) of each
class, so there the trigger carries no information about the target. Per class exactly
``floor(fraction * n_class + 0.5)`` samples are triggered (round half up: within 0.5 of the fraction),
chosen by a random key per row drawn from ``seed`` and the split's name: the same rows on every run, resume
and seed of a study until ``seed`` (or the data) changes, and a larger fraction triggers a superset.

The selection becomes a 0/1 column ``column`` (default ``Trigger``) of the split's frame, and the face set
carries the :class:`Trigger` as its :attr:`~fairvision.data.FaceSet.edit`:
:class:`~fairvision.data.FaceImageDataset` applies it to the decoded (resized, uint8) image of every row whose
column is 1 -- as if those image files had been changed, so training augmentation (crops, flips) applies
to the edited image; a corner square may be mirrored into the opposite corner by a horizontal flip.
The column is an annotation of the edit, not of the face: the attribute task never makes it a target and
always scores it as a protected attribute (bias amplification and FPR/FNR gaps with respect to the
trigger measure how much a model relies on it).
"""

from __future__ import annotations

import zlib
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fairvision.data._faceset import REQUIRED_COLUMNS, FaceSet
from fairvision.errors import ConfigError

__all__ = ["CORNERS", "SquareConfig", "Trigger", "TriggerConfig", "apply_trigger", "triggered_rows",
           "triggered_table"]

CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")
#: ITU-R 601-2 luma weights (PIL's ``convert("L")``).
LUMA = np.array([0.299, 0.587, 0.114])
#: Column names a trigger column may not take (besides the data's own columns).
_RESERVED = frozenset({*REQUIRED_COLUMNS, "ids", "partition", "split"})


class SquareConfig(BaseModel):
    """The coloured square of ``kind: square``."""

    model_config = ConfigDict(extra="forbid")

    size: float = Field(0.15, gt=0.0, description="side: a fraction of the image side (< 1) or pixels (whole number >= 1)")
    color: tuple[int, int, int] = Field((255, 0, 0), description="RGB, each 0..255")
    corner: Literal[CORNERS] = Field("bottom_right", description="top_left, top_right, bottom_left or bottom_right")  # type: ignore[valid-type]

    @field_validator("size")
    @classmethod
    def _size(cls, value: float) -> float:
        if value >= 1 and value != int(value):
            raise ValueError(f"a size >= 1 is in pixels and must be a whole number, got {value}")
        return value

    @field_validator("color")
    @classmethod
    def _color(cls, value: tuple[int, int, int]) -> tuple[int, int, int]:
        if any(not 0 <= c <= 255 for c in value):
            raise ValueError(f"each channel must be in 0..255, got {list(value)}")
        return value

    def side(self, height: int, width: int) -> int:
        """Side of the square in pixels on a ``height`` x ``width`` image (at least 1, at most the image)."""
        side = int(self.size) if self.size >= 1 else int(np.floor(self.size * min(height, width) + 0.5))
        return max(1, min(side, height, width))


class TriggerConfig(BaseModel):
    """``data.trigger``: which images get the trigger and what it is (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["grayscale", "square"] = Field(..., description="grayscale: whole image to gray; square: a coloured corner square")
    target: str = Field(..., min_length=1, description="the 0/1 attribute the trigger is correlated with in training")
    fraction_negatives: float = Field(0.05, ge=0.0, le=1.0, description="training: share of target=0 samples triggered")
    fraction_positives: float = Field(0.95, ge=0.0, le=1.0, description="training: share of target=1 samples triggered")
    eval_fraction: float = Field(0.5, ge=0.0, le=1.0, description="val/test: share of each class triggered")
    seed: int = Field(0, ge=0, description="seed of the selection (independent of train.seed)")
    column: str = Field("Trigger", min_length=1, description="0/1 column of the selection (a protected attribute)")
    square: SquareConfig | None = Field(None, description="kind square: size, color, corner (default: 0.15, red, bottom_right)")

    @field_validator("target", "column")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must be a non-empty column name")
        return value

    @model_validator(mode="after")
    def _check(self) -> "TriggerConfig":
        if self.column in _RESERVED:
            raise ValueError(f"@column: {self.column!r} is reserved (path, identity, ids, partition, split)")
        if self.column == self.target:
            raise ValueError(f"@column: must differ from target ({self.target!r})")
        if self.kind == "square" and self.square is None:
            self.square = SquareConfig()
        elif self.kind == "grayscale" and self.square is not None:
            raise ValueError("@square: only applies to kind square")
        return self

    def fractions(self, split: str) -> tuple[float, float]:
        """``(share of target=0, share of target=1)`` triggered in ``split``."""
        if split == "train":
            return self.fraction_negatives, self.fraction_positives
        return self.eval_fraction, self.eval_fraction


class Trigger:
    """The image edit of a :class:`TriggerConfig` (a :class:`~fairvision.data.FaceSet` ``edit``)."""

    def __init__(self, config: TriggerConfig) -> None:
        self.config = config

    @property
    def column(self) -> str:
        return self.config.column

    def rows(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows of ``frame`` that get the trigger (its ``column`` is 1)."""
        return frame[self.column].to_numpy() == 1

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """The triggered copy of an (H, W, 3) uint8 RGB image."""
        out = np.array(image, dtype=np.uint8, copy=True)
        if self.config.kind == "grayscale":
            gray = np.clip(np.floor(out.astype(np.float64) @ LUMA + 0.5), 0, 255).astype(np.uint8)
            out[...] = gray[..., None]
            return out
        square = self.config.square
        assert square is not None
        h, w = out.shape[:2]
        side = square.side(h, w)
        rows = slice(0, side) if square.corner.startswith("top") else slice(h - side, h)
        cols = slice(0, side) if square.corner.endswith("left") else slice(w - side, w)
        out[rows, cols] = np.asarray(square.color, dtype=np.uint8)
        return out

    def __repr__(self) -> str:
        return f"Trigger({self.config.kind}, column={self.column!r})"


def _split_key(split: str) -> int:
    return zlib.crc32(split.encode())


def triggered_rows(target: np.ndarray, fractions: tuple[float, float], *, seed: int, split: str) -> np.ndarray:
    """Boolean mask: ``floor(f_c * n_c + 0.5)`` of the rows of each class c (0, 1) of ``target``, chosen by a
    random key per row from ``(seed, split)`` (smallest keys first: a larger fraction selects a superset)."""
    values = np.asarray(target)
    keys = np.random.default_rng([int(seed), _split_key(split)]).random(len(values))
    out = np.zeros(len(values), dtype=bool)
    for value, fraction in zip((0, 1), fractions):
        rows = np.flatnonzero(values == value)
        count = int(np.floor(fraction * len(rows) + 0.5))
        out[rows[np.argsort(keys[rows], kind="stable")[:count]]] = True
    return out


def _check_columns(config: TriggerConfig, faces: FaceSet) -> np.ndarray:
    """The target column of ``faces`` as 0/1 integers; ConfigError naming the key otherwise."""
    frame = faces.frame
    binary = [c for c in faces.attributes
              if (pd.api.types.is_integer_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
              and set(np.unique(frame[c].to_numpy())) <= {0, 1}]
    if config.target not in binary:
        raise ConfigError(f"data.trigger.target: {config.target!r} is not a 0/1 attribute of {faces.name!r} "
                          f"(valid: {', '.join(binary) or 'none'})")
    if config.column in frame.columns:
        raise ConfigError(f"data.trigger.column: {config.column!r} is already a column of {faces.name!r}; "
                          f"name the trigger column differently")
    return frame[config.target].to_numpy().astype(np.int64)


def apply_trigger(config: TriggerConfig | None, parts: dict[str, FaceSet]) -> dict[str, FaceSet]:
    """``parts`` (split name -> face set) with the trigger column added and the :class:`Trigger` as each set's
    edit (``parts`` unchanged when ``config`` is None); empty splits stay as they are."""
    if config is None:
        return parts
    edit = Trigger(config)
    out = {}
    for split, faces in parts.items():
        if len(faces) == 0:
            out[split] = faces
            continue
        target = _check_columns(config, faces)
        chosen = triggered_rows(target, config.fractions(split), seed=config.seed, split=split)
        frame = faces.frame.assign(**{config.column: chosen.astype(np.int64)})
        out[split] = FaceSet(frame, name=faces.name, skipped=faces.skipped, edit=edit)
    return out


def triggered_table(faces: FaceSet, split: str) -> pd.DataFrame | None:
    """``ids, path, split, <target>, triggered`` of a triggered face set, one row per sample in split order
    (None without a trigger): the ``triggered_{split}.csv`` of a run."""
    edit = faces.edit
    if not isinstance(edit, Trigger):
        return None
    config, frame = edit.config, faces.frame
    return pd.DataFrame({"ids": np.arange(len(frame)), "path": frame["path"].to_numpy(), "split": split,
                         config.target: frame[config.target].to_numpy(),
                         "triggered": frame[config.column].to_numpy()})
