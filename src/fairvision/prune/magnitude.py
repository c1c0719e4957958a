"""Unstructured magnitude pruning with ``torch.nn.utils.prune``: the layers in scope, the pruning, the measurement.

A pruned layer carries ``torch.nn.utils.prune``'s re-parametrisation: the parameter ``weight_orig``, the
buffer ``weight_mask`` (1 = kept, 0 = pruned) and a forward pre-hook that sets ``weight = weight_orig *
weight_mask`` before every forward. Pruning only ever adds zeros to a mask, so the sparsity of a layer
(the fraction of its mask that is 0) is *cumulative*: :func:`magnitude_prune` brings it to the requested
level, counting what earlier calls pruned.

Scopes (:data:`PRUNERS`, names of ``prune.scope``):

* ``global`` -- one magnitude threshold over all layers in scope
  (``prune.global_unstructured`` with ``L1Unstructured``): exactly ``round(s * total)`` weights are masked;
  layers end at different sparsities;
* ``layerwise`` -- every layer separately to ``s`` (``prune.l1_unstructured``): exactly
  ``round(s * n_layer)`` weights of each layer are masked.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import torch
from torch import nn
from torch.nn.utils import prune

from fairvision.errors import ConfigError
from fairvision.models.heads import LinearHead
from fairvision.registry import Registry

__all__ = [
    "LINEAR_TYPES",
    "PRUNABLE_TYPES",
    "PRUNERS",
    "PrunableLayers",
    "apply_masks",
    "enforce_masks",
    "get_masks",
    "is_pruned",
    "magnitude_prune",
    "prunable_modules",
    "sparsity_report",
]

#: Linear layers: ``nn.Linear`` and fairvision's classifier head ``Linear`` (a linear map with a ``weight``).
LINEAR_TYPES: tuple[type[nn.Module], ...] = (nn.Linear, LinearHead)
#: Layer types whose ``weight`` is pruned (never biases, never norm layers).
PRUNABLE_TYPES: tuple[type[nn.Module], ...] = (nn.Conv1d, nn.Conv2d, nn.Conv3d, *LINEAR_TYPES)

#: ``[(qualified_name, module), ...]``: the layers a pruning method works on.
PrunableLayers = Sequence[tuple[str, nn.Module]]

#: Pruning scopes by name: ``fn(layers, sparsity)`` brings the layers' cumulative sparsity to ``sparsity``.
PRUNERS: Registry[Callable[[PrunableLayers, float], None]] = Registry("pruning scope")


# --------------------------------------------------------------------------- scope


def _layers_of(module: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    """Prunable layers of ``module`` named ``prefix.name`` (the module itself: ``prefix``)."""
    return [(f"{prefix}.{name}" if prefix and name else prefix or name, m)
            for name, m in module.named_modules() if isinstance(m, PRUNABLE_TYPES)]


def _last_layer(layers: Sequence[tuple[str, nn.Module]]) -> str | None:
    """Name of the last linear layer (registration order); the last conv/linear if there is none."""
    linear = [name for name, m in layers if isinstance(m, LINEAR_TYPES)]
    if linear:
        return linear[-1]
    return layers[-1][0] if layers else None


def prunable_modules(
    model: nn.Module, head: nn.Module | None = None, *, exclude_first_last: bool = False
) -> list[tuple[str, nn.Module]]:
    """Every ``Conv1d/2d/3d`` and linear layer (``nn.Linear``, the ``Linear`` classifier head) of ``model``
    and of ``head`` (named ``head.<name>``, or ``head`` for the head itself), in registration order; their
    ``weight`` is what gets pruned.

    ``exclude_first_last`` leaves out the *first* layer (the first conv/linear of ``model``) and the *last*
    one: the last linear layer of ``head`` if it has any, else the last linear layer of ``model``; without
    any, the last conv (e.g. ``frnas_dpn``'s 1x1-conv classifier, a linear map of the pooled features). By
    default both are pruned, as in Iofinova et al. (2023). Margin heads (CosFace, ...) hold class centres,
    not a linear layer: they are never pruned.
    """
    own = _layers_of(model)
    extra = _layers_of(head, "head") if head is not None else []
    names = [n for n, _ in own]
    clash = sorted(set(names) & {n for n, _ in extra})
    if clash:
        raise ConfigError(f"prunable_modules: the model already has layers named {clash}; cannot name the head's")
    layers = own + extra
    if not exclude_first_last or not layers:
        return layers
    skip = {own[0][0]} if own else set()
    last = _last_layer(extra) if any(isinstance(m, LINEAR_TYPES) for _, m in extra) else _last_layer(own)
    if last is not None:
        skip.add(last)
    return [(n, m) for n, m in layers if n not in skip]


# --------------------------------------------------------------------------- masks


def is_pruned(module: nn.Module) -> bool:
    """True if ``module.weight`` carries a ``torch.nn.utils.prune`` re-parametrisation."""
    return hasattr(module, "weight_mask") and hasattr(module, "weight_orig")


def _effective(module: nn.Module) -> torch.Tensor:
    """The current effective weight, detached. ``module.weight`` of a pruned module is only refreshed by a
    forward pass, so after an optimizer step it is stale; ``weight_orig * weight_mask`` never is."""
    if is_pruned(module):
        return (module.weight_orig * module.weight_mask).detach()
    return module.weight.detach()


def get_masks(layers: PrunableLayers) -> dict[str, torch.Tensor]:
    """``{name: bool mask on the CPU}`` of the pruned layers (True = kept): what a checkpoint saves."""
    return {name: (m.weight_mask != 0).cpu() for name, m in layers if is_pruned(m)}


def apply_masks(layers: PrunableLayers, masks: Mapping[str, torch.Tensor]) -> None:
    """Re-parametrise the named layers with saved ``masks`` (``prune.custom_from_mask``), e.g. before a
    resumed run's state dict (``weight_orig``, ``weight_mask``) loads. ConfigError for a name that is not
    in ``layers`` or a mask of the wrong shape; layers already pruned keep their mask."""
    by_name = dict(layers)
    unknown = sorted(set(masks) - set(by_name))
    if unknown:
        raise ConfigError(f"prune: saved masks name layers that are not in this model's pruning scope: {unknown}")
    for name, mask in masks.items():
        module = by_name[name]
        if tuple(mask.shape) != tuple(module.weight.shape):
            raise ConfigError(f"prune: the saved mask of {name} has shape {tuple(mask.shape)}, "
                              f"the layer's weight {tuple(module.weight.shape)}")
        if not is_pruned(module):
            weight = module.weight
            prune.custom_from_mask(module, "weight", mask.to(device=weight.device, dtype=weight.dtype))


@torch.no_grad()
def enforce_masks(layers: PrunableLayers) -> None:
    """Zero ``weight_orig`` where the mask is 0, so that momentum or weight decay cannot move a pruned
    weight (the effective weight is masked anyway; this keeps ``weight_orig`` equal to it)."""
    for _, module in layers:
        if is_pruned(module):
            module.weight_orig.mul_(module.weight_mask)


# --------------------------------------------------------------------------- pruning


def _target(sparsity: float, n: int) -> int:
    return int(round(sparsity * n))


def _pruned_count(module: nn.Module) -> int:
    return int((module.weight_mask == 0).sum()) if is_pruned(module) else 0


def _check_sparsity(sparsity: float) -> float:
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not 0.0 <= sparsity < 1.0 \
            or not math.isfinite(sparsity):
        raise ConfigError(f"sparsity: must be a number in [0, 1), got {sparsity!r}")
    return float(sparsity)


@PRUNERS.register("global")
def _prune_global(layers: PrunableLayers, sparsity: float) -> None:
    """One threshold over all layers: ``round(s * total)`` weights masked in all."""
    total = sum(m.weight.numel() for _, m in layers)
    already = sum(_pruned_count(m) for _, m in layers)
    extra = _target(sparsity, total) - already
    if extra < 0:
        current = already / total
        raise ConfigError(f"sparsity: {sparsity} is below the current global sparsity {current:.6f}; "
                          "pruning only adds zeros (masks are never undone)")
    if extra == 0 and all(is_pruned(m) for _, m in layers):
        return
    params = [(m, "weight") for _, m in layers]
    # PruningContainer applies `amount` to the weights still unmasked: prune exactly `extra` more of them.
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=extra,
                              importance_scores={(m, "weight"): _effective(m) for _, m in layers})


@PRUNERS.register("layerwise", aliases=("layer-wise", "local"))
def _prune_layerwise(layers: PrunableLayers, sparsity: float) -> None:
    """Every layer separately: ``round(s * n)`` of each layer's ``n`` weights masked (all layers are checked
    before any is pruned)."""
    extras = [_target(sparsity, m.weight.numel()) - _pruned_count(m) for _, m in layers]
    for (name, module), extra in zip(layers, extras):
        if extra < 0:
            current = _pruned_count(module) / module.weight.numel()
            raise ConfigError(f"sparsity: {sparsity} is below the current sparsity {current:.6f} of layer {name}; "
                              "pruning only adds zeros (masks are never undone)")
    for (_, module), extra in zip(layers, extras):
        if extra > 0 or not is_pruned(module):
            prune.l1_unstructured(module, "weight", amount=extra, importance_scores=_effective(module))


def magnitude_prune(layers: PrunableLayers, sparsity: float, *, scope: str = "global") -> None:
    """Bring the *cumulative* sparsity of ``layers``' weights to ``sparsity`` by weight magnitude.

    ``scope``: a name of :data:`PRUNERS` (``global`` or ``layerwise``). Exact: ``global`` masks
    ``round(s * total)`` weights overall, ``layerwise`` ``round(s * n)`` in each layer, counting what is
    masked already (the weights with the smallest ``|weight_orig * weight_mask|`` among the unmasked ones
    are added). Every layer is re-parametrised, even at ``sparsity=0``. A ``sparsity`` below the current
    one is a ConfigError (masks are never undone); the same one is a no-op.
    """
    prune_fn = PRUNERS.get(scope)
    sparsity = _check_sparsity(sparsity)
    layers = list(layers)
    if not layers:
        raise ConfigError("magnitude_prune: no prunable layers (Conv1d/2d/3d or Linear) in scope")
    prune_fn(layers, sparsity)


def sparsity_report(layers: PrunableLayers) -> dict:
    """``{"overall": s, "layers": {name: s}}``: fractions of weights that are zero by mask (of a layer without
    a mask, e.g. a dense model loaded from a pruned run: its exact zeros)."""
    per_layer, zeros, total = {}, 0, 0
    for name, module in layers:
        n = module.weight.numel()
        z = _pruned_count(module) if is_pruned(module) else int((module.weight == 0).sum())
        per_layer[name] = z / n if n else 0.0
        zeros, total = zeros + z, total + n
    return {"overall": zeros / total if total else 0.0, "layers": per_layer}
