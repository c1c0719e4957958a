"""What :func:`fairvision.train.train` returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fairvision.train.layout import RunLayout

__all__ = ["RunStatus", "TrainResult"]

#: Final state of a run: trained to its budget, or stopped by a NaN/inf (FR-NAS: Error = 1).
RunStatus = Literal["complete", "diverged"]


@dataclass(frozen=True)
class TrainResult:
    """The outcome of a training run.

    Attributes:
        status: ``"complete"`` or ``"diverged"`` (branch on :attr:`diverged`).
        epochs_done: epochs trained to completion (a diverged run: those before the divergent epoch).
        metrics: the content of ``metrics.json``: the ``fairvision fairness --json`` keys, ``epoch``
            (0-based epoch the metrics come from) and ``status``.
        run_dir: the run folder (see :attr:`layout` for its files).
    """

    status: RunStatus
    epochs_done: int
    metrics: dict[str, Any]
    run_dir: Path

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"

    @property
    def error(self) -> float | None:
        """Identification error (1.0 for a diverged run), None if undefined."""
        return self.metrics.get("Error")

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.run_dir)
