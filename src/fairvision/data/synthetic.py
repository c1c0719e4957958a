"""Deterministic synthetic faces with a known, configurable bias.

This is the project's embedded default data: no download, seconds to build,
and a ground truth for fairness work, because the generator *knows* which
group it made harder to identify.

Model
-----
Each identity has

* demographic attributes: binary ``Male`` and ``Young`` and a categorical
  ``group`` (default values ``"A"``-``"D"``; names are data).  The group sets
  the mean skin tone, RFW-style (first group darkest, last lightest);
* continuous identity traits: face shape (ellipse axes), skin tone, eye,
  brow, nose and mouth geometry, hair volume, length, hairline and colour;
* identity-level CelebA attributes (hair colour, ``Bald``, ``Bangs``,
  ``Mustache``, ``No_Beard``, ``Pale_Skin``, ``Chubby``, ``Big_Nose``,
  ``Narrow_Eyes``), drawn from per-``Male`` base rates; the style-like ones
  flip on single images with a small probability.

Each image adds nuisance (pose shift, scale, rotation, additive lighting with
a gradient, blur, noise, background and clothing colour, expression jitter)
and image-level CelebA attributes (``Smiling``, ``Mouth_Slightly_Open``,
``Eyeglasses``, ``Wearing_Hat``, ``Heavy_Makeup``, ``Wearing_Lipstick``).
Every attribute is drawn visibly (glasses frames, hat, smile curvature, ...).

Difficulty
----------
An identity's difficulty ``d`` in [0, 1] is ``group_difficulty[group] +
male_difficulty[Male] + young_difficulty[Young]`` (clipped).  It makes
identification harder in a known direction:

* trait deviations are shrunk towards the group mean by ``1 - difficulty_shrink * d``
  (less distinctive faces);
* image contrast around mid-grey is scaled by ``1 - difficulty_contrast * d``
  (noise is added afterwards, so the signal-to-noise ratio drops);
* nuisance amplitudes are scaled by ``1 + difficulty_nuisance * d``.

With every difficulty 0, groups differ only in mean skin tone, and the image
is built so that tone does not change how hard identities are to tell apart:
face features, hair, background and clothing luminance are offsets from the
skin tone; lighting is additive and nearly zero-mean (a large uniform
brightness change would lie along the direction in which groups differ, which
cosine-similarity matchers treat differently for extreme and middle tones);
the dynamic range is compressed so that no group clips; and the palette keeps
neighbouring groups apart in colour.  Calibration (PCA of raw RGB pixels to 64
dims, L2-normalised, leave-one-out nearest neighbour; 200 identities x 8
images at 32 px, averaged over 32 seeds): overall error 0.34, per-group
0.32-0.35 (per-run spread of one group ~0.05); group difficulty 0.7 raises
that group to ~0.70 and leaves the others unchanged.

Rendering is vectorised numpy: a batch of images is evaluated on one
coordinate grid, mapped per image by an affine transform into face
coordinates, and composited from anti-aliased implicit shapes (no per-pixel
Python loops).

API: :class:`SyntheticFacesConfig`, :func:`generate_faces` (in memory) and
:func:`write_synthetic` (PNG files in a folder layout and/or the official
CelebA layout).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fairvision.errors import ConfigError

__all__ = [
    "ATTRIBUTES",
    "DEFAULT_ATTRIBUTE_RATES",
    "SyntheticFaces",
    "SyntheticFacesConfig",
    "generate_faces",
    "write_synthetic",
]

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


def _format_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "config"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            parts.append(f"{loc}: unknown key")
        elif "input" in err and err["type"] not in ("missing",):
            parts.append(f"{loc}: {msg} (got {err['input']!r})")
        else:
            parts.append(f"{loc}: {msg}")
    return "invalid synthetic faces config: " + "; ".join(parts)


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
            raise ConfigError(_format_validation_error(exc)) from None

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
        return self

    @property
    def groups(self) -> list[str]:
        """Group values, in the order of ``group_difficulty`` (darkest skin tone first)."""
        return list(self.group_difficulty)

    @property
    def n_images(self) -> int:
        return self.n_identities * self.images_per_identity


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


# ----------------------------------------------------------------------------
# sampling


def _identity_name(i: int) -> str:
    return f"id{i + 1:05d}"


def _as_config(config: SyntheticFacesConfig | dict | None) -> SyntheticFacesConfig:
    if isinstance(config, SyntheticFacesConfig):
        return config
    return SyntheticFacesConfig.from_dict(config)


_HAIR_RGB = np.array(
    [
        [0.08, 0.07, 0.07],  # Black_Hair
        [0.36, 0.23, 0.13],  # Brown_Hair
        [0.80, 0.68, 0.40],  # Blond_Hair
        [0.66, 0.66, 0.66],  # Gray_Hair
        [0.55, 0.26, 0.12],  # other (auburn)
    ],
    dtype=np.float64,
)
#: Mean skin colours from darkest to lightest (dark brown, golden brown, rosy tan,
#: ivory); group ``i`` of ``G`` takes the palette at position ``i / (G - 1)``.
_SKIN_PALETTE = np.array(
    [
        [0.40, 0.25, 0.16],
        [0.60, 0.44, 0.26],
        [0.76, 0.54, 0.46],
        [0.87, 0.77, 0.66],
    ]
)
_SKIN_MID = _SKIN_PALETTE.mean(axis=0)


def _group_tones(n_groups: int) -> np.ndarray:
    """Mean skin colour per group (piecewise-linear along the palette)."""
    t = np.linspace(0.0, 1.0, n_groups) if n_groups > 1 else np.array([0.5])
    pos = t * (len(_SKIN_PALETTE) - 1)
    lo = np.minimum(np.floor(pos).astype(int), len(_SKIN_PALETTE) - 2)
    frac = (pos - lo)[:, None]
    return _SKIN_PALETTE[lo] * (1.0 - frac) + _SKIN_PALETTE[lo + 1] * frac


def _sample(cfg: SyntheticFacesConfig) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    """Draw identities, attributes and every rendering parameter (no pixels)."""
    n, k = cfg.n_identities, cfg.images_per_identity
    ss_id, ss_img = np.random.SeedSequence([cfg.seed, 0x5EED]).spawn(2)
    rid = np.random.default_rng(ss_id)
    rim = np.random.default_rng(ss_img)
    rates = cfg.attribute_rates
    groups = cfg.groups

    # -- demographics and difficulty (per identity)
    male = (rid.random(n) < cfg.p_male).astype(np.int64)
    young = (rid.random(n) < cfg.p_young).astype(np.int64)
    if cfg.group_weights is None:
        gw = np.full(len(groups), 1.0 / len(groups))
    else:
        gw = np.array([cfg.group_weights[g] for g in groups], dtype=np.float64)
        gw = gw / gw.sum()
    gidx = rid.choice(len(groups), size=n, p=gw)
    gdiff = np.array([cfg.group_difficulty[g] for g in groups])[gidx]
    mdiff = np.array([cfg.male_difficulty.get(0, 0.0), cfg.male_difficulty.get(1, 0.0)])[male]
    ydiff = np.array([cfg.young_difficulty.get(0, 0.0), cfg.young_difficulty.get(1, 0.0)])[young]
    diff = np.clip(gdiff + mdiff + ydiff, 0.0, 1.0)

    def rate(name: str) -> np.ndarray:
        pair = rates[name]
        return np.where(male == 1, pair[1], pair[0])

    # -- identity-level attributes
    attrs_id: dict[str, np.ndarray] = {}
    u = rid.random(n)
    cum = np.zeros(n)
    hair_cat = np.full(n, len(HAIR_COLOURS), dtype=np.int64)  # default: other colour
    for c, name in enumerate(HAIR_COLOURS):
        p = rate(name)
        hit = (u >= cum) & (u < cum + p)
        hair_cat[hit] = c
        cum = cum + p
    for c, name in enumerate(HAIR_COLOURS):
        attrs_id[name] = (hair_cat == c).astype(np.int64)
    for name in IDENTITY_ATTRIBUTES[len(HAIR_COLOURS) :]:
        attrs_id[name] = (rid.random(n) < rate(name)).astype(np.int64)

    # -- continuous identity traits: z-scores shrunk towards the group mean
    shrink = 1.0 - cfg.difficulty_shrink * diff
    n_traits = 24
    z = rid.standard_normal((n, n_traits)) * (TRAIT_SPREAD * shrink)[:, None]
    m = male.astype(np.float64)
    old = 1.0 - young
    chubby = attrs_id["Chubby"].astype(np.float64)
    big_nose = attrs_id["Big_Nose"].astype(np.float64)
    narrow = attrs_id["Narrow_Eyes"].astype(np.float64)
    T: dict[str, np.ndarray] = {}
    T["face_a"] = (0.47 + 0.03 * m + 0.06 * chubby) + 0.045 * z[:, 0]
    T["face_b"] = (0.61 + 0.03 * m + 0.02 * old + 0.02 * chubby) + 0.045 * z[:, 1]
    T["eye_sep"] = 0.205 + 0.028 * z[:, 2]
    T["eye_y"] = -0.11 + 0.035 * z[:, 3]
    T["eye_rx"] = 0.085 + 0.016 * z[:, 4]
    T["eye_ry"] = (0.052 + 0.010 * z[:, 5]) * (1.0 - 0.55 * narrow)
    T["iris_r"] = 0.038 + 0.006 * z[:, 6]
    T["brow_dy"] = 0.115 + 0.022 * z[:, 7]
    T["brow_ry"] = 0.022 + 0.008 * m + 0.006 * z[:, 8]
    T["brow_rx"] = 0.10 + 0.015 * z[:, 9]
    T["nose_ry"] = (0.10 + 0.022 * z[:, 10]) * (1.0 + 0.35 * big_nose)
    T["nose_rx"] = (0.042 + 0.010 * z[:, 11]) * (1.0 + 0.8 * big_nose)
    T["mouth_y"] = 0.30 + 0.03 * z[:, 12]
    T["mouth_w"] = 0.15 + 0.025 * z[:, 13]
    T["lip_t"] = 0.034 + 0.008 * z[:, 14]
    T["hair_vol"] = 0.10 + 0.05 * z[:, 15]
    T["hair_len"] = np.where(male == 1, 0.10, 0.55) + 0.25 * z[:, 16]
    T["hairline"] = -0.40 + 0.06 * z[:, 17]
    tone = _group_tones(len(groups))[gidx]
    lum = TONE["lum_sd"] * z[:, 18] + TONE["pale"] * attrs_id["Pale_Skin"]
    skin = tone + lum[:, None] + TONE["warm_sd"] * np.stack([z[:, 19], np.zeros(n), -z[:, 19]], axis=1)
    tone_shift = (tone - _SKIN_MID[None, :]).mean(axis=1, keepdims=True) * TONE["hair_follow"]
    warm = np.stack([z[:, 21], np.zeros(n), -z[:, 21]], axis=1)
    hair = _HAIR_RGB[hair_cat] + tone_shift + 0.05 * z[:, 20:21] + 0.03 * warm
    T["iris_off"] = -0.40 + 0.08 * z[:, 22]
    T["nose_off"] = -0.11 + 0.03 * z[:, 23]
    T["glasses_dark"] = rid.uniform(0.05, 0.5, n)

    # -- per-image expansion
    N = n * k
    idx = np.repeat(np.arange(n), k)
    img_attrs: dict[str, np.ndarray] = {}
    for name in IDENTITY_ATTRIBUTES:
        vals = attrs_id[name][idx].copy()
        if name in FLIPPABLE and cfg.flip_prob > 0:
            p = rate(name)[idx]
            can = (p > 0) & (p < 1)
            flip = (rim.random(N) < cfg.flip_prob) & can
            vals[flip] = 1 - vals[flip]
        img_attrs[name] = vals
    male_i = male[idx]
    for name in IMAGE_ATTRIBUTES:
        pair = rates[name]
        p = np.where(male_i == 1, pair[1], pair[0])
        img_attrs[name] = (rim.random(N) < p).astype(np.int64)

    d_i = diff[idx]
    nz = cfg.nuisance * (1.0 + cfg.difficulty_nuisance * d_i)
    P: dict[str, np.ndarray] = {k_: v[idx] for k_, v in T.items()}
    P["skin"] = skin[idx]
    P["hair"] = hair[idx]
    # pose / geometry nuisance (face coordinates are [-1, 1] across the image)
    P["tx"] = NZ["shift"] * nz * rim.standard_normal(N)
    P["ty"] = 0.10 + NZ["shift"] * nz * rim.standard_normal(N)
    P["scale"] = 0.78 * np.exp(NZ["log_scale"] * nz * rim.standard_normal(N))
    P["rot"] = NZ["rotation"] * nz * rim.standard_normal(N)
    # expression jitter
    P["eye_y"] = P["eye_y"] + NZ["expression"] * 0.008 * nz * rim.standard_normal(N)
    P["brow_dy"] = P["brow_dy"] + NZ["expression"] * 0.010 * nz * rim.standard_normal(N)
    P["eye_ry"] = P["eye_ry"] * np.clip(1.0 + NZ["expression"] * 0.15 * nz * rim.standard_normal(N), 0.3, 1.6)
    P["gaze"] = NZ["expression"] * 0.015 * nz * rim.standard_normal(N)
    smile = img_attrs["Smiling"]
    P["smile"] = np.where(smile == 1, 0.9, -0.1) + 0.2 * rim.standard_normal(N)
    P["open"] = img_attrs["Mouth_Slightly_Open"] * (0.7 + 0.3 * rim.random(N))
    # appearance nuisance
    # background and clothing: luminance offset from the skin (either sign, per identity)
    # so that the face outline has the same contrast for every skin tone
    skin_lum = skin.mean(axis=1)[idx, None]
    bg_sign = np.where(rid.random(n) < 0.5, -1.0, 1.0)[idx, None]
    cl_sign = np.where(rid.random(n) < 0.5, -1.0, 1.0)[idx, None]
    P["bg"] = (
        skin_lum
        + NZ["bg_offset"] * bg_sign
        + NZ["bg_lum"] * nz[:, None] * rim.standard_normal((N, 1))
        + NZ["bg_chroma"] * nz[:, None] * rim.standard_normal((N, 3))
    )
    P["cloth"] = (
        skin_lum
        + NZ["cloth_offset"] * cl_sign
        + NZ["cloth_lum"] * nz[:, None] * rim.standard_normal((N, 1))
        + NZ["cloth_chroma"] * nz[:, None] * rim.standard_normal((N, 3))
    )
    P["hat"] = rim.uniform(0.05, 0.9, (N, 3))
    P["bright"] = NZ["brightness"] * nz * rim.standard_normal(N)
    P["grad"] = NZ["gradient"] * nz[:, None] * rim.standard_normal((N, 2))
    P["spot"] = np.concatenate(
        [rim.uniform(-0.6, 0.6, (N, 2)), (NZ["spotlight"] * nz * rim.standard_normal(N))[:, None]], axis=1
    )
    P["blur"] = np.clip(NZ["blur"] * nz * rim.random(N), 0.0, 2.0)
    P["noise"] = NZ["noise"] * nz * (0.5 + rim.random(N))
    P["contrast"] = DYNAMIC_RANGE * (1.0 - cfg.difficulty_contrast * d_i)
    for name, arr in img_attrs.items():
        P["a_" + name] = arr.astype(np.float64)
    P["Young"] = young[idx].astype(np.float64)

    identity = np.array([_identity_name(i) for i in range(n)], dtype=object)
    group_names = np.array(groups, dtype=object)
    ident = pd.DataFrame(
        {
            "identity": identity,
            "Male": male,
            "Young": young,
            "group": group_names[gidx],
            "difficulty": diff,
        }
    )
    cols: dict[str, Any] = {
        "identity": identity[idx],
        "Male": male_i,
        "Young": young[idx],
        "group": group_names[gidx][idx],
    }
    for name in ATTRIBUTES:
        cols[name] = img_attrs[name]
    frame = pd.DataFrame(cols)
    return ident, frame, P


# ----------------------------------------------------------------------------
# rendering


class _Canvas:
    """A float32 (3, B, h, w) image with per-pixel face coordinates for B images.

    ``rows`` are the images' indices into the parameter table ``P``;
    ``window`` the pixel rows/columns covered.  :meth:`select` makes a
    sub-canvas (some images and/or a window), :meth:`merge` writes it back.
    """

    def __init__(self, P: dict[str, np.ndarray], rows: np.ndarray, size: int) -> None:
        f32 = np.float32
        self.P, self.rows, self.size = P, rows, size
        self.window = (0, size, 0, size)
        g = (np.arange(size, dtype=f32) + f32(0.5)) * f32(2.0 / size) - f32(1.0)
        x = g[None, None, :]
        y = g[None, :, None]
        rot, scale = P["rot"][rows], P["scale"][rows]
        c = (np.cos(rot) / scale).astype(f32)[:, None, None]
        s = (np.sin(rot) / scale).astype(f32)[:, None, None]
        dx = x - self.col("tx")  # (B,1,W)
        dy = y - self.col("ty")  # (B,H,1)
        self.u = c * dx + s * dy  # (B,H,W)
        self.v = c * dy - s * dx
        self.au = np.abs(self.u)
        self.uu = self.u * self.u
        # anti-aliasing: 1 / (pixel size in face units)
        self.ipx = (scale * size / 2.0).astype(f32)[:, None, None]
        bg = P["bg"][rows].astype(f32)
        self.img = np.empty((3, len(rows), size, size), dtype=f32)
        self.img[:] = bg.T[:, :, None, None]

    def col(self, name: str) -> np.ndarray:
        """Per-image parameter as a (B, 1, 1) float32 array."""
        return self.P[name][self.rows].astype(np.float32)[:, None, None]

    def rgb(self, name: str) -> np.ndarray:
        """Per-image colour parameter as a (B, 3) float32 array."""
        return self.P[name][self.rows].astype(np.float32)

    def select(self, which: np.ndarray | None = None, window: tuple[int, int, int, int] | None = None) -> "_Canvas":
        """Sub-canvas of images ``which`` (positions in this canvas) and/or pixel ``window``."""
        sub = object.__new__(_Canvas)
        sub.P, sub.size = self.P, self.size
        idx = slice(None) if which is None else which
        r0, r1, c0, c1 = window if window is not None else (0, self.u.shape[1], 0, self.u.shape[2])
        sub.rows = self.rows[idx]
        sub.window = (r0, r1, c0, c1)
        sub.which = which
        for name in ("u", "v", "au", "uu"):
            setattr(sub, name, np.ascontiguousarray(getattr(self, name)[idx, r0:r1, c0:c1]))
        sub.ipx = self.ipx[idx]
        sub.img = np.ascontiguousarray(self.img[:, idx, r0:r1, c0:c1])
        return sub

    def merge(self, sub: "_Canvas") -> None:
        r0, r1, c0, c1 = sub.window
        if sub.which is None:
            self.img[:, :, r0:r1, c0:c1] = sub.img
        else:
            self.img[:, sub.which, r0:r1, c0:c1] = sub.img

    def edge(self, d: np.ndarray) -> np.ndarray:
        """Soft inside-mask from a signed distance (face units), computed in place."""
        d *= -self.ipx
        d += 0.5
        np.clip(d, 0.0, 1.0, out=d)
        return d

    def ellipse(self, cx, cy, rx, ry, *, mirror: bool = False) -> np.ndarray:
        """Soft mask of an ellipse; ``mirror``: the two ellipses at ``(+-cx, cy)``.

        The signed distance is approximated by ``f / |grad f|`` with
        ``f = (du/rx)^2 + (dv/ry)^2 - 1``: exact on the outline, so edges are
        anti-aliased over one pixel even for thin ellipses.
        """
        irx, iry = 1.0 / rx, 1.0 / ry
        a = (self.au if mirror else self.u) - cx
        a *= irx  # du / rx
        b = self.v - cy
        b *= iry  # dv / ry
        f = a * a
        f += b * b
        f -= 1.0
        a *= irx  # du / rx^2
        b *= iry  # dv / ry^2
        a *= a
        b *= b
        a += b
        a += np.float32(1e-12)
        np.sqrt(a, out=a)
        a *= 2.0
        f /= a
        return self.edge(f)

    def paint(self, mask: np.ndarray, rgb: np.ndarray, alpha: np.ndarray | None = None) -> None:
        """Composite colour ``rgb`` (B, 3) with coverage ``mask`` (B, h, w) (times ``alpha``)."""
        if alpha is not None:
            mask = mask * alpha
        tmp = rgb.T[:, :, None, None] - self.img
        tmp *= mask
        self.img += tmp


_FEATURE_MARGIN = 0.03  # face units around the facial features' support


def _feature_window(cv: _Canvas) -> tuple[int, int, int, int]:
    """Pixel window holding every facial feature (eyes .. mouth) of the canvas' images."""
    col = lambda name: cv.P[name][cv.rows]  # noqa: E731
    eye_sep, eye_y, eye_rx, eye_ry = col("eye_sep"), col("eye_y"), col("eye_rx"), col("eye_ry")
    m = _FEATURE_MARGIN
    half_w = np.maximum.reduce(
        [
            eye_sep + np.maximum(1.35 * eye_rx, eye_rx + 0.066),
            eye_sep + np.abs(col("gaze")) + col("iris_r"),
            eye_sep + 0.01 + col("brow_rx"),
            col("mouth_w"),
            col("nose_rx"),
        ]
    ) + m
    top = np.minimum.reduce(
        [
            eye_y - col("brow_dy") - col("brow_ry"),
            eye_y - eye_ry - 0.071,
            eye_y - 0.05 - 1.6 * eye_ry,
        ]
    ) - m
    smile = col("smile")
    bottom = np.maximum.reduce(
        [
            col("mouth_y") + col("lip_t") + np.maximum(0.0, -smile) * _SMILE,
            col("mouth_y") + 0.05 * col("open") + 0.01,
            eye_y + 2.0 * col("nose_ry") + 0.03,
            eye_y + eye_ry + 0.04,
        ]
    ) + m
    c, s, scale = np.cos(col("rot")), np.sin(col("rot")), col("scale")
    xs, ys = [], []
    for cu, cvv in ((-half_w, top), (half_w, top), (-half_w, bottom), (half_w, bottom)):
        xs.append(col("tx") + scale * (c * cu - s * cvv))
        ys.append(col("ty") + scale * (s * cu + c * cvv))
    size = cv.size
    to_px = lambda t: (t + 1.0) * size / 2.0  # noqa: E731
    c0 = int(max(0, math.floor(to_px(np.min(xs))) - 2))
    c1 = int(min(size, math.ceil(to_px(np.max(xs))) + 2))
    r0 = int(max(0, math.floor(to_px(np.min(ys))) - 2))
    r1 = int(min(size, math.ceil(to_px(np.max(ys))) + 2))
    return r0, max(r1, r0 + 1), c0, max(c1, c0 + 1)


