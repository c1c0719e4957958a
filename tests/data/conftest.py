"""Fixtures writing tiny fake copies of face data sets, in their real on-disk formats, under tmp_path."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

CELEBA_ATTRS = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
    "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
    "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
    "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
    "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()
assert len(CELEBA_ATTRS) == 40


def write_image(path: Path, *, color: tuple[int, int, int] = (200, 100, 50), size: int = 8, fmt: str | None = None) -> Path:
    """A small solid-colour image; the format follows the suffix unless ``fmt`` is given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), color).save(path, format=fmt)
    return path


def write_garbage(path: Path) -> Path:
    """A file with an image name but bytes no decoder recognises."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"definitely not an image\x00\x01\x02" * 8)
    return path


def write_truncated_jpeg(path: Path) -> Path:
    """The first half of a valid JPEG: ``Image.verify`` accepts it, a full decode fails."""
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG")
    data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: len(data) // 2])
    return path


def edit_line(path: Path, lineno: int, text: str | None) -> None:
    """Replace 1-based line ``lineno`` of a text file by ``text`` (delete it when ``text`` is None)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if text is None:
        del lines[lineno - 1]
    else:
        lines[lineno - 1] = text
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def helpers() -> SimpleNamespace:
    """File-writing helpers for tests (conftest modules are not importable under --import-mode=importlib)."""
    return SimpleNamespace(
        write_image=write_image,
        write_garbage=write_garbage,
        write_truncated_jpeg=write_truncated_jpeg,
        edit_line=edit_line,
        celeba_attrs=CELEBA_ATTRS,
    )


# --------------------------------------------------------------------------- CelebA


@pytest.fixture
def celeba(tmp_path: Path) -> SimpleNamespace:
    """CelebA with 9 images of 3 identities (2950, 17, 4), partitions 5 train / 2 val / 2 test.

    Files are written exactly like the official ones: a count line, a header
    line with a trailing space, values right-aligned in width 2.
    """
    root = tmp_path / "celeba"
    images = [f"{i:06d}.jpg" for i in range(1, 10)]
    identities = ["2950", "2950", "17", "4", "17", "2950", "4", "17", "4"]
    partitions = [0, 0, 0, 0, 0, 1, 1, 2, 2]
    values = np.where((np.arange(9)[:, None] + np.arange(40)[None, :]) % 3 == 0, 1, -1)
    male = CELEBA_ATTRS.index("Male")
    values[:, male] = [1 if ident == "2950" else -1 for ident in identities]
    for k, image in enumerate(images):
        write_image(root / "img_align_celeba" / image, color=(20 * k, 10, 10))
    attr_lines = [str(len(images)), " ".join(CELEBA_ATTRS) + " "]
    attr_lines += [image + "".join(f" {v:>2}" for v in row) for image, row in zip(images, values)]
    (root / "list_attr_celeba.txt").write_text("\n".join(attr_lines) + "\n", encoding="utf-8")
    (root / "identity_CelebA.txt").write_text(
        "".join(f"{im} {ident}\n" for im, ident in zip(images, identities)), encoding="utf-8"
    )
    (root / "list_eval_partition.txt").write_text(
        "".join(f"{im} {p}\n" for im, p in zip(images, partitions)), encoding="utf-8"
    )
    return SimpleNamespace(
        root=root,
        images=images,
        identities=identities,
        partitions=[("train", "val", "test")[p] for p in partitions],
        values=(values == 1).astype(int),
        attr_file=root / "list_attr_celeba.txt",
        identity_file=root / "identity_CelebA.txt",
        partition_file=root / "list_eval_partition.txt",
    )


# --------------------------------------------------------------------------- VGGFace2

VGG_META = """Class_ID, Name, Sample_Num, Flag, Gender
n000001, "14th_Dalai_Lama", 424, 0, m
n000002, "A_Fine_Frenzy", 315, 1, f
n000003, "Smith, Jane", 100, 0, f
n000004, "Unused_Person", 50, 1, m
"""


@pytest.fixture
def vggface2(tmp_path: Path) -> SimpleNamespace:
    """VGGFace2 with train/n000001 (3 images), train/n000002 (2), test/n000003 (2) and a 4-row identity_meta.csv."""
    root = tmp_path / "vggface2"
    layout = {
        "train": {"n000001": ["0001_01.jpg", "0002_01.jpg", "0003_02.jpg"], "n000002": ["0001_01.jpg", "0005_03.jpg"]},
        "test": {"n000003": ["0001_01.jpg", "0002_01.jpg"]},
    }
    for split, ids in layout.items():
        for ident, files in ids.items():
            for f in files:
                write_image(root / split / ident / f)
    (root / "identity_meta.csv").write_text(VGG_META, encoding="utf-8")
    return SimpleNamespace(root=root, layout=layout, meta=root / "identity_meta.csv")


# --------------------------------------------------------------------------- identity folders and RFW


@pytest.fixture
def folders(tmp_path: Path) -> SimpleNamespace:
    """root/<identity>/<image> with mixed extensions, a non-image file, an empty folder, plus demographics files."""
    root = tmp_path / "faces"
    write_image(root / "alice" / "1.jpg")
    write_image(root / "alice" / "2.PNG", fmt="PNG")
    write_image(root / "alice" / "3.jpeg")
    write_image(root / "bob" / "b.webp")
    write_image(root / "bob" / "a.bmp")
    (root / "bob" / "notes.txt").write_text("not an image")
    (root / "carol").mkdir()  # empty: ignored
    write_image(root / "dave" / "x.JPG", fmt="JPEG")
    (root / "README.md").write_text("top-level files are ignored")
    demo_json = tmp_path / "gender.json"
    demo_json.write_text('{"female": ["alice", "carol", "erin"],\n "male": ["bob", "dave"]}\n', encoding="utf-8")
    demo_csv = tmp_path / "demographics.csv"
    demo_csv.write_text("identity,gender,age\nalice,female,30\nbob,male,41\ndave,male,25\nerin,female,50\n")
    return SimpleNamespace(root=root, json=demo_json, csv=demo_csv, tmp=tmp_path)


@pytest.fixture
def rfw(tmp_path: Path) -> SimpleNamespace:
    """RFW layout root/<race>/<identity>/<image> with 4 races."""
    root = tmp_path / "rfw" / "data"
    layout = {
        "African": {"m.0a1": 2, "m.0a2": 1},
        "Asian": {"m.0b1": 3},
        "Caucasian": {"m.0c1": 2},
        "Indian": {"m.0d1": 2},
    }
    for race, ids in layout.items():
        for ident, n in ids.items():
            for k in range(1, n + 1):
                write_image(root / race / ident / f"{ident}_{k:04d}.jpg")
    return SimpleNamespace(root=root, layout=layout)
