"""load_celeba_annotations: CelebA labels and partitions without images (the conftest's tiny fake copy)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from fairvision.data import CelebAAnnotations, load_celeba, load_celeba_annotations
from fairvision.errors import DatasetError


@pytest.fixture
def annotations_only(celeba):
    """The fake CelebA with its image folder and identity file removed."""
    shutil.rmtree(celeba.root / "img_align_celeba")
    celeba.identity_file.unlink()
    return celeba


def test_loads_labels_and_partitions_without_images(annotations_only, helpers):
    notes = load_celeba_annotations(annotations_only.root)
    assert isinstance(notes, CelebAAnnotations)
    assert notes.attributes == tuple(helpers.celeba_attrs)
    assert notes.images.tolist() == annotations_only.images
    assert notes.labels.shape == (9, 40) and set(np.unique(notes.labels)) <= {0, 1}
    assert (notes.labels == annotations_only.values).all()
    assert notes.partition.tolist() == [0, 0, 0, 0, 0, 1, 1, 2, 2]
    assert notes.attr_file == annotations_only.attr_file and notes.partition_file == annotations_only.partition_file


def test_split_masks_and_labels_keep_file_order(annotations_only):
    notes = load_celeba_annotations(annotations_only.root)
    assert notes.mask("train").sum() == 5 and notes.mask("val").sum() == 2 and notes.mask("test").sum() == 2
    assert (notes.split_labels("test") == annotations_only.values[7:]).all()
    assert (notes.split_labels("val") == annotations_only.values[5:7]).all()
    with pytest.raises(ValueError, match="split must be"):
        notes.mask("all")


def test_agrees_with_load_celeba(celeba, helpers):
    faces = load_celeba(celeba.root).frame
    notes = load_celeba_annotations(celeba.root)
    assert (faces[helpers.celeba_attrs].to_numpy() == notes.labels).all()
    codes = {"train": 0, "val": 1, "test": 2}
    assert faces["partition"].map(codes).tolist() == notes.partition.tolist()


def test_partition_file_in_file_order_other_than_the_attributes(annotations_only):
    # partitions are matched by image name, not by line
    lines = annotations_only.partition_file.read_text().splitlines()
    annotations_only.partition_file.write_text("\n".join(reversed(lines)) + "\n")
    notes = load_celeba_annotations(annotations_only.root)
    assert notes.partition.tolist() == [0, 0, 0, 0, 0, 1, 1, 2, 2]


def test_anno_and_eval_subfolders(annotations_only):
    root = annotations_only.root
    (root / "Anno").mkdir()
    (root / "Eval").mkdir()
    shutil.move(root / "list_attr_celeba.txt", root / "Anno")
    shutil.move(root / "list_eval_partition.txt", root / "Eval")
    assert load_celeba_annotations(root).labels.shape == (9, 40)


def test_missing_files_and_root(annotations_only, tmp_path):
    with pytest.raises(DatasetError, match="CelebA root folder not found"):
        load_celeba_annotations(tmp_path / "nowhere")
    annotations_only.partition_file.unlink()
    with pytest.raises(DatasetError, match="list_eval_partition.txt: CelebA annotation file not found"):
        load_celeba_annotations(annotations_only.root)


@pytest.mark.parametrize(
    "file, lineno, text, message",
    [
        ("partition", 3, "000003.jpg 7", "line 3: partition of '000003.jpg' is '7', expected 0, 1 or 2"),
        ("partition", 9, None, "image '000009.jpg' is listed in"),
        ("attr", 5, "000002.jpg" + " 1" * 40, "line 5: duplicate image '000002.jpg' (first on line 4)"),
        ("attr", 6, "000004.jpg" + " 1" * 39, "line 6: 39 attribute value(s)"),
        ("attr", 7, "000005.jpg" + " 0" * 40, "line 7: attribute '5_o_Clock_Shadow' of '000005.jpg' is '0'"),
    ],
)
def test_malformed_annotations_name_file_and_line(annotations_only, helpers, file, lineno, text, message):
    path = annotations_only.partition_file if file == "partition" else annotations_only.attr_file
    helpers.edit_line(path, lineno, text)
    with pytest.raises(DatasetError) as info:
        load_celeba_annotations(annotations_only.root)
    assert message in str(info.value)