_SMILE = 0.1  # lift of the mouth corners (face units) at smile = 1


def _facial_hair_rgb(cv: _Canvas) -> np.ndarray:
    """Beard and mustache colour: the hair colour, but always clearly darker than the skin."""
    return np.minimum(cv.rgb("hair") * np.float32(0.8), cv.rgb("skin") - np.float32(0.18))


_LIP_OFFSET = np.array([0.02, -0.12, -0.08], np.float32)
_LIPSTICK = np.array([0.72, 0.08, 0.16], np.float32)
_MOUTH_DARK = np.array([0.12, 0.03, 0.04], np.float32)
_SHADOW = np.array([0.18, 0.0, 0.22], np.float32)


def _draw_head(cv: _Canvas) -> None:
    """Clothing, neck, hair, face, beard and the hair over the forehead."""
    f32 = np.float32
    col = cv.col
    skin, hair = cv.rgb("skin"), cv.rgb("hair")
    face_a, face_b, hair_vol = col("face_a"), col("face_b"), col("hair_vol")
    bald = col("a_Bald")
    v = cv.v

    cv.paint(cv.ellipse(0.0, 1.08, 0.85, 0.42), cv.rgb("cloth"))
    cv.paint(cv.ellipse(0.0, 0.62, 0.19, 0.40), skin - f32(0.05))

    # hair behind the face, down to hair_len (bald: only below the temples)
    hb_a, hb_b = face_a + hair_vol, face_b + f32(0.8) * hair_vol
    hb_cy = f32(-0.06) - f32(0.3) * hair_vol
    back = cv.ellipse(0.0, hb_cy, hb_a, hb_b + f32(0.25))
    back *= cv.edge(v - (face_b * f32(0.3) + col("hair_len")))
    back *= 1.0 - bald * cv.edge(v + f32(0.12))
    cv.paint(back, hair)

    face = cv.ellipse(0.0, 0.0, face_a, face_b)
    cv.paint(face, skin)

    # beard on the jaw (images without No_Beard only)
    which = np.flatnonzero(cv.P["a_No_Beard"][cv.rows] == 0)
    if len(which):
        sub = cv.select(which)
        beard = face[which] * sub.edge(f32(0.12) - sub.v + f32(0.25) * sub.uu)
        sub.paint(beard, _facial_hair_rgb(sub), alpha=f32(0.85))
        cv.merge(sub)

    # hair over the forehead: a hairline curving down to the temples, or straight bangs
    bangs = col("a_Bangs")
    hairline = col("hairline") * (1.0 - bangs) + f32(-0.27) * bangs
    top = cv.ellipse(0.0, hb_cy, hb_a, hb_b)
    top *= cv.edge(v - (hairline + f32(0.9) * (1.0 - bangs) * cv.uu))
    cv.paint(top, hair, alpha=1.0 - bald)


