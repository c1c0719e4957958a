"""Generation in memory and writing to disk (identity folders and the official CelebA layout) (part of :mod:`fairvision.data.synthetic`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from fairvision._progress import progress as show_progress
from fairvision.data.synthetic.config import ATTRIBUTES, Layout, SyntheticFaces, SyntheticFacesConfig
from fairvision.data.synthetic.render import _render
from fairvision.data.synthetic.sample import _as_config, _sample
from fairvision.errors import ConfigError


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

    with show_progress(n, "synthetic faces", enabled=progress) as bar:
        for sl, batch in _iter_render(cfg, P):
            for j, i in enumerate(range(sl.start, sl.stop)):
                data = _encode_png(batch[j])
                if folders:
                    (out / rel_folder[i]).write_bytes(data)
                if celeba:
                    (out / "celeba" / "img_align_celeba" / celeba_names[i]).write_bytes(data)
            bar.advance(sl.stop - sl.start)

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
