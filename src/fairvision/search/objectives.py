"""Objectives and constraints of a search.

An :class:`Objective` names one value the objective function reports: ``"Error"`` or any fairness
metric of :data:`fairvision.metrics.METRIC_NAMES` (``"Rank Disparity"``, ...), ``"params"``,
``"flops"``, ``"latency"`` or anything else, with a direction. Engines work on *costs*: every
objective converted to minimisation (``maximize`` values negated), see :meth:`Objective.cost`.

A :class:`Constraint` bounds a reported value (taken from the trial's objectives, else from its
metrics). Its :meth:`~Constraint.violation` follows optuna's convention: ``<= 0`` feasible.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping

from fairvision.errors import ConfigError

__all__ = ["Constraint", "Objective", "parse_constraints", "parse_objectives"]

DIRECTIONS = ("minimize", "maximize")


@dataclass(frozen=True)
class Objective:
    """One objective. ``penalty`` (in the objective's own units) is the value told for a diverged
    trial when no finite value of this objective has been observed yet (see ``Engine.tell``)."""

    name: str
    direction: str = "minimize"
    penalty: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"objective: name must be a non-empty string, got {self.name!r}")
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"objective {self.name!r}: direction must be 'minimize' or 'maximize', "
                              f"got {self.direction!r}")

    @property
    def is_error(self) -> bool:
        """The classification error objective (FR-NAS's ``Error``), matched case-insensitively."""
        return self.name.lower() == "error"

    def cost(self, value: float) -> float:
        """``value`` as a cost (to be minimised)."""
        return float(value) if self.direction == "minimize" else -float(value)

    def value(self, cost: float) -> float:
        """Inverse of :meth:`cost`."""
        return float(cost) if self.direction == "minimize" else -float(cost)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Constraint:
    """``lower <= value <= upper`` on a reported objective or metric (either bound may be None)."""

    name: str
    upper: float | None = None
    lower: float | None = None

    def __post_init__(self) -> None:
        if self.upper is None and self.lower is None:
            raise ConfigError(f"constraint {self.name!r}: give 'upper' and/or 'lower'")
        if self.upper is not None and self.lower is not None and self.lower > self.upper:
            raise ConfigError(f"constraint {self.name!r}: lower {self.lower} > upper {self.upper}")

    def violation(self, value: float | None) -> float:
        """Amount by which ``value`` violates the constraint; ``<= 0`` is feasible, a missing or
        non-finite value is infinitely infeasible."""
        if value is None or not math.isfinite(float(value)):
            return math.inf
        v = float(value)
        parts = []
        if self.upper is not None:
            parts.append(v - self.upper)
        if self.lower is not None:
            parts.append(self.lower - v)
        return max(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_objectives(objectives: Iterable[Any]) -> list[Objective]:
    """Objectives from ``Objective``s, names (minimised), ``(name, direction)`` pairs or dicts."""
    out: list[Objective] = []
    for o in objectives:
        if isinstance(o, Objective):
            out.append(o)
        elif isinstance(o, str):
            out.append(Objective(o))
        elif isinstance(o, Mapping):
            try:
                out.append(Objective(**o))
            except TypeError as exc:
                raise ConfigError(f"objective {dict(o)}: {exc}") from None
        elif isinstance(o, (tuple, list)) and len(o) == 2:
            out.append(Objective(*o))
        else:
            raise ConfigError(f"objective: cannot interpret {o!r}")
    if not out:
        raise ConfigError("give at least one objective")
    names = [o.name for o in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"duplicate objective names in {names}")
    return out


def parse_constraints(constraints: Iterable[Any] | None) -> list[Constraint]:
    """Constraints from ``Constraint``s or dicts ``{name, upper, lower}``."""
    out: list[Constraint] = []
    for c in constraints or []:
        if isinstance(c, Constraint):
            out.append(c)
        elif isinstance(c, Mapping):
            try:
                out.append(Constraint(**c))
            except TypeError as exc:
                raise ConfigError(f"constraint {dict(c)}: {exc}") from None
        else:
            raise ConfigError(f"constraint: cannot interpret {c!r}")
    return out
