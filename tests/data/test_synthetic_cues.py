"""Tests of the synthetic generator's per-group cue channels (``group_cues``): each knob has the
documented, measurable effect on pixels, and nothing else changes.

Measurements use ``nuisance=0``, so that every face sits at the nominal place of the image (centre
``y = 0.10``, scale 0.78 in the [-1, 1] image coordinates of ``sample.py``) and face regions can be
addressed in face coordinates (``u`` across, ``v`` down; the face ellipse spans about
``|u| < 0.47``, ``-0.61 < v < 0.61``; eyes at ``v = -0.11``, mouth at ``v = 0.30``).  Most tests
compare two renders with the same seed: cues come from a random stream of their own, so the same
seed gives the same identities, attributes and nuisance with and without a cue.
"""

from __future__ import annotations

import numpy as np
import pytest

from fairvision.data.synthetic import DEFAULT_ATTRIBUTE_RATES, SyntheticFacesConfig, generate_faces
from fairvision.data.synthetic.sample import _sample
from fairvision.errors import ConfigError

SIZE = 48
#: Every binary attribute constant (brown-haired, beardless, no glasses/hat/smile ...): identities then
#: differ only by their continuous traits, which are what ``region`` and ``jitter`` act on.
PLAIN_RATES = {name: (0.0, 0.0) for name in DEFAULT_ATTRIBUTE_RATES}
PLAIN_RATES.update(Brown_Hair=(1.0, 1.0), No_Beard=(1.0, 1.0))
PLAIN = dict(attribute_rates=PLAIN_RATES, flip_prob=0.0, p_male=0.0, p_young=1.0)

# face regions (u0, u1, v0, v1) in face coordinates
UPPER_FACE = (-0.35, 0.35, -0.45, -0.05)  # hairline, brows, eyes
LOWER_FACE = (-0.25, 0.25, 0.2, 0.45)  # mouth and chin (inside the face: the background varies by identity)
FOREHEAD = (-0.3, 0.3, -0.7, -0.3)  # under a headscarf (upper occluder)
MOUTH_AND_CHIN = (-0.25, 0.25, 0.1, 0.45)  # under a mask (lower occluder)
CHEEK = (0.2, 0.34, 0.0, 0.12)  # plain skin beside the nose, below the eyes
FACE = (-0.3, 0.3, -0.3, 0.4)  # inside the face ellipse


# --------------------------------------------------------------------------- helpers


def config(cues: dict | None = None, *, n: int = 16, k: int = 4, seed: int = 0, nuisance: float = 0.0,
           groups: tuple[str, ...] = ("A",), difficulty: float = 0.0, plain: bool = True, size: int = SIZE,
           **kw) -> SyntheticFacesConfig:
    """A small config: ``cues`` is the ``group_cues`` mapping; ``plain``: every binary attribute constant
    (:data:`PLAIN`); ``difficulty`` of every group."""
    return SyntheticFacesConfig(
        n_identities=n, images_per_identity=k, size=size, seed=seed, nuisance=nuisance,
        group_difficulty={g: difficulty for g in groups}, group_cues=cues or {}, **(PLAIN if plain else {}), **kw,
    )


def render(cues: dict | None = None, **kw) -> np.ndarray:
    """Images of :func:`config` as float64 (n, k, size, size, 3)."""
    cfg = config(cues, **kw)
    return generate_faces(cfg).images.astype(np.float64).reshape(cfg.n_identities, cfg.images_per_identity,
                                                                  cfg.size, cfg.size, 3)