def _draw_features(cv: _Canvas) -> None:
    """Eyes, brows, make-up, nose, mouth, mustache and glasses (inside a window)."""
    f32 = np.float32
    col = cv.col
    skin, hair = cv.rgb("skin"), cv.rgb("hair")
    v, au = cv.v, cv.au
    eye_sep, eye_y, eye_rx, eye_ry = col("eye_sep"), col("eye_y"), col("eye_rx"), col("eye_ry")

    makeup = col("a_Heavy_Makeup")
    if makeup.any():
        shadow = cv.ellipse(eye_sep, eye_y - f32(0.03), eye_rx * f32(1.35), eye_ry * f32(1.6) + f32(0.02), mirror=True)
        cv.paint(shadow, skin * f32(0.55) + _SHADOW, alpha=makeup * f32(0.8))
    brow_rgb = np.minimum(hair, skin - f32(0.3)) * f32(0.9)
    brows = cv.ellipse(eye_sep + f32(0.01), eye_y - col("brow_dy"), col("brow_rx"), col("brow_ry"), mirror=True)
    cv.paint(brows, brow_rgb)
    old = 1.0 - col("Young")
    if old.any():  # under-eye bags
        bags = cv.ellipse(eye_sep, eye_y + eye_ry + f32(0.02), eye_rx * f32(0.9), f32(0.02), mirror=True)
        cv.paint(bags, skin - f32(0.12), alpha=old)
    cv.paint(cv.ellipse(eye_sep, eye_y, eye_rx, eye_ry, mirror=True), skin + f32(0.18))
    iris_r = col("iris_r")
    iris = cv.ellipse(eye_sep + col("gaze"), eye_y, iris_r, np.minimum(iris_r, eye_ry), mirror=True)
    cv.paint(iris, skin + cv.rgb("iris_off")[:, None])

    nose_rx, nose_ry = col("nose_rx"), col("nose_ry")
    nose_cy = eye_y + nose_ry + f32(0.03)
    cv.paint(cv.ellipse(0.0, nose_cy, nose_rx, nose_ry), skin + cv.rgb("nose_off")[:, None])
    nostril_r = f32(0.45) * nose_rx
    nostril_y = nose_cy + nose_ry - nostril_r
    nostrils = cv.ellipse(f32(0.55) * nose_rx, nostril_y, nostril_r, f32(0.7) * nostril_r, mirror=True)
    cv.paint(nostrils, skin - f32(0.25))

    # lips: a band around a parabola; smiling lifts the corners
    mouth_y, mouth_w, lip_t, smile = col("mouth_y"), col("mouth_w"), col("lip_t"), col("smile")
    curve = v - mouth_y
    curve += (smile * f32(_SMILE) / (mouth_w * mouth_w)) * cv.uu
    lips = np.abs(curve)
    lips -= lip_t
    lips = cv.edge(lips)
    lips *= cv.edge(au - mouth_w)
    cv.paint(lips, skin + _LIP_OFFSET)
    lipstick = col("a_Wearing_Lipstick")
    if lipstick.any():
        cv.paint(lips, np.broadcast_to(_LIPSTICK, skin.shape), alpha=lipstick * f32(0.9))
    opening = col("open")
    if opening.any():
        inner_ry = opening * f32(0.05) + f32(1e-3)
        inner = cv.ellipse(0.0, mouth_y - smile * f32(0.15 * _SMILE), mouth_w * f32(0.75), inner_ry)
        cv.paint(inner, np.broadcast_to(_MOUTH_DARK, skin.shape), alpha=(opening > 0).astype(f32))

    which = np.flatnonzero(cv.P["a_Mustache"][cv.rows] == 1)
    if len(which):
        sub = cv.select(which)
        mustache_y = sub.col("mouth_y") - sub.col("lip_t") - f32(0.04)
        m = sub.ellipse(0.0, mustache_y, sub.col("mouth_w") * f32(0.95), f32(0.04))
        sub.paint(m, _facial_hair_rgb(sub) * np.float32(0.6))  # darker than a beard under it
        cv.merge(sub)

    which = np.flatnonzero(cv.P["a_Eyeglasses"][cv.rows] == 1)
    if len(which):
        sub = cv.select(which)
        sep, ey = sub.col("eye_sep"), sub.col("eye_y")
        lens_rx, lens_ry = sub.col("eye_rx") + f32(0.05), sub.col("eye_ry") + f32(0.055)
        du = (sub.au - sep) * (1.0 / lens_rx)
        dv = (sub.v - ey) * (1.0 / lens_ry)
        k = np.sqrt(du * du + dv * dv)
        k -= 1.0
        k *= np.minimum(lens_rx, lens_ry)
        ring = sub.edge(np.abs(k) - f32(0.016))
        bridge = sub.edge(sub.au - (sep - lens_rx + f32(0.01))) * sub.edge(np.abs(sub.v - ey + f32(0.02)) - f32(0.014))
        np.maximum(ring, bridge, out=ring)
        sub.paint(ring, np.repeat(sub.rgb("glasses_dark")[:, None], 3, axis=1))
        cv.merge(sub)


