"""timm architectures as face-recognition backbones.

FR-NAS trains timm architectures from scratch with their classifier removed
and an embedding layer on top.  :class:`TimmBackbone` builds
``timm.create_model(name, pretrained=False, num_classes=0, **timm_kwargs)``
(pooled features, after timm's pre-logits layer if the architecture has one) followed by
``Linear(num_features, embedding_dim, bias=False)`` and
``BatchNorm1d(embedding_dim)``; its output is the unnormalised embedding.
With ``embedding=False`` there is no embedding layer: the output is timm's
pooled features (``embedding_dim = num_features``), as a classifier such as
Iofinova et al.'s ResNet18 (pooled features -> one linear layer) needs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fairvision.errors import ConfigError

__all__ = ["TimmBackbone"]


class TimmBackbone(nn.Module):
    """A timm feature extractor plus an embedding layer; ``forward(x) -> (B, embedding_dim)``.

    Attributes: ``model_name``, ``embedding_dim``, ``num_features`` (width of
    the timm model's output with ``num_classes=0``), ``body`` (the timm model) and ``embedding``
    (``Sequential(Linear, BatchNorm1d)``).
    """

    def __init__(self, name: str, *, embedding_dim: int = 512, embedding: bool = True, **timm_kwargs: Any) -> None:
        super().__init__()
        from fairvision._compat import import_timm

        timm = import_timm()
        if timm_kwargs.pop("pretrained", False):
            raise ConfigError(f"{name!r}: pretrained weights are not supported (nothing is downloaded)")
        if "num_classes" in timm_kwargs:
            raise ConfigError(f"{name!r}: num_classes is fixed to 0 for a backbone; set the head's num_classes instead")
        try:
            body = timm.create_model(name, pretrained=False, num_classes=0, **timm_kwargs)
        except (TypeError, ValueError, AssertionError) as exc:
            # timm raises RuntimeError('Unknown model ...') for bad names; registry checks names first.
            raise ConfigError(f"cannot build timm model {name!r} with {timm_kwargs}: {exc}") from exc
        self.model_name = name
        self.body = body
        # Width of what ``body(x)`` returns: timm's ``head_hidden_size`` where a pre-logits layer follows
        # the pooling (MobileNetV3, GhostNet, VGG: 1024/1280/4096), else ``num_features``.
        self.num_features = int(getattr(body, "head_hidden_size", None) or body.num_features)
        if not embedding:
            self.embedding_dim = self.num_features
            self.embedding = nn.Identity()
            return
        self.embedding_dim = int(embedding_dim)
        self.embedding = nn.Sequential(
            nn.Linear(self.num_features, self.embedding_dim, bias=False),
            nn.BatchNorm1d(self.embedding_dim),
        )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """timm's pooled features, ``(B, num_features)``."""
        f = self.body(x)
        return f.flatten(1) if f.dim() > 2 else f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(self.forward_features(x))
