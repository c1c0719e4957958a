"""The ``mitigation:`` section of a training config as a :class:`fairvision.train.plugins.Plugin`.

Importing :mod:`fairvision.mitigate` registers it in :data:`fairvision.train.plugins.PLUGINS` (the training
config imports this package by name when it meets a ``mitigation:`` section): :class:`MitigationConfig`
validates the section, a run gets the method's callback unless ``name: none``, and the section is checked
against the run config (a task with demographic groups; angular: a CosFace head).
"""

from __future__ import annotations

from typing import Any

from fairvision.mitigate.callbacks import CALLBACKS
from fairvision.mitigate.config import MitigationConfig
from fairvision.train.callbacks import Callback

__all__ = ["check_mitigation_section", "mitigation_callbacks", "register"]


def mitigation_callbacks(config: MitigationConfig, run_config: Any) -> list[Callback]:
    """``[the method's callback]``, or nothing for ``name: none``."""
    return [CALLBACKS[config.name](config)] if config.enabled else []


def check_mitigation_section(config: MitigationConfig, run_config: Any) -> None:
    """ValueError ``@key: ...`` when the method does not fit the run: every method needs the identification task
    (demographic groups of identities); angular needs a CosFace head whose margin it sets."""
    if not config.enabled:
        return
    task = run_config.task.name
    if task != "identification":
        raise ValueError(f"@name: {config.name} needs task identification (identities in demographic groups), "
                         f"not {task!r}")
    if config.name == "angular":
        head = run_config.head
        if head.name != "CosFace":
            raise ValueError(f"@name: angular sets a CosFace margin per group, so it needs head.name CosFace, "
                             f"not {head.name!r}")
        if "m" in head.kwargs:
            raise ValueError("@name: angular sets the margins (mitigation.m_majority, m_minority); remove "
                             "head.kwargs.m")


def register() -> None:
    """Register the ``mitigation`` plugin (again: a no-op)."""
    from fairvision.train.plugins import PLUGINS, Plugin

    if "mitigation" not in PLUGINS:
        PLUGINS.register("mitigation", Plugin(section="mitigation", config=MitigationConfig,
                                              callbacks=mitigation_callbacks, check=check_mitigation_section))
