"""Callbacks: how new training behaviour (pruning schedules, mitigation methods) plugs into the engine.

A :class:`Callback` overrides the hooks it needs; :func:`fairvision.train.train` calls them in this order::

    on_head_built(task, head)                 the task's head built, before the optimizer: may return a
                                              replacement (e.g. a head with a margin per group)
    on_modules_built(ctx)                     model, head, optimizer built (a new run's train.init_from
                                              weights loaded); a resumed run's weights not loaded yet
    on_fit_start(ctx)                         a resumed run restored
    for each epoch left:
        on_epoch_start(ctx, epoch)
        for each batch:
            on_train_batch(ctx, batch)        may replace batch.targets (e.g. relabel images)
            (step: loss + sum of extra_loss(ctx, batch, embeddings, logits), backward, optimizer step)
            on_after_optimizer_step(ctx, epoch, step)                           (only after finite steps)
        (evaluation) -> on_epoch_end(ctx, epoch, record)   record: the epoch's history entry (add keys to it)
        (checkpoint: every callback's state_dict() is saved under its name)
    on_fit_end(ctx)

Resume and budget extension stay in the engine: a callback's :meth:`Callback.state_dict` is saved in every
checkpoint under :attr:`Callback.name` and handed back to :meth:`Callback.load_state_dict` before
``on_modules_built`` of a resumed run, so a callback continues exactly where it was (a pruning mask, a schedule
position). ``on_modules_built`` is where a callback re-parametrises modules (e.g. ``torch.nn.utils.prune``
adds ``weight_orig``/``weight_mask``) so that the checkpoint's state dicts load into them. Names must be unique
within a run.

A :class:`Batch` carries what the task knows about a training batch: images, targets, sample indices and the
samples' demographic group codes (:meth:`fairvision.train.Task.groups`; None for tasks without groups), so
group-aware methods get groups from the task, never from global state. Without callbacks overriding
``on_head_built``, ``on_train_batch`` or ``extra_loss`` the step computes exactly what it computes without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from fairvision.errors import ConfigError

__all__ = ["Batch", "Callback", "FitContext", "check_callbacks"]


@dataclass
class FitContext:
    """What a callback may read or change: the run's config, modules, optimizer and device."""

    cfg: Any  # RunConfig
    model: torch.nn.Module
    head: torch.nn.Module
    optimizer: torch.optim.Optimizer
    device: torch.device
    run_dir: Path
    #: The run's :class:`fairvision.train.Task` (training data, group names), None outside the engine.
    task: Any = None


@dataclass
class Batch:
    """One training batch as the engine hands it to :meth:`Callback.on_train_batch` and
    :meth:`Callback.extra_loss` (a callback may replace ``targets``)."""

    images: torch.Tensor
    targets: torch.Tensor
    #: Indices of the samples in the task's training set.
    index: torch.Tensor
    #: Group code of every sample (an index into ``task.group_names``), or None when the task has no groups.
    groups: torch.Tensor | None
    epoch: int
    #: Step within the epoch, from 0.
    step: int


class Callback:
    """Base class: every hook does nothing; override the ones you need."""

    @property
    def name(self) -> str:
        """Key of this callback's state in the checkpoint (default: the class name)."""
        return type(self).__name__

    def on_head_built(self, task: Any, head: torch.nn.Module) -> torch.nn.Module | None:
        """Right after ``task.build_head``, before the optimizer is built: return a module to train instead of
        ``head`` (its parameters are then the ones optimised and checkpointed), or None to keep it."""
        return None

    def on_modules_built(self, ctx: FitContext) -> None:
        """After model, head and optimizer are built (a new run: with ``train.init_from``'s weights loaded; on
        resume: after :meth:`load_state_dict`, before the checkpoint's weights are loaded into them)."""

    def on_fit_start(self, ctx: FitContext) -> None:
        """Before the first epoch left to train (after a resumed run is restored)."""

    def on_epoch_start(self, ctx: FitContext, epoch: int) -> None:
        """Before the first batch of ``epoch`` (0-based)."""

    def on_train_batch(self, ctx: FitContext, batch: Batch) -> None:
        """Before the training step on ``batch``; may replace ``batch.targets`` (a new tensor, not in place)."""

    def extra_loss(self, ctx: FitContext, batch: Batch, embeddings: torch.Tensor,
                   logits: torch.Tensor) -> torch.Tensor | None:
        """A scalar added to the batch's loss before backward (None: nothing); ``embeddings`` (float32, with
        gradients) and ``logits`` are the step's. Only called when a callback overrides it."""
        return None

    def on_after_optimizer_step(self, ctx: FitContext, epoch: int, step: int) -> None:
        """After a successful (finite) optimizer step, ``step`` counted from 0 within the epoch."""

    def on_epoch_end(self, ctx: FitContext, epoch: int, record: dict[str, Any]) -> None:
        """After the epoch's training and evaluation, before the checkpoint; may add keys to ``record``."""

    def on_fit_end(self, ctx: FitContext) -> None:
        """After the last epoch (or the one that diverged)."""

    def state_dict(self) -> dict[str, Any]:
        """State saved in the checkpoint (tensors and plain Python values)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` of a resumed run."""


def check_callbacks(callbacks: Sequence[Callback]) -> list[Callback]:
    """The callbacks as a list; ConfigError for a non-callback or two callbacks with the same name."""
    out = list(callbacks)
    for cb in out:
        if not isinstance(cb, Callback):
            raise ConfigError(f"callbacks: {cb!r} is not a fairvision.train.Callback")
    names = [cb.name for cb in out]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(f"callbacks: names must be unique, {duplicated} repeat (override Callback.name)")
    return out