def face_rows(v: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Pixel row through face coordinate ``v`` (nominal placement)."""
    return np.floor((0.10 + 0.78 * v + 1.0) * size / 2.0).astype(int)


def region(images: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The pixels of face-coordinate box ``(u0, u1, v0, v1)`` (nominal placement, i.e. ``nuisance=0``)."""
    u0, u1, v0, v1 = box
    size = images.shape[-2]
    return images[..., _px(0.10 + 0.78 * v0, size) : _px(0.10 + 0.78 * v1, size), face_cols(u0, u1, size), :]


def _px(t: float, size: int) -> int:
    return int(round((t + 1.0) * size / 2.0))


def face_cols(u0: float, u1: float, size: int = SIZE) -> slice:
    """Pixel columns from face coordinate ``u0`` to ``u1`` (nominal placement)."""
    return slice(_px(0.78 * u0, size), _px(0.78 * u1, size))


def between_identity_var(images: np.ndarray, box, *, structure: bool = False) -> float:
    """Variance across identities of the identity-mean images, averaged over the box's pixels;
    ``structure``: of the box minus its mean colour in each image (shapes, not the overall tone)."""
    x = region(images, box)
    if structure:
        x = x - x.mean(axis=(-3, -2), keepdims=True)
    return float(x.mean(axis=1).var(axis=0).mean())


def within_identity_var(images: np.ndarray, box) -> float:
    """Variance across the images of one identity, averaged over identities and the box's pixels."""
    return float(region(images, box).var(axis=1).mean())


def laplacian_energy(images: np.ndarray) -> np.ndarray:
    """Mean absolute 5-point Laplacian (summed over channels) per image: fine-scale detail."""
    x = images.sum(axis=-1)
    lap = 4.0 * x[..., 1:-1, 1:-1] - x[..., :-2, 1:-1] - x[..., 2:, 1:-1] - x[..., 1:-1, :-2] - x[..., 1:-1, 2:]
    return np.abs(lap).mean(axis=(-2, -1))


def power_spectrum(images: np.ndarray) -> np.ndarray:
    """Power spectrum of the grey-level images (last two axes), mean removed."""
    x = images.mean(axis=-1)
    x = x - x.mean(axis=(-2, -1), keepdims=True)
    return np.abs(np.fft.fft2(x)) ** 2


def peak_frequency(images: np.ndarray) -> np.ndarray:
    """Radial frequency (cycles per pixel) of the strongest Fourier component of each image."""
    size = images.shape[-2]
    power = power_spectrum(images)
    f = np.fft.fftfreq(size)
    radius = np.hypot(f[:, None], f[None, :])
    flat = power.reshape(*power.shape[:-2], -1)
    return radius.ravel()[flat.argmax(axis=-1)]


def luminance_and_chroma(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB -> (..., 3): luminance (R+G+B)/3, red-green R-G and blue-yellow (R+G)/2-B."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return np.stack([(r + g + b) / 3.0, r - g, (r + g) / 2.0 - b], axis=-1)


def pairwise_corr(x: np.ndarray) -> np.ndarray:
    """Correlation matrix of the rows of ``x`` (2-D)."""
    x = x - x.mean(axis=1, keepdims=True)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    return x @ x.T


# --------------------------------------------------------------------------- determinism and isolation

ONE_OF_EACH = [
    {"region": "upper"},
    {"region": "lower", "jitter": 1.0},
    {"occlusion": "upper"},
    {"occlusion": "lower", "occlusion_p": 0.5},
    {"texture": 0.3},
    {"chroma": 0.1},
    {"region": "upper", "jitter": 2.0, "occlusion": "lower", "texture": 0.5, "chroma": 0.2},
]


@pytest.mark.parametrize("cue", ONE_OF_EACH)
def test_same_config_and_seed_give_identical_bytes(cue):
    a = render({"A": cue}, n=8, k=2, seed=4, nuisance=1.0, plain=False)
    b = render({"A": cue}, n=8, k=2, seed=4, nuisance=1.0, plain=False)
    assert a.tobytes() == b.tobytes()
    assert render({"A": cue}, n=8, k=2, seed=5, nuisance=1.0, plain=False).tobytes() != a.tobytes()


@pytest.mark.parametrize(
    "group_cues",
    [
        {},
        {"A": {}},
        {"A": {"region": "all"}, "B": {"occlusion": "none"}},
        {"A": {"occlusion_p": 0.3}},  # no occluder kind
        {"A": {"occlusion": "upper", "occlusion_p": 0.0}, "C": {"occlusion": "lower", "occlusion_p": 0.0}},
        {"B": {"texture": 0.0, "chroma": 0.0}},
    ],
)
def test_neutral_cues_render_exactly_as_no_cues(group_cues):
    kw = dict(n=24, k=3, seed=3, nuisance=1.0, groups=("A", "B", "C", "D"), plain=False, size=32)
    assert render(group_cues, **kw).tobytes() == render(None, **kw).tobytes()


@pytest.mark.parametrize("cue", ONE_OF_EACH)
def test_a_cue_changes_only_the_images_of_its_group(cue):
    """The cue stream is separate and per group: images of groups without cues are byte-identical
    to a render without any cues (same seed), those of the cued group are not."""
    cfg = dict(n_identities=24, images_per_identity=3, size=32, seed=3, group_difficulty={"A": 0.0, "B": 0.0, "C": 0.0})
    without = generate_faces(SyntheticFacesConfig(**cfg))
    cued = generate_faces(SyntheticFacesConfig(**cfg, group_cues={"B": cue}))
    in_b = cued.frame["group"].to_numpy() == "B"
    assert 0 < in_b.sum() < len(in_b)
    assert cued.frame.equals(without.frame) and cued.identities.equals(without.identities)
    assert cued.images[~in_b].tobytes() == without.images[~in_b].tobytes()
    assert cued.images[in_b].tobytes() != without.images[in_b].tobytes()


def test_config_with_cues_round_trips_through_its_json_dump():
    cfg = SyntheticFacesConfig(n_identities=6, images_per_identity=2, size=32, group_cues={"B": ONE_OF_EACH[-1]})
    again = SyntheticFacesConfig.from_dict(cfg.model_dump(mode="json"))
    assert again == cfg
    assert generate_faces(again).images.tobytes() == generate_faces(cfg).images.tobytes()
    assert cfg.cues("A") == cfg.cues("D") and cfg.cues("A").region == "all" and cfg.cues("B").texture == 0.5


# --------------------------------------------------------------------------- region and jitter


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    ("where", "kept", "hidden"), [("upper", UPPER_FACE, LOWER_FACE), ("lower", LOWER_FACE, UPPER_FACE)]
)
def test_region_confines_identity_differences_to_that_part_of_the_face(where, kept, hidden, seed):
    """With region "upper" the shapes in the upper face differ between identities as much as with "all",
    those in the lower face hardly (they sit at the group mean), and symmetrically for "lower".

    Measured on the boxes' structure (each image's mean colour removed): skin tone sits at the group
    mean with either region, so it would lower the kept region's variance as well.  The lower face
    carries far less pixel variance than the upper one (mouth and chin move by fractions of a pixel).
    """
    everywhere = render({"A": {"region": "all"}}, n=24, seed=seed)
    confined = render({"A": {"region": where}}, n=24, seed=seed)
    hidden_all, hidden_confined = (between_identity_var(x, hidden, structure=True) for x in (everywhere, confined))
    kept_all, kept_confined = (between_identity_var(x, kept, structure=True) for x in (everywhere, confined))
    assert hidden_all > 2.0  # the measurement sees the traits ...
    assert hidden_confined < 0.2 * hidden_all  # ... and they are gone (up to the random smile)
    assert kept_confined > 0.75 * kept_all


@pytest.mark.parametrize(("where", "hidden"), [("upper", LOWER_FACE), ("lower", UPPER_FACE)])
def test_jitter_varies_the_hidden_region_from_image_to_image(where, hidden):
    """Jitter redraws the traits outside the region on every image: the same identity's images vary
    there (and more with more jitter); without jitter they do not (up to the random smile)."""
    still = within_identity_var(render({"A": {"region": where}}), hidden)
    jittered = within_identity_var(render({"A": {"region": where, "jitter": 1.0}}), hidden)
    more = within_identity_var(render({"A": {"region": where, "jitter": 2.0}}), hidden)
    assert still < 2.0
    assert jittered > 3.0 * still + 4.0
    assert more > 1.3 * jittered


@pytest.mark.parametrize(("where", "hidden"), [("upper", LOWER_FACE), ("lower", UPPER_FACE)])
def test_jitter_carries_no_identity_information(where, hidden):
    """What jitter adds to the hidden region varies within identities as much as between them."""
    images = render({"A": {"region": where, "jitter": 1.5}}, n=24, k=4)
    between = between_identity_var(images, hidden)
    within = within_identity_var(images, hidden)
    # for pure per-image noise of variance s2: between = s2 / k, within = s2 * (k - 1) / k, so
    # between = within / (k - 1) = within / 3; identity-specific content would add to between only
    assert between < 2.0 * within / 3.0


# --------------------------------------------------------------------------- occluders


@pytest.mark.parametrize(("kind", "box"), [("upper", FOREHEAD), ("lower", MOUTH_AND_CHIN)])
def test_occluder_covers_its_region_with_one_flat_colour_per_image(kind, box):
    """Headscarf over the forehead, mask over mouth and chin: one random colour per image."""
    bare = region(render(None), box)
    covered = region(render({"A": {"occlusion": kind}}), box)  # occlusion_p defaults to 1
    spread = covered.std(axis=(2, 3)).max(axis=-1)  # (n, k): largest per-channel std in the box
    assert spread.max() < 1.0
    assert np.median(bare.std(axis=(2, 3)).max(axis=-1)) > 5.0  # the box is not flat without it
    colour = covered.mean(axis=(2, 3))  # (n, k, 3)
    # random colour per image in [0.1, 0.9] of the dynamic range: [46, 210] in pixels
    assert colour.min() > 40.0 and colour.max() < 216.0
    assert colour.std(axis=1).mean() > 15.0  # the same identity's images get different colours


@pytest.mark.parametrize("seed", [0, 1, 5])
def test_headscarf_covers_the_brows_and_neither_occluder_the_eyes(seed):
    """Per image (its own eye and brow positions, from the sampled parameters): the row through the eye
    centres is untouched by either occluder; the rows through the brows lose (nearly) all their contrast
    under the headscarf. Its edge lies between brows and eyes, less than a pixel below the brows at
    48 px, so its anti-aliased edge shows a little of the lowest brows on some images. The headscarf
    leaves the mouth and chin, the mask the forehead alone."""
    kw = dict(n=24, seed=seed, plain=False)  # Narrow_Eyes, Bangs, hats, glasses ... included
    P = _sample(config(**kw))[2]
    bare, scarf, mask = (render(c, **kw) for c in (None, {"A": {"occlusion": "upper"}}, {"A": {"occlusion": "lower"}}))
    cols = face_cols(-0.3, 0.3)  # across both eyes and brows

    def row(images: np.ndarray, v: np.ndarray) -> np.ndarray:  # (n, k, columns, 3): per image its row at v
        n, k = np.indices(images.shape[:2])
        return images[n, k, face_rows(v).reshape(n.shape)][:, :, cols]

    # (Narrow_Eyes are under a pixel tall at 48 px: the headscarf's anti-aliased edge may grey them)
    open_eyes = (P["eye_ry"] > 0.03).reshape(bare.shape[:2])
    assert open_eyes.mean() > 0.7
    for covered in (scarf, mask):
        assert np.abs(row(covered, P["eye_y"]) - row(bare, P["eye_y"]))[open_eyes].max() <= 3.0
    contrast = lambda x: x.std(axis=2).max(axis=-1)  # noqa: E731  (n, k): of a row, largest over channels
    for v in (P["eye_y"] - P["brow_dy"] - P["brow_ry"], P["eye_y"] - P["brow_dy"]):  # brow tops, brow centres
        assert contrast(row(scarf, v)).sum() < 0.15 * contrast(row(bare, v)).sum()
    assert (contrast(row(scarf, P["eye_y"] - P["brow_dy"] - P["brow_ry"])) < 1.0).mean() > 0.85
    assert np.array_equal(region(scarf, MOUTH_AND_CHIN), region(bare, MOUTH_AND_CHIN))
    assert np.array_equal(region(mask, FOREHEAD), region(bare, FOREHEAD))


@pytest.mark.parametrize(("p", "low", "high"), [(0.0, 0.0, 0.0), (0.25, 0.1, 0.4), (0.5, 0.35, 0.65), (1.0, 1.0, 1.0)])
@pytest.mark.parametrize("kind", ["upper", "lower"])
def test_occlusion_p_is_the_fraction_of_occluded_images(kind, p, low, high):
    bare = render(None, n=24, k=4, seed=2)
    cued = render({"A": {"occlusion": kind, "occlusion_p": p}}, n=24, k=4, seed=2)
    occluded = (cued != bare).any(axis=(2, 3, 4))  # (n, k)
    assert low <= occluded.mean() <= high
    if 0.0 < p < 1.0:  # drawn per image, not per identity
        mixed = occluded.any(axis=1) & ~occluded.all(axis=1)
        assert mixed.any()


# --------------------------------------------------------------------------- texture


@pytest.mark.parametrize("amplitude", [0.1, 0.3, 0.5])
def test_texture_adds_fine_detail_of_the_documented_amplitude_and_period(amplitude):
    bare = render(None)
    textured = render({"A": {"texture": amplitude}})
    # more fine detail inside the face (which has edges of its own: eyes, nose, mouth); not on every
    # image by the same amount: two near-parallel gratings of an identity can cancel at some phases
    gain = laplacian_energy(region(textured, FACE)) / laplacian_energy(region(bare, FACE))
    assert gain.min() > 1.0
    assert np.quantile(gain, 0.1) > 1.0 + 2.0 * amplitude and np.median(gain) > 1.0 + 4.0 * amplitude
    added = textured - bare
    # amplitude is a fraction of the dynamic range (0.8 * 255 levels), the peak of two gratings
    peak = np.abs(added).max(axis=(2, 3, 4)) / (amplitude * 0.8 * 255)
    assert peak.max() <= 1.0 + 1.0 / (amplitude * 0.8 * 255)  # (rounding)
    assert peak.max() > 0.95 and np.quantile(peak, 0.1) > 0.6
    # period 2.5-4 pixels, i.e. 0.25-0.4 cycles per pixel (the FFT bins are 1/48 apart)
    freq = peak_frequency(added)
    assert ((freq > 0.22) & (freq < 0.43)).all()
    # only on the face: the background (image corners) is untouched
    assert not added[:, :, :6, :6].any() and not added[:, :, :6, -6:].any()


def test_texture_is_fine_scale_detail_that_blur_removes():
    """Blur (a nuisance) attenuates the texture's fine detail: the texture's contribution to the image
    (same seed with and without it; the nuisance is the same in both) has less Laplacian energy, and
    the less the more blur. Nuisance 3 blurs by up to 0.9, nuisance 1 at difficulty 1 with
    ``difficulty_nuisance=5`` (contrast and traits unchanged) by up to 1.8 diffusion steps."""

    def texture_energy(**kw) -> float:
        added = render({"A": {"texture": 0.3}}, **kw) - render(None, **kw)
        return float(laplacian_energy(added).mean())

    sharp = texture_energy()
    blurred = texture_energy(nuisance=3.0)
    very_blurred = texture_energy(nuisance=1.0, difficulty=1.0, difficulty_nuisance=5.0, difficulty_contrast=0.0,
                                  difficulty_shrink=0.0)
    assert very_blurred < 0.6 * sharp
    assert very_blurred < 0.85 * blurred < 0.85 * sharp


def test_texture_orientation_and_period_are_identity_specific():
    """The texture's power spectrum (blind to its random per-image phase) is nearly the same on the
    images of one identity and different between identities."""
    n, k = 12, 3
    added = render({"A": {"texture": 0.3}}, n=n, k=k) - render(None, n=n, k=k)
    corr = pairwise_corr(power_spectrum(added).reshape(n * k, -1))
    ids = np.repeat(np.arange(n), k)
    same = ids[:, None] == ids[None, :]
    np.fill_diagonal(corr, np.nan)
    assert np.nanmean(corr[same]) > 0.9
    assert np.nanmean(corr[~same]) < 0.2
    np.fill_diagonal(corr, -np.inf)
    assert (ids[corr.argmax(axis=1)] == ids).all()  # the spectrum alone identifies every image


# --------------------------------------------------------------------------- chroma


@pytest.mark.parametrize("chroma", [0.05, 0.1])
def test_chroma_shifts_skin_colour_per_identity_without_changing_luminance(chroma):
    bare = luminance_and_chroma(region(render(None), CHEEK).mean(axis=(2, 3)))  # (n, k, 3)
    tinted = luminance_and_chroma(region(render({"A": {"chroma": chroma}}), CHEEK).mean(axis=(2, 3)))
    shift = tinted - bare
    assert np.abs(shift[..., 0]).max() < 1.0  # iso-luminant (up to rounding)
    # per identity: one shift along both colour axes, spread ~ chroma * dynamic range
    spread = shift[..., 1:].mean(axis=1).std(axis=0)  # across identities, per axis
    assert (spread > 0.4 * chroma * 0.8 * 255).all()
    assert shift[..., 1:].std(axis=1).max() < 1.0  # the same on every image of an identity


def test_chroma_widens_the_colour_spread_of_a_group_not_its_luminance_spread():
    bare = luminance_and_chroma(region(render(None, n=24), CHEEK).mean(axis=(1, 2, 3)))  # (n, 3)
    tinted = luminance_and_chroma(region(render({"A": {"chroma": 0.1}}, n=24), CHEEK).mean(axis=(1, 2, 3)))
    assert tinted[:, 0].var() < 1.1 * bare[:, 0].var() + 0.5
    assert (tinted[:, 1:].var(axis=0) > 10.0 * bare[:, 1:].var(axis=0)).all()


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("group_cues", "message"),
    [
        ({"Z": {}}, r"group_cues: groups \['Z'\] are not in group_difficulty"),
        ({"A": {"jitter": -0.5}}, r"group_cues\.A\.jitter"),
        ({"A": {"jitter": 2.0}}, r"group_cues\.A\.jitter: needs a region"),  # region "all" has no outside
        ({"A": {"jitter": 3.5}}, r"group_cues\.A\.jitter"),
        ({"A": {"jitter": float("nan")}}, r"group_cues\.A\.jitter"),
        ({"A": {"texture": -0.1}}, r"group_cues\.A\.texture"),
        ({"A": {"texture": 0.6}}, r"group_cues\.A\.texture"),
        ({"A": {"chroma": -0.01}}, r"group_cues\.A\.chroma"),
        ({"A": {"chroma": 0.3}}, r"group_cues\.A\.chroma"),
        ({"A": {"occlusion_p": -0.1}}, r"group_cues\.A\.occlusion_p"),
        ({"A": {"occlusion_p": 1.5}}, r"group_cues\.A\.occlusion_p"),
        ({"A": {"region": "middle"}}, r"group_cues\.A\.region"),
        ({"A": {"occlusion": "both"}}, r"group_cues\.A\.occlusion"),
        ({"A": {"colour": 0.1}}, r"group_cues\.A\.colour: unknown key"),
        ({"A": 1.0}, r"group_cues\.A"),
        ([{"A": {}}], r"group_cues"),
    ],
)
def test_invalid_group_cues_raise_config_error_naming_the_key(group_cues, message):
    with pytest.raises(ConfigError, match=message):
        SyntheticFacesConfig(group_difficulty={"A": 0.0, "B": 0.0}, group_cues=group_cues)
    with pytest.raises(ConfigError, match=message):
        SyntheticFacesConfig.from_dict({"group_difficulty": {"A": 0.0, "B": 0.0}, "group_cues": group_cues})
