"""Sampling identities, demographics, traits, attributes and per-image nuisance (part of :mod:`fairvision.data.synthetic`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fairvision.data.synthetic.config import (
    ATTRIBUTES,
    DYNAMIC_RANGE,
    FLIPPABLE,
    HAIR_COLOURS,
    IDENTITY_ATTRIBUTES,
    IMAGE_ATTRIBUTES,
    NZ,
    TONE,
    TRAIT_SPREAD,
    SyntheticFacesConfig,
)


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
    ss_id, ss_img, ss_cue = np.random.SeedSequence([cfg.seed, 0x5EED]).spawn(3)
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
    cue_table = [cfg.cues(g) for g in groups]
    for gi, cue in enumerate(cue_table):  # traits outside a group's cue region sit at its mean
        if cue.hidden_traits:
            z[np.ix_(gidx == gi, cue.hidden_traits)] = 0.0
    # traits are computed per image: identical for the images of an identity, except the traits a
    # group's ``jitter`` redraws on every image
    N = n * k
    idx = np.repeat(np.arange(n), k)
    rcue = np.random.default_rng(ss_cue)
    z = _jitter(z[idx], cue_table, gidx[idx], rcue)
    m = male.astype(np.float64)[idx]
    old = 1.0 - young[idx]
    chubby = attrs_id["Chubby"].astype(np.float64)[idx]
    big_nose = attrs_id["Big_Nose"].astype(np.float64)[idx]
    narrow = attrs_id["Narrow_Eyes"].astype(np.float64)[idx]
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
    T["hair_len"] = np.where(m == 1, 0.10, 0.55) + 0.25 * z[:, 16]
    T["hairline"] = -0.40 + 0.06 * z[:, 17]
    tone = _group_tones(len(groups))[gidx][idx]
    lum = TONE["lum_sd"] * z[:, 18] + TONE["pale"] * attrs_id["Pale_Skin"][idx]
    skin = tone + lum[:, None] + TONE["warm_sd"] * np.stack([z[:, 19], np.zeros(N), -z[:, 19]], axis=1)
    tone_shift = (tone - _SKIN_MID[None, :]).mean(axis=1, keepdims=True) * TONE["hair_follow"]
    warm = np.stack([z[:, 21], np.zeros(N), -z[:, 21]], axis=1)
    hair = _HAIR_RGB[hair_cat[idx]] + tone_shift + 0.05 * z[:, 20:21] + 0.03 * warm
    T["iris_off"] = -0.40 + 0.08 * z[:, 22]
    T["nose_off"] = -0.11 + 0.03 * z[:, 23]
    T["glasses_dark"] = rid.uniform(0.05, 0.5, n)[idx]

    # -- per-image attributes and nuisance
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
    P: dict[str, np.ndarray] = dict(T)
    P["skin"] = skin
    P["hair"] = hair
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
    skin_lum = skin.mean(axis=1)[:, None]
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
    P.update(_sample_cues(cfg, cue_table, gidx, idx, rcue))
    P["skin"] = P["skin"] + P.pop("chroma")
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


def _jitter(z: np.ndarray, cues: list, gidx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-image trait z-scores: for a group with ``jitter > 0``, the traits outside its cue region
    are redrawn on every image (sd ``jitter * TRAIT_SPREAD``): they look like identity traits but
    carry none."""
    for gi, cue in enumerate(cues):
        if cue.jitter > 0 and cue.hidden_traits:
            rows = np.flatnonzero(gidx == gi)
            hidden = cue.hidden_traits
            z[np.ix_(rows, hidden)] = cue.jitter * TRAIT_SPREAD * rng.standard_normal((len(rows), len(hidden)))
    return z


#: Iso-luminant colour axes (red-green, blue-yellow), each summing to zero over RGB.
_CHROMA_AXES = np.array([[1.0, -1.0, 0.0], [0.5, 0.5, -1.0]]) / np.sqrt([[2.0], [1.5]])


def _sample_cues(cfg: SyntheticFacesConfig, cues: list, gidx: np.ndarray, idx: np.ndarray,
                 rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-image parameters of the group cue channels (texture, chroma, occluders). Drawn from a
    stream of their own, so that configs without cues render exactly as before."""
    n, N = len(gidx), len(idx)
    texture = np.array([c.texture for c in cues])[gidx]
    chroma = np.array([c.chroma for c in cues])[gidx]
    # texture: two gratings per identity, orientation and period (pixels) identity-specific
    theta = rng.uniform(0.0, np.pi, (n, 2))
    theta[:, 1] = theta[:, 0] + rng.uniform(np.pi / 4, 3 * np.pi / 4, n)  # >= 45 degrees apart: never cancel
    period_px = rng.uniform(2.5, 4.0, (n, 2))
    face_units_per_px = 2.0 / (cfg.size * 0.78)
    out = {
        "tex_amp": texture[idx],
        "tex_theta": theta[idx],
        "tex_freq": (2.0 * np.pi / (period_px * face_units_per_px))[idx],
        "tex_phase": rng.uniform(0.0, 2.0 * np.pi, (N, 2)),
        "chroma": ((chroma[:, None] * rng.standard_normal((n, 2))) @ _CHROMA_AXES)[idx],
    }
    kind = np.array([{"none": 0, "upper": 1, "lower": 2}[c.occlusion] for c in cues])[gidx][idx]
    p = np.array([c.occlusion_p for c in cues])[gidx][idx]
    out["occ_kind"] = np.where(rng.random(N) < p, kind, 0).astype(np.float64)
    out["occ_rgb"] = rng.uniform(0.1, 0.9, (N, 3))
    return out
