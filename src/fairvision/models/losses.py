"""Classification losses applied to a head's logits.

* ``"ce"``: cross-entropy, ``mean_i -log p_i`` (``p_i`` = softmax probability of the true class);
* ``"focal"``: focal loss (Lin et al. 2017), ``mean_i (1 - p_i)^gamma * -log p_i``, i.e. FR-NAS's
  ``FocalLoss(elementwise=True)``; FR-NAS's default ``gamma = 2``; ``gamma = 0`` is cross-entropy.  The
  shipped FR-NAS configs use it: the factor down-weights each easy sample, which is what a focal loss is for;
* ``"focal_batch"``: FR-NAS's own ``FocalLoss()`` default (``elementwise=False``),
  which applies the focal factor to the *batch-mean* cross-entropy ``L``:
  ``(1 - exp(-L))^gamma * L`` (one factor for the whole batch).  Kept for exact reproduction;
* ``"bce"``: multi-label binary cross-entropy on logits ``(B, A)`` against 0/1 targets ``(B, A)``, the mean
  over all B x A entries (``binary_cross_entropy_with_logits``; attribute classification).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from fairvision.errors import ConfigError
from fairvision.registry import Registry

__all__ = ["BCEWithLogitsLoss", "CrossEntropyLoss", "FocalLoss", "LOSSES", "create_loss"]


class CrossEntropyLoss(nn.Module):
    """Mean cross-entropy of ``logits (B, C)`` against integer ``labels (B,)``."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels.long())


class BCEWithLogitsLoss(nn.Module):
    """Mean binary cross-entropy of ``logits (B, A)`` against 0/1 ``targets (B, A)`` (multi-label)."""

    multilabel = True  # targets are (B, A) 0/1 matrices, not class indices

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype))


class FocalLoss(nn.Module):
    """Focal loss ``mean_i (1 - p_i)^gamma * CE_i``; ``per_sample=False`` gives FR-NAS's batch-level variant."""

    def __init__(self, gamma: float = 2.0, *, per_sample: bool = True) -> None:
        super().__init__()
        if gamma < 0:
            raise ConfigError(f"focal loss gamma must be >= 0, got {gamma}")
        self.gamma = float(gamma)
        self.per_sample = bool(per_sample)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        ce = F.cross_entropy(logits, labels.long(), reduction="none" if self.per_sample else "mean")
        p = torch.exp(-ce)
        return ((1.0 - p).pow(self.gamma) * ce).mean()

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, per_sample={self.per_sample}"


#: Loss builders ``fn(*, gamma) -> nn.Module`` by name (case-insensitive); ``@LOSSES.register(name)`` adds one.
LOSSES: Registry[Callable[..., nn.Module]] = Registry("loss")


@LOSSES.register("ce", aliases=("cross_entropy", "crossentropy"))
def _cross_entropy(*, gamma: float = 2.0) -> nn.Module:
    return CrossEntropyLoss()  # gamma only applies to the focal losses


@LOSSES.register("focal")
def _focal(*, gamma: float = 2.0) -> nn.Module:
    return FocalLoss(gamma)


@LOSSES.register("focal_batch")
def _focal_batch(*, gamma: float = 2.0) -> nn.Module:
    return FocalLoss(gamma, per_sample=False)


@LOSSES.register("bce", aliases=("binary_cross_entropy",))
def _bce(*, gamma: float = 2.0) -> nn.Module:
    return BCEWithLogitsLoss()


def create_loss(name: str = "ce", *, gamma: float = 2.0) -> nn.Module:
    """The loss ``name`` of :data:`LOSSES`: ``"ce"`` (cross-entropy), ``"focal"`` (focal loss with ``gamma``)
    or ``"focal_batch"`` (FR-NAS's variant).

    ``forward(logits, labels)`` returns a scalar.  Names are case-insensitive;
    an unknown name raises :class:`~fairvision.errors.ConfigError`.
    """
    return LOSSES.get(name)(gamma=gamma)
