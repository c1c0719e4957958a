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


from fairvision.data.synthetic.config import (
    ATTRIBUTES,
    DEFAULT_ATTRIBUTE_RATES,
    FLIPPABLE,
    HAIR_COLOURS,
    IDENTITY_ATTRIBUTES,
    IMAGE_ATTRIBUTES,
    SyntheticFaces,
    SyntheticFacesConfig,
)
from fairvision.data.synthetic.writer import generate_faces, write_synthetic

__all__ = [
    "ATTRIBUTES",
    "DEFAULT_ATTRIBUTE_RATES",
    "FLIPPABLE",
    "HAIR_COLOURS",
    "IDENTITY_ATTRIBUTES",
    "IMAGE_ATTRIBUTES",
    "SyntheticFaces",
    "SyntheticFacesConfig",
    "generate_faces",
    "write_synthetic",
]
