"""Registries of the training package that its config validates names against (kept apart from the
implementations, so that the config need not import them)."""

from __future__ import annotations

from typing import Any

from fairvision.registry import Registry

__all__ = ["TASKS"]

#: Task classes by ``task.name`` (:mod:`fairvision.train.tasks`); ``@TASKS.register(name)`` adds one.
TASKS: Registry[Any] = Registry("task")