def _draw_hat(cv: _Canvas) -> None:
    """A crown above the hairline plus a brim (images with Wearing_Hat only)."""
    f32 = np.float32
    which = np.flatnonzero(cv.P["a_Wearing_Hat"][cv.rows] == 1)
    if not len(which):
        return
    sub = cv.select(which)
    width = sub.col("face_a") + sub.col("hair_vol")
    hat_y = sub.col("hairline") + f32(0.02)
    crown = sub.ellipse(0.0, hat_y, width + f32(0.06), f32(0.55)) * sub.edge(sub.v - hat_y)
    brim = sub.ellipse(0.0, hat_y, width + f32(0.22), f32(0.06))
    np.maximum(crown, brim, out=crown)
    sub.paint(crown, sub.rgb("hat"))
    cv.merge(sub)


def _render(P: dict[str, np.ndarray], rows: np.ndarray, size: int, noise_rng: np.random.Generator) -> np.ndarray:
    """Render images ``rows`` of the parameter table: uint8 (B, size, size, 3)."""
    f32 = np.float32
    cv = _Canvas(P, rows, size)
    _draw_head(cv)
    sub = cv.select(window=_feature_window(cv))
    _draw_features(sub)
    cv.merge(sub)
    _draw_hat(cv)

    img = cv.img
    # lighting, additive so that it has the same effect on every skin tone: a linear
    # gradient and a spotlight (both zero-mean over the image) and a small uniform offset.
    # A large uniform offset would lie along the direction in which groups differ (skin
    # tone) and make groups unequally hard for cosine-similarity matchers.
    g = (np.arange(size, dtype=f32) + f32(0.5)) * f32(2.0 / size) - f32(1.0)
    gx, gy = g[None, None, :], g[None, :, None]
    grad, spot = cv.rgb("grad"), cv.rgb("spot")
    rx = gx - spot[:, 0, None, None]
    ry = gy - spot[:, 1, None, None]
    light = rx * rx + ry * ry
    light -= light.mean(axis=(1, 2), keepdims=True)
    light *= -spot[:, 2, None, None]
    light += grad[:, 0, None, None] * gx
    light += grad[:, 1, None, None] * gy
    light += cv.col("bright")
    img += light
    # contrast around mid-grey (dynamic range and difficulty), in 0..255 units
    img -= f32(0.5)
    img *= cv.col("contrast") * f32(255.0)
    img += f32(128.0)  # 127.5 + 0.5 for rounding
    _blur(img, cv.P["blur"][rows].astype(f32) * f32(max(1.0, size / 64.0)))
    noise = noise_rng.standard_normal(img.shape, dtype=f32)
    noise *= cv.col("noise") * f32(255.0)
    img += noise
    np.clip(img, 0.0, 255.0, out=img)
    return img.astype(np.uint8).transpose(1, 2, 3, 0)


