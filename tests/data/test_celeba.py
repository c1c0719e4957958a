"""load_celeba on a tiny fake copy in the official file formats."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from fairvision.data import load_celeba
from fairvision.errors import DatasetError


def test_loads_all_images_with_attributes(celeba, helpers):
    faces = load_celeba(celeba.root)
    frame = faces.frame
    assert len(faces) == 9
    assert faces.name == "celeba"
    assert list(frame.columns) == ["path", "identity", *helpers.celeba_attrs, "partition"]
    assert frame["path"].tolist() == [str(celeba.root / "img_align_celeba" / im) for im in celeba.images]
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in frame["path"])
    assert frame["identity"].tolist() == celeba.identities
    assert pd.api.types.is_string_dtype(frame["identity"])
    assert frame["partition"].tolist() == celeba.partitions
    for attr in helpers.celeba_attrs:
        assert pd.api.types.is_integer_dtype(frame[attr]), attr
        assert set(frame[attr].unique()) <= {0, 1}
    assert (frame[helpers.celeba_attrs].to_numpy() == celeba.values).all()
    # Male is constant per identity, so it is a valid identity-level demographic
    table = faces.identity_table(["Male"])
    assert table.loc["2950", "Male"] == 1 and table.loc["17", "Male"] == 0
    assert faces.skipped == ()


@pytest.mark.parametrize(("split", "n"), [("train", 5), ("val", 2), ("test", 2)])
def test_split_selection(celeba, split, n):
    faces = load_celeba(celeba.root, split=split)
    assert len(faces) == n
    assert set(faces.frame["partition"]) == {split}
    assert faces.name == f"celeba-{split}"
    assert faces.frame.index.tolist() == list(range(n))
    expected = [im for im, p in zip(celeba.images, celeba.partitions) if p == split]
    assert [Path(p).name for p in faces.frame["path"]] == expected


def test_unknown_split_is_rejected(celeba):
    with pytest.raises(ValueError, match="split"):
        load_celeba(celeba.root, split="validation")


def test_google_drive_layout_with_anno_eval_img_subfolders(celeba):
    root = celeba.root
    (root / "Anno").mkdir()
    (root / "Eval").mkdir()
    (root / "Img").mkdir()
    shutil.move(root / "list_attr_celeba.txt", root / "Anno")
    shutil.move(root / "identity_CelebA.txt", root / "Anno")
    shutil.move(root / "list_eval_partition.txt", root / "Eval")
    shutil.move(root / "img_align_celeba", root / "Img")
    faces = load_celeba(root, check_images=True)
    assert len(faces) == 9
    assert Path(faces.frame["path"][0]).parent == root / "Img" / "img_align_celeba"


def test_tolerates_crlf_and_trailing_blank_lines(celeba):
    text = celeba.attr_file.read_text()
    celeba.attr_file.write_text(text.replace("\n", "\r\n") + "\r\n\r\n")
    assert len(load_celeba(celeba.root)) == 9


@pytest.mark.parametrize(
    "missing", ["list_attr_celeba.txt", "identity_CelebA.txt", "list_eval_partition.txt", "img_align_celeba"]
)
def test_missing_file_or_folder(celeba, missing):
    target = celeba.root / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(DatasetError, match=rf"{missing}: CelebA .* not found"):
        load_celeba(celeba.root)


def test_missing_root(tmp_path):
    with pytest.raises(DatasetError, match="nowhere: CelebA root folder not found"):
        load_celeba(tmp_path / "nowhere")


def _attr_row(image: str, values: list[str]) -> str:
    return image + "".join(f" {v:>2}" for v in values)


BAD_ANNOTATIONS = [
    # (id, file attribute, 1-based line, new text, expected message regex after "<file>, line N")
    ("identity-one-field", "identity_file", 3, "000003.jpg", r"malformed line: expected '<image> <identity>'"),
    ("identity-three-fields", "identity_file", 2, "000002.jpg 2950 7", r"malformed line"),
    ("identity-no-image-name", "identity_file", 4, "2950 000004.jpg", r"malformed line: first field '2950'"),
    ("partition-extra-field", "partition_file", 2, "000002.jpg 0 1", r"malformed line"),
    ("partition-bad-code", "partition_file", 4, "000004.jpg 3", r"partition of '000004.jpg' is '3'"),
    ("attr-count-not-int", "attr_file", 1, "nine", r"malformed line: expected the number of images"),
    ("attr-no-header", "attr_file", 2, "   ", r"malformed line: expected the attribute names"),
    ("attr-first-field-not-image", "attr_file", 4, _attr_row("", ["1"] * 41).strip(), r"malformed line: first field '1'"),
    ("attr-too-few-values", "attr_file", 5, _attr_row("000003.jpg", ["1"] * 39), r"39 attribute value\(s\) .* names 40"),
    ("attr-too-many-values", "attr_file", 6, _attr_row("000004.jpg", ["1"] * 41), r"41 attribute value\(s\)"),
    ("attr-zero-value", "attr_file", 7, _attr_row("000005.jpg", ["1"] * 39 + ["0"]), r"attribute 'Young' of '000005.jpg' is '0'"),
    ("attr-word-value", "attr_file", 8, _attr_row("000006.jpg", ["yes"] + ["1"] * 39), r"attribute '5_o_Clock_Shadow' .* 'yes', expected -1 or 1"),
    ("attr-header-count", "attr_file", 1, "10", r"header says 10 images, but the file lists 9"),
    ("attr-duplicate-image", "attr_file", 4, _attr_row("000001.jpg", ["1"] * 40), r"duplicate image '000001.jpg' \(first on line 3\)"),
    ("identity-duplicate-image", "identity_file", 5, "000002.jpg 17", r"duplicate image '000002.jpg' \(first on line 2\)"),
    ("partition-duplicate-image", "partition_file", 9, "000008.jpg 2", r"duplicate image '000008.jpg' \(first on line 8\)"),
]


@pytest.mark.parametrize(("file_attr", "lineno", "text", "message"), [c[1:] for c in BAD_ANNOTATIONS], ids=[c[0] for c in BAD_ANNOTATIONS])
def test_bad_annotation_line(celeba, helpers, file_attr, lineno, text, message):
    path = getattr(celeba, file_attr)
    helpers.edit_line(path, lineno, text)
    with pytest.raises(DatasetError, match=rf"{path.name}, line {lineno}: {message}"):
        load_celeba(celeba.root)


def test_duplicate_attribute_name_in_header(celeba, helpers):
    names = list(helpers.celeba_attrs)
    names[1] = names[0]
    helpers.edit_line(celeba.attr_file, 2, " ".join(names))
    with pytest.raises(DatasetError, match=r"list_attr_celeba.txt, line 2: attribute '5_o_Clock_Shadow' is named twice"):
        load_celeba(celeba.root)


@pytest.mark.parametrize(("file_attr", "lineno"), [("identity_file", 7), ("partition_file", 1)])
def test_image_missing_from_one_annotation_file(celeba, helpers, file_attr, lineno):
    path = getattr(celeba, file_attr)
    image = f"{lineno:06d}.jpg"
    helpers.edit_line(path, lineno, None)
    with pytest.raises(
        DatasetError,
        match=rf"'{image}' is listed in .*list_attr_celeba.txt \(line {lineno + 2}\) but not in .*{path.name}",
    ):
        load_celeba(celeba.root)


@pytest.mark.parametrize("file_attr", ["identity_file", "partition_file"])
def test_image_only_in_identity_or_partition_file(celeba, file_attr):
    path = getattr(celeba, file_attr)
    with path.open("a") as f:
        f.write("000010.jpg 1\n")
    with pytest.raises(
        DatasetError, match=rf"'000010.jpg' is listed in .*{path.name} \(line 10\) but not in .*list_attr_celeba.txt"
    ):
        load_celeba(celeba.root)


def test_missing_image_on_disk(celeba):
    missing = celeba.root / "img_align_celeba" / "000004.jpg"
    missing.unlink()
    assert len(load_celeba(celeba.root)) == 9  # images are not opened unless asked
    with pytest.raises(DatasetError, match=r"000004.jpg: image file not found"):
        load_celeba(celeba.root, check_images=True)
    faces = load_celeba(celeba.root, check_images=True, on_bad_image="skip")
    assert len(faces) == 8
    assert faces.skipped == ((str(missing), "image file not found"),)
    assert str(missing) not in set(faces.frame["path"])


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_bad_image_policies(celeba, helpers, damage):
    bad = celeba.root / "img_align_celeba" / "000006.jpg"
    (helpers.write_garbage if damage == "garbage" else helpers.write_truncated_jpeg)(bad)
    with pytest.raises(DatasetError, match=r"000006.jpg: cannot decode image"):
        load_celeba(celeba.root, check_images=True)
    faces = load_celeba(celeba.root, split="val", check_images=True, on_bad_image="skip")
    assert [Path(p).name for p in faces.frame["path"]] == ["000007.jpg"]
    assert [Path(p).name for p, _ in faces.skipped] == ["000006.jpg"]
    assert "cannot decode" in faces.skipped[0][1]


def test_invalid_policy_is_rejected(celeba):
    with pytest.raises(ValueError, match="on_bad_image"):
        load_celeba(celeba.root, on_bad_image="ignore")
