"""Training plugins: config sections that add callbacks to a run (``prune:``, ``mitigation:``).

The engine knows nothing of pruning or mitigation (dependencies point down: :mod:`fairvision.prune` uses
:mod:`fairvision.train`, never the reverse). A package that adds training behaviour registers a
:class:`Plugin` in :data:`PLUGINS` under its config section's name: the section's pydantic model, a
factory of the callbacks a run gets from it, and an optional cross-check against the whole run config.
:class:`~fairvision.train.RunConfig` validates the section through the plugin (so unknown keys and bad
values are reported under ``prune.<key>`` like any other), and :func:`plugin_callbacks` gives
:func:`fairvision.train.train` the callbacks of a config. Built-in plugins are imported on first use
(:data:`BUILTIN`), the way entry points are, so a config can name them without importing them first.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import BaseModel

from fairvision.config import validate_config
from fairvision.registry import Registry
from fairvision.train.callbacks import Callback

__all__ = ["BUILTIN", "PLUGINS", "Plugin", "plugin_callbacks", "validate_section"]


@dataclass(frozen=True)
class Plugin:
    """A config section and what it adds to a run."""

    section: str
    config: type[BaseModel]
    #: ``(section config, run config) -> callbacks`` (empty when the section asks for nothing, e.g. method none)
    callbacks: Callable[[Any, Any], list[Callback]]
    #: ``(section config, run config) -> None``; raises ValueError("@key: ...") when the two disagree
    check: Callable[[Any, Any], None] | None = None


#: Plugins by config section name; ``PLUGINS.register(section, Plugin(...))`` adds one.
PLUGINS: Registry[Plugin] = Registry("training plugin")

#: Config section -> module that registers its plugin (imported on first use).
BUILTIN: dict[str, str] = {"prune": "fairvision.prune", "mitigation": "fairvision.mitigate"}


def get_plugin(section: str) -> Plugin:
    if section not in PLUGINS and section in BUILTIN:
        importlib.import_module(BUILTIN[section])
    return PLUGINS.get(section)


def validate_section(section: str, value: Any) -> dict[str, Any] | None:
    """The section's mapping validated by its plugin, with defaults filled in (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):  # shorthand: `prune: none` / `mitigation: flipped`
        value = {"method" if section == "prune" else "name": value}
    model = validate_config(get_plugin(section).config, value, source="")
    return model.model_dump(mode="json")


def section_config(section: str, value: dict[str, Any]) -> BaseModel:
    """The typed config of a validated section mapping."""
    return get_plugin(section).config.model_validate(value)


def check_sections(run_config: Any) -> None:
    """Cross-check every plugin section against the whole run config (ValueError "@section.key: ...")."""
    for section in BUILTIN:
        value = getattr(run_config, section, None)
        plugin = get_plugin(section) if value is not None else None
        if plugin is not None and plugin.check is not None:
            try:
                plugin.check(section_config(section, value), run_config)
            except ValueError as exc:
                text = str(exc)
                raise ValueError(f"@{section}.{text[1:]}" if text.startswith("@") else f"@{section}: {text}") from None


def plugin_callbacks(run_config: Any) -> list[Callback]:
    """The callbacks every plugin section of ``run_config`` asks for, in :data:`BUILTIN` order."""
    out: list[Callback] = []
    for section in BUILTIN:
        value = getattr(run_config, section, None)
        if value is not None:
            out += get_plugin(section).callbacks(section_config(section, value), run_config)
    return out