def _blur(img: np.ndarray, strength: np.ndarray) -> None:
    """Per-image blur in place: ``ceil(strength)`` diffusion steps of total ``strength``.

    One step of weight ``w`` adds ``w / 4`` times the 5-point Laplacian (edges
    replicated), i.e. about a [w/4, 1 - w/2, w/4] filter along each axis.
    """
    n_steps = int(math.ceil(float(strength.max()))) if strength.size else 0
    if n_steps == 0:
        return
    w = (strength / (4.0 * n_steps)).astype(np.float32)[None, :, None, None]
    for _ in range(n_steps):
        lap = img * np.float32(-4.0)
        lap[..., 1:, :] += img[..., :-1, :]
        lap[..., :-1, :] += img[..., 1:, :]
        lap[..., 0, :] += img[..., 0, :]
        lap[..., -1, :] += img[..., -1, :]
        lap[..., :, 1:] += img[..., :, :-1]
        lap[..., :, :-1] += img[..., :, 1:]
        lap[..., :, 0] += img[..., :, 0]
        lap[..., :, -1] += img[..., :, -1]
        lap *= w
        img += lap


# ----------------------------------------------------------------------------
# public API

_CHUNK_PIXELS = 12 * 64 * 64


def _chunks(cfg: SyntheticFacesConfig) -> list[tuple[int, int]]:
    """Identity ranges rendered together (whole identities, ~_CHUNK_PIXELS pixels)."""
    per_img = cfg.size * cfg.size
    ids_per_chunk = max(1, _CHUNK_PIXELS // (per_img * cfg.images_per_identity))
    return [(a, min(cfg.n_identities, a + ids_per_chunk)) for a in range(0, cfg.n_identities, ids_per_chunk)]


def _iter_render(cfg: SyntheticFacesConfig, P: dict[str, np.ndarray]):
    """Yield ``(slice, uint8 images)`` chunk by chunk (whole identities per chunk)."""
    k = cfg.images_per_identity
    noise_ss = np.random.SeedSequence([cfg.seed, 0x0015E])
    for a, b in _chunks(cfg):
        rng = np.random.default_rng(np.random.SeedSequence(noise_ss.entropy, spawn_key=(a,)))
        sl = slice(a * k, b * k)
        yield sl, _render(P, np.arange(sl.start, sl.stop), cfg.size, rng)


def generate_faces(config: SyntheticFacesConfig | dict | None = None) -> SyntheticFaces:
    """Render a synthetic face set in memory (deterministic given the config).

    ``config`` may be a :class:`SyntheticFacesConfig`, a mapping of its fields
    or None (defaults).  Raises ConfigError for an invalid mapping.
    """
    cfg = _as_config(config)
    ident, frame, P = _sample(cfg)
    images = np.empty((cfg.n_images, cfg.size, cfg.size, 3), dtype=np.uint8)
    for sl, batch in _iter_render(cfg, P):
        images[sl] = batch
    return SyntheticFaces(images=images, frame=frame, identities=ident, config=cfg)


def _partition(cfg: SyntheticFacesConfig) -> np.ndarray:
    """Identity-disjoint split 0/1/2 (train/val/test), 80/10/10 by identity."""
    n = cfg.n_identities
    perm = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0x5917])).permutation(n)
    n_train = int(round(0.8 * n))
    n_val = int(round(0.1 * n))
    part = np.empty(n, dtype=np.int64)
    part[perm[:n_train]] = 0
    part[perm[n_train : n_train + n_val]] = 1
    part[perm[n_train + n_val :]] = 2
    return part


