"""The ``prune:`` section of a training config as a :class:`fairvision.train.plugins.Plugin`.

Importing :mod:`fairvision.prune` registers it in :data:`fairvision.train.plugins.PLUGINS` (the training
config imports this package by name when it meets a ``prune:`` section): :class:`PruneConfig` validates
the section, a run gets a :class:`PruningCallback` unless ``method: none``, and the schedule is checked
against ``train.schedule_epochs`` (the full budget) or else ``train.epochs``.
"""

from __future__ import annotations

from typing import Any

from fairvision.prune.callback import PruningCallback
from fairvision.prune.config import PruneConfig
from fairvision.train.callbacks import Callback

__all__ = ["prune_callbacks", "check_prune_section", "register"]


def prune_callbacks(config: PruneConfig, run_config: Any) -> list[Callback]:
    """``[PruningCallback(config)]``, or nothing for ``method: none``."""
    return [PruningCallback(config)] if config.enabled else []


def check_prune_section(config: PruneConfig, run_config: Any) -> None:
    """ValueError ``@key: ...`` if the schedule does not fit the run's epochs (budget: ``schedule_epochs``)."""
    train = run_config.train
    key, epochs = ("schedule_epochs", train.schedule_epochs) if train.schedule_epochs else ("epochs", train.epochs)
    problem = config.schedule_problem(epochs)
    if problem is not None:
        raise ValueError(f"@{problem[0]}: {problem[1]} (train.{key} = {epochs})")


def register() -> None:
    """Register the ``prune`` plugin (again: a no-op)."""
    from fairvision.train.plugins import PLUGINS, Plugin

    if "prune" not in PLUGINS:
        PLUGINS.register("prune", Plugin(section="prune", config=PruneConfig, callbacks=prune_callbacks,
                                         check=check_prune_section))
