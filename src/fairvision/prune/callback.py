"""``PruningCallback``: magnitude pruning inside :func:`fairvision.train.train` (one-shot or GMP).

The callback prunes at the start of the scheduled epochs (:meth:`PruneConfig.schedule`), keeps pruned
weights at zero through fine-tuning, records the measured sparsity in every history record and saves
its masks in the checkpoint, so a resumed or extended run continues with exactly the same masks.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from fairvision.errors import ConfigError
from fairvision.prune.config import PruneConfig
from fairvision.prune.magnitude import (
    apply_masks,
    enforce_masks,
    get_masks,
    magnitude_prune,
    prunable_modules,
    sparsity_report,
)
from fairvision.train.callbacks import Callback, FitContext

__all__ = ["PruningCallback"]


class PruningCallback(Callback):
    """Prunes the conv/linear weights of the model (and head) as ``config`` says; checkpoint key ``pruning``.

    * ``on_modules_built``: fixes the layers in scope; a resumed run re-applies its saved masks
      (``prune.custom_from_mask``), so the checkpoint's ``weight_orig``/``weight_mask`` load;
    * ``on_epoch_start``: at a scheduled epoch, prunes to that event's cumulative sparsity;
    * ``on_after_optimizer_step``: zeroes ``weight_orig`` where the mask is 0 (the effective weight is
      masked by the pre-hook anyway; this keeps momentum and weight decay from moving pruned weights);
    * ``on_epoch_end``: ``record["sparsity"]`` (overall) and ``record["sparsity_layers"]`` (by layer), measured.

    The re-parametrisation stays after training: the checkpoint holds ``weight_orig``/``weight_mask``,
    which :func:`fairvision.train.checkpoint.dense_state_dict` (and so ``train.init_from``) folds.
    """

    def __init__(self, config: PruneConfig | Mapping[str, Any] | None = None) -> None:
        if config is None:
            config = PruneConfig()
        elif not isinstance(config, PruneConfig):
            if not isinstance(config, Mapping):
                raise ConfigError(f"prune: expected a PruneConfig or a mapping, got {type(config).__name__}")
            config = PruneConfig(**config)
        self.config = config
        self.layers: list[tuple[str, torch.nn.Module]] = []
        self.last_epoch = -1  # epoch of the last pruning event done (-1: none yet)
        self.target = 0.0  # sparsity of that event
        self._saved_masks: dict[str, torch.Tensor] = {}

    @property
    def name(self) -> str:
        return "pruning"

    # ------------------------------------------------------------------ hooks
    def on_modules_built(self, ctx: FitContext) -> None:
        self.layers = prunable_modules(ctx.model, ctx.head, exclude_first_last=self.config.exclude_first_last)
        if self.config.enabled and not self.layers:
            raise ConfigError("prune.method: the model has no Conv1d/2d/3d or Linear layer to prune")
        train = getattr(ctx.cfg, "train", None)
        if train is not None and self.config.enabled:
            self.config.check_against(train.schedule_epochs or train.epochs)
        if self._saved_masks:
            apply_masks(self.layers, self._saved_masks)
            self._saved_masks = {}

    def on_epoch_start(self, ctx: FitContext, epoch: int) -> None:
        due = [(e, s) for e, s in self.config.schedule() if self.last_epoch < e <= epoch]
        if not due:
            return
        event, sparsity = due[-1]  # events missed (none in a normal run) collapse into the latest
        magnitude_prune(self.layers, sparsity, scope=self.config.scope)
        self.last_epoch, self.target = event, sparsity

    def on_after_optimizer_step(self, ctx: FitContext, epoch: int, step: int) -> None:
        if self.last_epoch >= 0:
            enforce_masks(self.layers)

    def on_epoch_end(self, ctx: FitContext, epoch: int, record: dict[str, Any]) -> None:
        report = sparsity_report(self.layers)
        record["sparsity"] = report["overall"]
        record["sparsity_layers"] = report["layers"]

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Masks by layer name (bool, True = kept), the last pruned epoch and its sparsity."""
        masks = get_masks(self.layers) if self.layers else dict(self._saved_masks)
        return {"masks": masks, "last_epoch": self.last_epoch, "target": self.target}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._saved_masks = {name: mask.bool() for name, mask in (state.get("masks") or {}).items()}
        self.last_epoch = int(state.get("last_epoch", -1))
        self.target = float(state.get("target", 0.0))
