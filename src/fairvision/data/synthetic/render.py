"""Vectorised rendering: implicit shapes on affine-mapped coordinate grids, composited per batch (part of :mod:`fairvision.data.synthetic`)."""

from __future__ import annotations

import math

import numpy as np


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


def _draw_texture(cv: _Canvas) -> None:
    """Identity-specific fine skin texture (two gratings) on the face (``GroupCues.texture``)."""
    f32 = np.float32
    which = np.flatnonzero(cv.P["tex_amp"][cv.rows] > 0)
    if not len(which):
        return
    sub = cv.select(which)
    face = sub.ellipse(0.0, 0.0, sub.col("face_a"), sub.col("face_b"))
    theta, freq = sub.P["tex_theta"][sub.rows], sub.P["tex_freq"][sub.rows]
    phase = sub.P["tex_phase"][sub.rows]
    pattern = np.zeros_like(face)
    for j in range(2):
        c = np.cos(theta[:, j]).astype(f32)[:, None, None]
        s_ = np.sin(theta[:, j]).astype(f32)[:, None, None]
        arg = (c * sub.u + s_ * sub.v) * freq[:, j].astype(f32)[:, None, None] + phase[:, j].astype(f32)[:, None, None]
        pattern += np.sin(arg)
    pattern *= face * (sub.col("tex_amp") * f32(0.5))
    sub.img += pattern[None]
    cv.merge(sub)


def _draw_occluders(cv: _Canvas) -> None:
    """Random-coloured headscarf (upper) or mask (lower) on some images (``GroupCues.occlusion``)."""
    f32 = np.float32
    kind = cv.P["occ_kind"][cv.rows]
    for code, draw in ((1, _headscarf), (2, _mask)):
        which = np.flatnonzero(kind == code)
        if len(which):
            sub = cv.select(which)
            sub.paint(draw(sub), sub.rgb("occ_rgb"), alpha=f32(1.0))
            cv.merge(sub)


def _headscarf(cv: _Canvas) -> np.ndarray:
    """Hair and forehead down to just below the brows, and the sides of the head."""
    f32 = np.float32
    width = cv.col("face_a") + cv.col("hair_vol") + f32(0.08)
    cover = cv.ellipse(0.0, f32(-0.1), width, cv.col("face_b") + f32(0.45))
    cover *= cv.edge(cv.v - (cv.col("eye_y") - cv.col("eye_ry") - f32(0.02)))
    return cover


def _mask(cv: _Canvas) -> np.ndarray:
    """The face from just below the eyes to below the chin."""
    f32 = np.float32
    cover = cv.ellipse(0.0, 0.0, cv.col("face_a") + f32(0.03), cv.col("face_b") + f32(0.06))
    cover *= cv.edge(cv.col("eye_y") + cv.col("eye_ry") + f32(0.03) - cv.v)
    return cover


def _render(P: dict[str, np.ndarray], rows: np.ndarray, size: int, noise_rng: np.random.Generator) -> np.ndarray:
    """Render images ``rows`` of the parameter table: uint8 (B, size, size, 3)."""
    f32 = np.float32
    cv = _Canvas(P, rows, size)
    _draw_head(cv)
    sub = cv.select(window=_feature_window(cv))
    _draw_features(sub)
    cv.merge(sub)
    _draw_texture(cv)
    _draw_hat(cv)
    _draw_occluders(cv)

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
