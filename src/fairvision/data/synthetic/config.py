"""Configuration, attribute tables and constants of the synthetic face generator (part of :mod:`fairvision.data.synthetic`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fairvision.config import ConfigValidationError
from fairvision.errors import ConfigError


Layout = Literal["folders", "celeba", "both"]

#: Hair colour attributes: mutually exclusive (an identity has at most one;
#: the remaining probability mass is an auburn "other" colour).
HAIR_COLOURS = ("Black_Hair", "Brown_Hair", "Blond_Hair", "Gray_Hair")

#: Attributes constant per identity (up to rare per-image flips of FLIPPABLE).
IDENTITY_ATTRIBUTES = (
    *HAIR_COLOURS,
    "Bald",
    "Bangs",
    "Mustache",
    "No_Beard",
    "Pale_Skin",
    "Chubby",
    "Big_Nose",
    "Narrow_Eyes",
)
#: Identity-level attributes that may change on single images (style choices).
FLIPPABLE = ("Bangs", "Mustache", "No_Beard")
#: Attributes drawn independently for every image.
IMAGE_ATTRIBUTES = (
    "Smiling",
    "Mouth_Slightly_Open",
    "Eyeglasses",
    "Wearing_Hat",
    "Heavy_Makeup",
    "Wearing_Lipstick",
)
#: All per-image CelebA-named attributes, in output column order (after Male, Young, group).
ATTRIBUTES = IDENTITY_ATTRIBUTES + IMAGE_ATTRIBUTES

#: ``attribute -> (P(attr=1 | Male=0), P(attr=1 | Male=1))``, roughly CelebA's.
DEFAULT_ATTRIBUTE_RATES: dict[str, tuple[float, float]] = {
    "Black_Hair": (0.22, 0.26),
    "Brown_Hair": (0.24, 0.16),
    "Blond_Hair": (0.24, 0.02),
    "Gray_Hair": (0.01, 0.09),
    "Bald": (0.0, 0.05),
    "Bangs": (0.19, 0.08),
    "Mustache": (0.0, 0.10),
    "No_Beard": (1.0, 0.60),
    "Pale_Skin": (0.06, 0.02),
    "Chubby": (0.02, 0.13),
    "Big_Nose": (0.12, 0.45),
    "Narrow_Eyes": (0.11, 0.12),
    "Smiling": (0.52, 0.43),
    "Mouth_Slightly_Open": (0.49, 0.47),
    "Eyeglasses": (0.02, 0.13),
    "Wearing_Hat": (0.03, 0.08),
    "Heavy_Makeup": (0.65, 0.005),
    "Wearing_Lipstick": (0.80, 0.01),
}

#: Image-level nuisance amplitudes at ``nuisance=1`` (face coordinates span [-1, 1]).
NZ = {
    "shift": 0.02,
    "log_scale": 0.025,
    "rotation": 0.035,
    "expression": 0.5,
    "bg_offset": 0.2,
    "bg_lum": 0.035,
    "bg_chroma": 0.02,
    "cloth_offset": 0.25,
    "cloth_lum": 0.045,
    "cloth_chroma": 0.035,
    "brightness": 0.008,
    "spotlight": 0.04,
    "gradient": 0.036,
    "blur": 0.3,
    "noise": 0.015,
}
#: Contrast around mid-grey before noise: keeps skin-relative colours of every group
#: inside [0, 1] (clipping would remove noise unequally across skin tones).
DYNAMIC_RANGE = 0.8
#: Scale of every identity trait deviation (distinctiveness of identities at difficulty 0).
TRAIT_SPREAD = 0.6
#: Skin tone spread within a group (luminance, warmth) and the Pale_Skin lift.
TONE = {"lum_sd": 0.02, "warm_sd": 0.01, "pale": 0.06, "hair_follow": 1.0}
_DEFAULT_GROUPS = {"A": 0.0, "B": 0.0, "C": 0.0, "D": 0.0}


#: Identity traits by face region (indices of the trait z-scores drawn in ``sample.py``): the
#: upper face (hair, brows, eyes) and the lower face (face outline, nose, mouth). Skin tone
#: (18, 19) is region-free.
UPPER_TRAITS = (2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 20, 21, 22)
LOWER_TRAITS = (0, 1, 10, 11, 12, 13, 14, 23)
SKIN_TRAITS = (18, 19)


class GroupCues(BaseModel):
    """Through which *channel* a group's identities differ: the planted, architecture-dependent bias.

    Each knob moves identity information into a form that network operations treat differently
    (README, "Known-bias benchmark", documents which operations should help which group and why):

    * ``region``: where identity traits vary. ``"upper"``: only hair, brows and eyes (face outline,
      nose, mouth and skin tone sit at the group's mean); ``"lower"``: only face outline, nose and
      mouth; ``"all"`` (default): everywhere. Reaching the lower face needs a large receptive field.
    * ``jitter``: with a ``region``, the traits outside it are redrawn on every image with this many
      trait standard deviations instead of sitting at the group mean: they look like identity
      information but carry none (a distractor a network only meets if it looks there).
    * ``occlusion`` / ``occlusion_p``: a per-image random-coloured occluder on ``"upper"`` (a
      headscarf over hair and forehead down to the brows) or ``"lower"`` (a mask from below the
      eyes to the chin) on a fraction ``occlusion_p`` of the group's images.
    * ``texture``: amplitude (fraction of the dynamic range) of an identity-specific fine skin
      texture, two gratings with identity-specific orientation and a period of 2.5-4 pixels,
      random phase per image: fine-scale information that blur and strided 1x1 subsampling destroy.
    * ``chroma``: amplitude of an identity-specific iso-luminant colour shift of the skin
      (red-green and blue-yellow axes, luminance unchanged): a cue at low luminance contrast.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: Literal["all", "upper", "lower"] = "all"
    jitter: float = Field(0.0, ge=0.0, le=3.0)
    occlusion: Literal["none", "upper", "lower"] = "none"
    occlusion_p: float = Field(1.0, ge=0.0, le=1.0)
    texture: float = Field(0.0, ge=0.0, le=0.5)
    chroma: float = Field(0.0, ge=0.0, le=0.2)

    @property
    def hidden_traits(self) -> tuple[int, ...]:
        """Indices of the trait z-scores outside ``region`` (none for ``"all"``)."""
        if self.region == "all":
            return ()
        return SKIN_TRAITS + (LOWER_TRAITS if self.region == "upper" else UPPER_TRAITS)


class SyntheticFacesConfig(BaseModel):
    """Everything that determines a synthetic face set (with ``seed``, byte for byte).

    Invalid values raise :class:`fairvision.errors.ConfigError` naming the key.
    Build from a mapping (e.g. parsed YAML) with ``SyntheticFacesConfig(**data)``
    or :meth:`from_dict`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_identities: int = Field(100, ge=1, le=1_000_000, description="number of identities")
    images_per_identity: int = Field(10, ge=1, le=10_000, description="images per identity")
    size: int = Field(64, ge=16, le=512, description="image height and width in pixels")
    seed: int = Field(0, ge=0, description="random seed; same config and seed give identical images")
    group_difficulty: dict[str, float] = Field(
        default_factory=lambda: dict(_DEFAULT_GROUPS),
        description="group value -> difficulty in [0, 1]; the keys are the values of `group`",
    )
    group_weights: dict[str, float] | None = Field(
        None, description="group value -> relative frequency (default: equal)"
    )
    group_cues: dict[str, GroupCues] = Field(
        default_factory=dict,
        description="group value -> the channel its identity information is carried by (see GroupCues); "
        "groups not listed keep every cue",
    )
    male_difficulty: dict[int, float] = Field(
        default_factory=lambda: {0: 0.0, 1: 0.0}, description="Male value (0/1) -> extra difficulty"
    )
    young_difficulty: dict[int, float] = Field(
        default_factory=lambda: {0: 0.0, 1: 0.0}, description="Young value (0/1) -> extra difficulty"
    )
    p_male: float = Field(0.42, ge=0.0, le=1.0, description="P(Male=1)")
    p_young: float = Field(0.77, ge=0.0, le=1.0, description="P(Young=1)")
    attribute_rates: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: dict(DEFAULT_ATTRIBUTE_RATES),
        description="attribute -> (P(1 | Male=0), P(1 | Male=1)); missing attributes keep their defaults",
    )
    flip_prob: float = Field(
        0.03, ge=0.0, le=0.5, description=f"per-image flip probability of {', '.join(FLIPPABLE)}"
    )
    nuisance: float = Field(1.0, ge=0.0, le=3.0, description="scale of all image-level nuisance")
    difficulty_shrink: float = Field(0.7, ge=0.0, le=1.0, description="trait shrinkage at difficulty 1")
    difficulty_contrast: float = Field(0.6, ge=0.0, le=0.95, description="contrast loss at difficulty 1")
    difficulty_nuisance: float = Field(1.0, ge=0.0, le=5.0, description="extra nuisance at difficulty 1")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigValidationError(exc, source="invalid synthetic faces config") from None

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "SyntheticFacesConfig":
        """Validate a mapping (e.g. from YAML/JSON); raises ConfigError."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ConfigError(f"synthetic faces config must be a mapping, not {type(data).__name__}")
        return cls(**data)

    @field_validator("group_difficulty", "male_difficulty", "young_difficulty")
    @classmethod
    def _check_difficulty(cls, value: dict, info) -> dict:
        if info.field_name == "group_difficulty":
            if not value:
                raise ValueError("needs at least one group")
            for name in value:
                if not name or not str(name).strip():
                    raise ValueError("group names must be non-empty strings")
        else:
            bad_keys = [k for k in value if k not in (0, 1)]
            if bad_keys:
                raise ValueError(f"keys must be 0 or 1, got {bad_keys}")
        for key, d in value.items():
            if not (0.0 <= d <= 1.0) or math.isnan(d):
                raise ValueError(f"difficulty of {key!r} must be in [0, 1], got {d}")
        return value

    @field_validator("attribute_rates", mode="after")
    @classmethod
    def _check_rates(cls, value: dict) -> dict:
        unknown = sorted(set(value) - set(DEFAULT_ATTRIBUTE_RATES))
        if unknown:
            raise ValueError(f"unknown attribute(s) {unknown}; known: {sorted(DEFAULT_ATTRIBUTE_RATES)}")
        merged = dict(DEFAULT_ATTRIBUTE_RATES)
        for key, pair in value.items():
            for p in pair:
                if not (0.0 <= p <= 1.0):
                    raise ValueError(f"rate of {key!r} must be in [0, 1], got {pair}")
            merged[key] = (float(pair[0]), float(pair[1]))
        for male in (0, 1):
            total = sum(merged[h][male] for h in HAIR_COLOURS)
            if total > 1.0 + 1e-9:
                raise ValueError(
                    f"hair colour rates {list(HAIR_COLOURS)} for Male={male} sum to {total:.3f} > 1 "
                    "(they are mutually exclusive)"
                )
        return merged

    @model_validator(mode="after")
    def _check_weights(self) -> "SyntheticFacesConfig":
        if self.group_weights is not None:
            if set(self.group_weights) != set(self.group_difficulty):
                raise ValueError(
                    f"group_weights keys {sorted(self.group_weights)} must equal "
                    f"group_difficulty keys {sorted(self.group_difficulty)}"
                )
            if any(w < 0 for w in self.group_weights.values()) or sum(self.group_weights.values()) <= 0:
                raise ValueError("group_weights must be non-negative with a positive sum")
        for group, cue in self.group_cues.items():
            if cue.jitter > 0 and cue.region == "all":
                raise ValueError(f"@group_cues.{group}.jitter: needs a region ('upper' or 'lower') to jitter outside")
        unknown = sorted(set(self.group_cues) - set(self.group_difficulty))
        if unknown:
            raise ValueError(f"@group_cues: groups {unknown} are not in group_difficulty {sorted(self.group_difficulty)}")
        return self

    def cues(self, group: str) -> GroupCues:
        """The cue settings of ``group`` (defaults when it is not listed)."""
        return self.group_cues.get(group, _NO_CUES)

    @property
    def groups(self) -> list[str]:
        """Group values, in the order of ``group_difficulty`` (darkest skin tone first)."""
        return list(self.group_difficulty)

    @property
    def n_images(self) -> int:
        return self.n_identities * self.images_per_identity


_NO_CUES = GroupCues()


@dataclass(frozen=True)
class SyntheticFaces:
    """An in-memory synthetic face set.

    Attributes:
        images: ``uint8`` array (N, size, size, 3), identity-major (images
            ``i*K .. i*K+K-1`` belong to identity ``i``).
        frame: one row per image: ``identity``, ``Male``, ``Young``, ``group``
            and the attributes of :data:`ATTRIBUTES` (0/1 integers).
        identities: one row per identity: ``identity``, ``Male``, ``Young``,
            ``group`` and ``difficulty`` (the generator's ground truth).
        config: the configuration used.
    """

    images: np.ndarray
    frame: pd.DataFrame
    identities: pd.DataFrame
    config: SyntheticFacesConfig

    def __len__(self) -> int:
        return len(self.images)