def _encode_png(array: np.ndarray) -> bytes:
    from io import BytesIO

    from PIL import Image

    buf = BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


_OUTPUTS = ("images", "celeba", "demographics.csv", "attributes.csv", "synthetic.json")


def _prepare_out_dir(out: Path) -> None:
    """Create ``out``, or clear an earlier output of write_synthetic; refuse other content."""
    import shutil

    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: output path exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    entries = {p.name for p in out.iterdir()}
    if not entries:
        return
    if "synthetic.json" not in entries or not entries <= set(_OUTPUTS):
        raise ConfigError(
            f"{out}: output folder is not empty and does not hold (only) an earlier synthetic face set; "
            "choose an empty or new folder"
        )
    for name in _OUTPUTS:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def write_synthetic(
    out_dir: str | Path,
    config: SyntheticFacesConfig | dict | None = None,
    *,
    layout: Layout = "folders",
    progress: bool = False,
) -> Path:
    """Render a synthetic face set and write it to ``out_dir``; returns ``out_dir``.

    Layouts:

    * ``"folders"``: ``images/<identity>/<k>.png`` (``k`` zero-padded),
      ``demographics.csv`` (identity, Male, Young, group) and ``attributes.csv``
      (one row per image: ``path`` relative to ``out_dir``, identity, Male,
      Young, group and every attribute);
    * ``"celeba"``: ``celeba/img_align_celeba/000001.png ...`` with
      ``celeba/list_attr_celeba.txt`` (values -1/1, includes Male and Young),
      ``celeba/identity_CelebA.txt`` (identity number: ``id00042`` -> 42) and
      ``celeba/list_eval_partition.txt`` (identity-disjoint 80/10/10);
      ``attributes.csv`` is written too, with ``path`` to the CelebA images;
    * ``"both"``: both; ``attributes.csv`` has ``path`` (folders) and
      ``celeba_path``.

    ``synthetic.json`` records the config used.  Output is deterministic.
    ``out_dir`` must be empty, missing, or hold an earlier output of this
    function, which is replaced (so no stale images remain); anything else
    raises ConfigError.
    """
    if layout not in ("folders", "celeba", "both"):
        raise ConfigError(f"layout must be 'folders', 'celeba' or 'both', not {layout!r}")
    cfg = _as_config(config)
    out = Path(out_dir)
    _prepare_out_dir(out)
    ident, frame, P = _sample(cfg)
    k = cfg.images_per_identity
    width = max(3, len(str(k - 1)))
    n = cfg.n_images
    folders = layout in ("folders", "both")
    celeba = layout in ("celeba", "both")

    rel_folder = [f"images/{frame['identity'].iat[i]}/{i % k:0{width}d}.png" for i in range(n)]
    celeba_names = [f"{i + 1:06d}.png" for i in range(n)]
    if folders:
        for name in ident["identity"]:
            (out / "images" / name).mkdir(parents=True, exist_ok=True)
    if celeba:
        (out / "celeba" / "img_align_celeba").mkdir(parents=True, exist_ok=True)

    prog = None
    if progress:
        from rich.progress import Progress

        prog = Progress(transient=False)
        prog.start()
        task = prog.add_task("synthetic faces", total=n)
    try:
        for sl, batch in _iter_render(cfg, P):
            for j, i in enumerate(range(sl.start, sl.stop)):
                data = _encode_png(batch[j])
                if folders:
                    (out / rel_folder[i]).write_bytes(data)
                if celeba:
                    (out / "celeba" / "img_align_celeba" / celeba_names[i]).write_bytes(data)
            if prog is not None:
                prog.update(task, advance=sl.stop - sl.start)
    finally:
        if prog is not None:
            prog.stop()

    table = frame.copy()
    if folders:
        table.insert(0, "path", rel_folder)
        if celeba:
            table.insert(1, "celeba_path", [f"celeba/img_align_celeba/{c}" for c in celeba_names])
        ident[["identity", "Male", "Young", "group"]].to_csv(out / "demographics.csv", index=False)
    else:
        table.insert(0, "path", [f"celeba/img_align_celeba/{c}" for c in celeba_names])
    table.to_csv(out / "attributes.csv", index=False)

    if celeba:
        _write_celeba_annotations(out / "celeba", cfg, frame, celeba_names)

    meta = {
        "generator": "fairvision.data.synthetic",
        "format_version": 1,
        "layout": layout,
        "n_images": n,
        "config": cfg.model_dump(mode="json"),
    }
    (out / "synthetic.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out


def _write_celeba_annotations(root: Path, cfg: SyntheticFacesConfig, frame: pd.DataFrame, names: list[str]) -> None:
    binary = ["Male", "Young", *ATTRIBUTES]
    n = len(frame)
    values = frame[binary].to_numpy() * 2 - 1
    lines = [str(n), " ".join(binary)]
    lines += [f"{names[i]} " + " ".join(str(int(x)) for x in values[i]) for i in range(n)]
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")

    numbers = frame["identity"].str.slice(2).astype(int).to_numpy()
    (root / "identity_CelebA.txt").write_text(
        "".join(f"{names[i]} {numbers[i]}\n" for i in range(n)), encoding="utf-8"
    )
    part = _partition(cfg)[np.arange(n) // cfg.images_per_identity]
    (root / "list_eval_partition.txt").write_text(
        "".join(f"{names[i]} {part[i]}\n" for i in range(n)), encoding="utf-8"
    )
