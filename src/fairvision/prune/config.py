"""``PruneConfig``: the ``prune:`` section of a training config (method, target, scope, schedule)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fairvision.config import ConfigValidationError
from fairvision.errors import ConfigError
from fairvision.prune.magnitude import PRUNERS
from fairvision.prune.schedule import gmp_schedule

__all__ = ["PRUNE_METHODS", "PruneConfig"]

#: Values of ``prune.method``.
PRUNE_METHODS = ("none", "oneshot", "gmp")


class PruneConfig(BaseModel):
    """How a run prunes its conv/linear weights by magnitude (see :mod:`fairvision.prune`).

    ``oneshot`` prunes to ``sparsity`` at the start of ``oneshot_epoch`` and fine-tunes with that mask;
    ``gmp`` prunes at the start of the epochs ``range(start, end, freq)`` along the cubic schedule from
    ``initial_sparsity`` to ``sparsity`` (reached at the last of those epochs). Epochs are 0-based.
    """

    model_config = ConfigDict(extra="forbid")

    method: Literal[PRUNE_METHODS] = "none"  # type: ignore[valid-type]
    sparsity: float = Field(0.0, ge=0.0, lt=1.0, description="target sparsity s_f: fraction of weights masked")
    scope: str = Field("global", description="a name of fairvision.prune.PRUNERS: global or layerwise")
    exclude_first_last: bool = Field(False, description="keep the first conv and the last linear layer dense")
    initial_sparsity: float = Field(0.05, ge=0.0, lt=1.0, description="gmp: s_i, the sparsity of the first event")
    start: int = Field(0, ge=0, description="gmp: first pruning epoch")
    end: int | None = Field(None, ge=1, description="gmp: pruning epochs are range(start, end, freq)")
    freq: int = Field(1, ge=1, description="gmp: epochs between pruning events")
    oneshot_epoch: int = Field(0, ge=0, description="oneshot: prune at the start of this epoch")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigValidationError(exc, source="prune") from None

    @field_validator("scope")
    @classmethod
    def _check_scope(cls, value: str) -> str:
        return PRUNERS.canonical(value)

    @model_validator(mode="after")
    def _check_gmp(self) -> "PruneConfig":
        if self.method != "gmp":
            return self
        if self.end is None:
            raise ValueError("@end: required for method gmp (pruning epochs are range(start, end, freq))")
        if self.start >= self.end:
            raise ValueError(f"@end: must be greater than start ({self.end} <= {self.start})")
        if self.initial_sparsity > self.sparsity:
            raise ValueError(f"@initial_sparsity: must not exceed sparsity ({self.initial_sparsity} > {self.sparsity})")
        return self

    @property
    def enabled(self) -> bool:
        """False for ``method: none``."""
        return self.method != "none"

    def schedule(self) -> list[tuple[int, float]]:
        """``[(epoch, sparsity), ...]``: the pruning events, in order (empty for ``none``)."""
        if self.method == "oneshot":
            return [(self.oneshot_epoch, self.sparsity)]
        if self.method == "gmp":
            assert self.end is not None
            return gmp_schedule(s_i=self.initial_sparsity, s_f=self.sparsity, start=self.start, end=self.end,
                                freq=self.freq)
        return []

    def schedule_problem(self, epochs: int) -> tuple[str, str] | None:
        """``(key, problem)`` if a pruning event falls outside a run of ``epochs`` epochs, else None."""
        events = self.schedule()
        if not events or events[-1][0] < epochs:
            return None
        key = "oneshot_epoch" if self.method == "oneshot" else "end"
        return key, (f"the last pruning epoch ({events[-1][0]}) is not within the run's {epochs} epoch(s) "
                     f"(0..{epochs - 1}), so the target sparsity {self.sparsity} would not be reached")

    def check_against(self, epochs: int) -> None:
        """ConfigError unless every pruning event falls within a run of ``epochs`` epochs (0..epochs-1), so
        the run reaches the target sparsity. Pass ``train.schedule_epochs or train.epochs``: a run trained in
        budget steps (successive halving) may stop before the last event if its full budget covers it."""
        problem = self.schedule_problem(epochs)
        if problem is not None:
            raise ConfigError(f"prune.{problem[0]}: {problem[1]}")
