"""A fixed, training-free feature extractor: PCA of raw pixels.

Used by the demo and as a sanity baseline: it needs no training, so any
identification gap between groups comes from the data, not from a model.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PixelPCA"]


class PixelPCA(nn.Module):
    """Projects flattened, centred pixels onto the top principal components."""

    def __init__(self, mean: torch.Tensor, components: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("components", components)  # (k, C*H*W)

    @classmethod
    def fit(cls, images: torch.Tensor, *, dim: int = 64, flip: bool = True) -> "PixelPCA":
        """Fit on (N, C, H, W) images (with their mirrors if ``flip``), keeping ``dim`` components."""
        x = images.flatten(1).double()
        if flip:
            x = torch.cat([x, torch.flip(images, dims=[3]).flatten(1).double()])
        mean = x.mean(0)
        k = min(dim, x.shape[0] - 1, x.shape[1])
        if k < 1:
            raise ValueError("PCA needs at least two images")
        _, _, v = torch.linalg.svd(x - mean, full_matrices=False)
        return cls(mean.float(), v[:k].float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1) - self.mean) @ self.components.T
