"""``GroupMarginCosFace``: a CosFace head with one margin per demographic group (the *angular* baseline)."""

from __future__ import annotations

from typing import Sequence

import torch

from fairvision.errors import ConfigError
from fairvision.models.heads import MarginHead

__all__ = ["GroupMarginCosFace"]


class GroupMarginCosFace(MarginHead):
    """CosFace with a margin per group: the target logit of a row of group ``g`` is ``s * (cos - margins[g])``.

    ``forward(embeddings, labels, groups=...)`` needs the rows' group codes (``uses_groups``: the training step
    passes them). The margins are a non-persistent buffer, so the state dict is CosFace's (``weight``): a
    checkpoint loads into a plain :class:`~fairvision.models.CosFace` and back (``train.init_from``, evaluation).
    """

    uses_groups = True

    def __init__(self, embedding_dim: int, num_classes: int, *, margins: Sequence[float], s: float = 64.0) -> None:
        super().__init__(embedding_dim, num_classes)
        if len(margins) < 1:
            raise ConfigError("GroupMarginCosFace: needs one margin per group")
        self.s = float(s)
        self.register_buffer("margins", torch.tensor([float(m) for m in margins]), persistent=False)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor,
                groups: torch.Tensor | None = None) -> torch.Tensor:
        labels = self._check(embeddings, labels)
        if groups is None:
            raise ValueError("GroupMarginCosFace: needs the group of every row (groups=...)")
        groups = groups.reshape(-1).long()
        if groups.shape != labels.shape:
            raise ValueError(f"GroupMarginCosFace: {groups.shape[0]} groups for {labels.shape[0]} embeddings")
        cos = self.cosine(embeddings)
        margin = self.margins.to(cos.dtype)[groups]
        target = cos.gather(1, labels[:, None]) - margin[:, None]
        return self.s * self._with_target(cos, labels, target)

    def extra_repr(self) -> str:
        return (f"embedding_dim={self.embedding_dim}, num_classes={self.num_classes}, s={self.s}, "
                f"margins={[round(float(m), 6) for m in self.margins]}")
