"""load_vggface2 on a tiny fake copy with a real-format identity_meta.csv."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from fairvision.data import load_vggface2
from fairvision.data.vggface2 import read_vggface2_meta
from fairvision.errors import DatasetError


def test_loads_train_split(vggface2):
    faces = load_vggface2(vggface2.root)
    frame = faces.frame
    assert faces.name == "vggface2-train"
    assert list(frame.columns) == ["path", "identity", "name", "gender"]
    assert len(faces) == 5
    expected_paths = [
        str(vggface2.root / "train" / ident / f) for ident, files in vggface2.layout["train"].items() for f in files
    ]
    assert frame["path"].tolist() == expected_paths
    assert frame["identity"].tolist() == ["n000001"] * 3 + ["n000002"] * 2
    assert frame["name"].tolist() == ["14th_Dalai_Lama"] * 3 + ["A_Fine_Frenzy"] * 2
    assert frame["gender"].tolist() == ["male"] * 3 + ["female"] * 2
    for col in frame.columns:
        assert pd.api.types.is_string_dtype(frame[col]), col
    assert faces.identity_table(["name", "gender"])["n_images"].to_dict() == {"n000001": 3, "n000002": 2}


def test_loads_test_split_and_quoted_name_with_comma(vggface2):
    faces = load_vggface2(vggface2.root, split="test", check_images=True)
    assert faces.name == "vggface2-test"
    assert len(faces) == 2
    assert set(faces.frame["identity"]) == {"n000003"}
    assert set(faces.frame["name"]) == {"Smith, Jane"}
    assert set(faces.frame["gender"]) == {"female"}


def test_meta_at_another_path(vggface2, tmp_path):
    other = tmp_path / "elsewhere" / "meta.csv"
    other.parent.mkdir()
    shutil.move(vggface2.meta, other)
    with pytest.raises(DatasetError, match=r"identity_meta.csv: VGGFace2 meta file not found"):
        load_vggface2(vggface2.root)
    assert len(load_vggface2(vggface2.root, meta=other)) == 5


def test_meta_reader_skips_initial_spaces_and_indexes_by_class_id(vggface2):
    table = read_vggface2_meta(vggface2.meta)
    assert table.index.tolist() == ["n000001", "n000002", "n000003", "n000004"]
    assert table.loc["n000003", "name"] == "Smith, Jane"
    assert table["gender"].tolist() == ["male", "female", "female", "male"]


def test_latin1_meta_is_read(vggface2):
    text = vggface2.meta.read_text().replace("Unused_Person", "Jos\u00e9_Mar\u00eda")
    vggface2.meta.write_bytes(text.encode("latin-1"))
    assert read_vggface2_meta(vggface2.meta).loc["n000004", "name"] == "Jos\u00e9_Mar\u00eda"


def test_identity_folder_without_meta_row(vggface2, helpers):
    helpers.write_image(vggface2.root / "train" / "n000777" / "0001_01.jpg")
    with pytest.raises(DatasetError, match=r"identity_meta.csv: no row for identity 'n000777'"):
        load_vggface2(vggface2.root)


@pytest.mark.parametrize(
    ("lineno", "text", "message"),
    [
        (3, 'n000002, "A_Fine_Frenzy", 315, 1, x', r"unknown Gender 'x' for 'n000002'"),
        (5, 'n000004, "Unused_Person", 50, 1, ', r"unknown Gender '' for 'n000004'"),
        (4, "n000003, Smith, Jane, 100, 0, f", r"malformed row: 6 fields, expected 5"),
        (2, 'n000001, "14th_Dalai_Lama", 424, 0', r"malformed row: 4 fields, expected 5"),
        (3, ' , "A_Fine_Frenzy", 315, 1, f', r"malformed row: empty Class_ID"),
        (5, 'n000001, "Again", 50, 1, m', r"duplicate Class_ID 'n000001' \(first on line 2\)"),
        (1, "Class_ID, Name, Sample_Num, Flag", r"malformed header: no column 'Gender'"),
    ],
    ids=["gender-x", "gender-empty", "unquoted-comma", "too-few-fields", "empty-id", "duplicate-id", "header"],
)
def test_bad_meta_rows(vggface2, helpers, lineno, text, message):
    helpers.edit_line(vggface2.meta, lineno, text)
    with pytest.raises(DatasetError, match=rf"identity_meta\.csv, line {lineno}: {message}"):
        load_vggface2(vggface2.root)


def test_missing_split_folder(vggface2):
    shutil.rmtree(vggface2.root / "test")
    with pytest.raises(DatasetError, match=r"test: VGGFace2 'test' split folder not found"):
        load_vggface2(vggface2.root, split="test")


def test_unknown_split_is_rejected(vggface2):
    with pytest.raises(ValueError, match="split"):
        load_vggface2(vggface2.root, split="val")


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_bad_image_policies(vggface2, helpers, damage):
    bad = vggface2.root / "train" / "n000002" / "0005_03.jpg"
    (helpers.write_garbage if damage == "garbage" else helpers.write_truncated_jpeg)(bad)
    assert len(load_vggface2(vggface2.root)) == 5
    with pytest.raises(DatasetError, match=r"0005_03.jpg: cannot decode image"):
        load_vggface2(vggface2.root, check_images=True)
    faces = load_vggface2(vggface2.root, check_images=True, on_bad_image="skip")
    assert len(faces) == 4
    assert [Path(p).name for p, _ in faces.skipped] == ["0005_03.jpg"]
    assert faces.frame["identity"].tolist().count("n000002") == 1
