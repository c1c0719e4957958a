"""Models: embedding helper and feature extractors."""

from fairvision.models.embed import embed
from fairvision.models.pca import PixelPCA

__all__ = ["PixelPCA", "embed"]
