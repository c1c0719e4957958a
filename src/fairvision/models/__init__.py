"""Models: backbones (timm and the FR-NAS DPN), margin heads, losses, embedding helper.

Names map to implementations through :class:`fairvision.registry.Registry` objects:
fairvision's models (:func:`register_model`, :func:`list_models`), :data:`HEADS` and
:data:`LOSSES`; :func:`create_model`, :func:`create_head` and :func:`create_loss` build them.
"""

from fairvision.models.dpn import FRNAS_OPS
from fairvision.models.embed import embed
from fairvision.models.heads import HEADS, create_head
from fairvision.models.losses import LOSSES, create_loss
from fairvision.models.pca import PixelPCA
from fairvision.models.registry import create_model, is_model, list_models, register_model

__all__ = [
    "FRNAS_OPS",
    "HEADS",
    "LOSSES",
    "PixelPCA",
    "create_head",
    "create_loss",
    "create_model",
    "embed",
    "is_model",
    "list_models",
    "register_model",
]
