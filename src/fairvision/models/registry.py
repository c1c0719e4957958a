"""Model registry and factory, in the manner of ``timm.create_model``.

:func:`create_model` builds a face-recognition *backbone*: a module mapping
images ``(B, 3, H, W)`` to unnormalised embeddings ``(B, embedding_dim)``.
A name is looked up first in :data:`MODELS`, fairvision's own models (a
:class:`fairvision.registry.Registry`; :func:`register_model` adds one; built in:
``"frnas_dpn"``, the FR-NAS search-space network, registered explicitly at the
end of this module), then among timm's architectures, which are wrapped by
:class:`fairvision.models.backbones.TimmBackbone` (features + a
Linear/BatchNorm1d embedding layer).

Each registered builder declares its own default ``embedding_dim`` (1000 for
``frnas_dpn``, as in FR-NAS); timm backbones default to 512.  Passing
``embedding_dim`` explicitly overrides the default for any model.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import numbers
from typing import Any, Callable

import torch

from fairvision.errors import ConfigError, show_value
from fairvision.models.backbones import TimmBackbone
from fairvision.models.dpn import frnas_dpn
from fairvision.registry import Registry

__all__ = ["MODELS", "register_model", "list_models", "is_model", "create_model", "TIMM_DEFAULT_EMBEDDING_DIM"]

TIMM_DEFAULT_EMBEDDING_DIM = 512  #: default embedding size of timm backbones

#: fairvision's own models: builders ``fn(*, embedding_dim=..., **kwargs) -> nn.Module``.
MODELS: Registry[Callable[..., torch.nn.Module]] = Registry("model")
#: Decorator ``@register_model(name)`` adding a builder to :data:`MODELS` (timm's spelling of ``MODELS.register``).
register_model = MODELS.register


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted names of fairvision's own registered models, optionally filtered by a glob ``pattern``.

    timm's architectures are not listed here; use ``timm.list_models()`` for those.
    """
    names = sorted(MODELS.names())
    if pattern is not None:
        names = [n for n in names if fnmatch.fnmatch(n.lower(), pattern.lower())]
    return names


def _timm():
    from fairvision._compat import import_timm

    return import_timm()


def _is_timm_model(name: str) -> bool:
    if ":" in name:  # hf-hub: / local-dir: names would fetch a config or weights
        return False
    return bool(_timm().is_model(name))


def is_model(name: str) -> bool:
    """True if ``name`` is a fairvision model or a timm architecture (a ``.tag`` suffix is allowed for timm)."""
    return name in MODELS or _is_timm_model(name)


def _unknown(name: str) -> ConfigError:
    candidates = list_models() + list(_timm().list_models())
    close = difflib.get_close_matches(name.lower(), candidates, n=5, cutoff=0.6)
    hint = f" Close matches: {', '.join(close)}." if close else ""
    return ConfigError(
        f"unknown model {name!r}.{hint} Pick one of fairvision's models {list_models()} "
        f"or a timm architecture from timm.list_models()."
    )


def create_model(name: str, *, embedding_dim: int | None = None, **kwargs: Any) -> torch.nn.Module:
    """Build the backbone ``name``; its ``forward(x[B,3,H,W])`` returns unnormalised ``[B, embedding_dim]``.

    ``embedding_dim=None`` uses the model's default (512 for timm backbones,
    1000 for ``frnas_dpn``).  Other keyword arguments go to the registered
    builder (``frnas_dpn``: ``edges``, ``width``) or to ``timm.create_model``
    (e.g. ``img_size``, ``drop_rate``).  Weights are always randomly
    initialised: ``pretrained=True`` is refused, nothing is downloaded.
    Raises :class:`~fairvision.errors.ConfigError` for an unknown name or bad arguments.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"model name must be a non-empty string, got {name!r}")
    if embedding_dim is not None and (
        isinstance(embedding_dim, bool) or not isinstance(embedding_dim, numbers.Integral) or embedding_dim < 1
    ):
        raise ConfigError(f"embedding_dim must be a positive integer, got {show_value(embedding_dim)}")
    if kwargs.pop("pretrained", False):
        raise ConfigError(
            f"create_model({name!r}, pretrained=True): pretrained weights are not supported; "
            "fairvision trains from scratch and never downloads weights "
            "(timm's checkpoint_path=... loads a local file)"
        )
    dim_kw = {} if embedding_dim is None else {"embedding_dim": embedding_dim}
    if name in MODELS:
        builder = MODELS.get(name)
        try:
            inspect.signature(builder).bind(**dim_kw, **kwargs)
        except TypeError as exc:
            raise ConfigError(f"bad arguments for model {name!r}: {exc}") from exc
        return builder(**dim_kw, **kwargs)
    if not _is_timm_model(name):
        raise _unknown(name)
    return TimmBackbone(name, embedding_dim=embedding_dim or TIMM_DEFAULT_EMBEDDING_DIM, **kwargs)


MODELS.register("frnas_dpn", frnas_dpn)
