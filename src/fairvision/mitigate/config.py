"""``MitigationConfig``: the ``mitigation:`` section of a training config (method and its options)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fairvision.config import ConfigValidationError

__all__ = ["MITIGATION_METHODS", "MitigationConfig"]

#: Values of ``mitigation.name``.
MITIGATION_METHODS = ("none", "flipped", "angular", "discriminator")

#: The options of each method (every other option must keep its default).
_OPTIONS = {
    "none": (),
    "flipped": ("group", "fraction"),
    "angular": ("group", "m_majority", "m_minority"),
    "discriminator": ("alpha", "hidden", "lr", "target"),
}


class MitigationConfig(BaseModel):
    """A bias-mitigation baseline of FR-NAS (see :mod:`fairvision.mitigate`).

    * ``flipped``: in every training batch, ``fraction`` of the images of ``group`` (the majority /
      better-served group) get the label of a random *other* identity of that group;
    * ``angular``: a CosFace head with margin ``m_majority`` for ``group`` and ``m_minority`` for every other
      group (FR-NAS's released code left both at 0.35 -- the defaults here differ);
    * ``discriminator``: an MLP (``hidden`` units) on the embedding predicts the group, trained with its own
      Adam (``lr``) in alternation with the backbone, which gets ``alpha * mean log(1 + |0.9 - p_target|)``:
      every image is pushed to look like group ``target`` to the discriminator (FR-NAS: P(female) -> 0.9 for all
      images, its ``manipulate = 1``), so the embedding stops telling the groups apart.

    ``group`` is a value of ``data.group_column`` in the training split; default: the largest group there
    (an error when several groups are equally large).
    """

    model_config = ConfigDict(extra="forbid")

    name: Literal[MITIGATION_METHODS] = "none"  # type: ignore[valid-type]
    group: str | None = Field(
        None, description="flipped, angular: the majority / better-served group (FR-NAS: male); default: the "
        "largest group of the training split")
    fraction: float = Field(0.3, gt=0.0, le=1.0, description="flipped: fraction of the group's images relabelled "
                            "in every batch")
    m_majority: float = Field(0.35, ge=0.0, lt=1.0, description="angular: CosFace margin of `group`")
    m_minority: float = Field(0.45, ge=0.0, lt=1.0, description="angular: CosFace margin of every other group")
    alpha: float = Field(1.0, ge=0.0, description="discriminator: weight of the backbone's regulariser")
    hidden: int = Field(128, ge=1, le=65536, description="discriminator: hidden units of the MLP")
    lr: float = Field(1e-3, gt=0.0, description="discriminator: learning rate of its Adam optimizer")
    target: str | None = Field(
        None, description="discriminator: the group whose probability every image is pushed towards 0.9 (FR-NAS: "
        "female, the protected group); default: the smallest group of the training split (ties: the first in order)")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigValidationError(exc, source="mitigation") from None

    @field_validator("group", "target", mode="before")
    @classmethod
    def _group_text(cls, value: Any) -> Any:
        # group values are compared as text (a 0/1 column such as Male: `group: 1`)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return value

    @model_validator(mode="after")
    def _check(self) -> "MitigationConfig":
        for key, field in type(self).model_fields.items():
            if key != "name" and key not in _OPTIONS[self.name] and getattr(self, key) != field.default:
                methods = " or ".join(m for m, keys in _OPTIONS.items() if key in keys)
                raise ValueError(f"@{key}: only applies to name {methods}, not {self.name!r}")
        if self.name == "angular" and self.m_minority <= self.m_majority:
            raise ValueError(f"@m_minority: must be larger than m_majority ({self.m_minority} <= {self.m_majority}); "
                             "equal margins are plain CosFace (name: none)")
        return self

    @property
    def enabled(self) -> bool:
        """False for ``name: none``."""
        return self.name != "none"
