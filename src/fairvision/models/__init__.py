"""Models: backbones (timm and the FR-NAS DPN), margin heads, losses, embedding helper."""

from fairvision.models.dpn import FRNAS_OPS
from fairvision.models.embed import embed
from fairvision.models.heads import create_head
from fairvision.models.losses import create_loss
from fairvision.models.pca import PixelPCA
from fairvision.models.registry import create_model, is_model, list_models, register_model

__all__ = [
    "FRNAS_OPS",
    "PixelPCA",
    "create_head",
    "create_loss",
    "create_model",
    "embed",
    "is_model",
    "list_models",
    "register_model",
]
