"""load_identity_folders (with FR-NAS JSON or CSV demographics) and load_rfw on tiny fake copies."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fairvision.data import load_identity_folders, load_rfw
from fairvision.errors import DatasetError

EXPECTED_FILES = {"alice": ["1.jpg", "2.PNG", "3.jpeg"], "bob": ["a.bmp", "b.webp"], "dave": ["x.JPG"]}


def _names(faces) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path, ident in zip(faces.frame["path"], faces.frame["identity"]):
        assert Path(path).is_absolute() and Path(path).parent.name == ident
        out.setdefault(ident, []).append(Path(path).name)
    return out


def test_identity_folders_without_demographics(folders):
    faces = load_identity_folders(folders.root, check_images=True)
    assert list(faces.frame.columns) == ["path", "identity"]
    assert faces.name == "faces"  # the root folder's name
    # sorted identities and files; any-case extensions; .txt, top-level files and the empty folder ignored
    assert _names(faces) == EXPECTED_FILES
    assert len(faces) == 6


def test_relative_root_gives_absolute_paths(folders, monkeypatch):
    monkeypatch.chdir(folders.tmp)
    faces = load_identity_folders("faces", name="mine")
    assert faces.name == "mine"
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in faces.frame["path"])


def test_frnas_json_demographics(folders):
    faces = load_identity_folders(folders.root, demographics=folders.json, group_column="gender")
    assert list(faces.frame.columns) == ["path", "identity", "gender"]
    assert faces.identity_table(["gender"])["gender"].to_dict() == {"alice": "female", "bob": "male", "dave": "male"}
    assert _names(faces) == EXPECTED_FILES


def test_default_group_column(folders):
    faces = load_identity_folders(folders.root, demographics=folders.json)
    assert faces.frame.groupby("group").size().to_dict() == {"female": 3, "male": 3}


def test_csv_demographics_keep_types(folders):
    faces = load_identity_folders(folders.root, demographics=folders.csv)
    frame = faces.frame
    assert list(frame.columns) == ["path", "identity", "gender", "age"]
    assert pd.api.types.is_integer_dtype(frame["age"])
    assert pd.api.types.is_string_dtype(frame["identity"])
    table = faces.identity_table()
    assert table.to_dict("index") == {
        "alice": {"n_images": 3, "gender": "female", "age": 30},
        "bob": {"n_images": 2, "gender": "male", "age": 41},
        "dave": {"n_images": 1, "gender": "male", "age": 25},
    }


def test_csv_identity_defaults_to_first_column(folders, tmp_path):
    demo = tmp_path / "demo2.csv"
    demo.write_text("name, skin_type, score\nbob, 3, 0.5\nalice, 1, 1.5\ndave, 6, 2.0\n")
    faces = load_identity_folders(folders.root, demographics=demo)
    assert list(faces.frame.columns) == ["path", "identity", "skin_type", "score"]
    assert faces.identity_table()["skin_type"].to_dict() == {"alice": 1, "bob": 3, "dave": 6}
    assert pd.api.types.is_float_dtype(faces.frame["score"])


@pytest.mark.parametrize("kind", ["json", "csv"])
def test_identity_without_demographics(folders, helpers, kind):
    helpers.write_image(folders.root / "zoe" / "1.jpg")
    path = getattr(folders, kind)
    with pytest.raises(DatasetError, match=rf"{path.name}: no demographics for identity 'zoe'"):
        load_identity_folders(folders.root, demographics=path)


def test_identity_under_two_groups_in_json(folders):
    folders.json.write_text('{"female": ["alice", "bob"], "male": ["bob", "dave"]}')
    with pytest.raises(DatasetError, match=r"gender.json: identity 'bob' is listed under two groups, 'female' and 'male'"):
        load_identity_folders(folders.root, demographics=folders.json)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"female": ["alice"],\n "male": ["bob" "dave"]}', r"gender.json, line 2: invalid JSON"),
        ('["alice", "bob"]', r"gender.json: expected a JSON object"),
        ('{"female": "alice"}', r"gender.json: group 'female' must map to a list"),
        ('{"female": [["alice"]]}', r"gender.json: group 'female' lists \['alice'\]"),
    ],
    ids=["syntax", "not-object", "not-list", "not-a-name"],
)
def test_malformed_json(folders, content, message):
    folders.json.write_text(content)
    with pytest.raises(DatasetError, match=message):
        load_identity_folders(folders.root, demographics=folders.json)


def test_duplicate_identity_in_csv(folders):
    folders.csv.write_text("identity,gender,age\nalice,female,30\nbob,male,41\n\ndave,male,25\nbob,male,42\n")
    with pytest.raises(DatasetError, match=r"demographics.csv, line 6: identity 'bob' is listed twice \(first on line 3\)"):
        load_identity_folders(folders.root, demographics=folders.csv)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("identity,gender\nalice,female\nbob,male,extra,fields\n", r"demographics.csv: malformed CSV .*line 3"),
        ("identity\nalice\nbob\ndave\n", r"demographics.csv: needs at least one attribute column"),
        ("", r"demographics.csv: file is empty"),
        ("identity,gender\nalice,female\n,male\n", r"demographics.csv, line 3: empty identity"),
    ],
    ids=["too-many-fields", "no-attributes", "empty", "empty-identity"],
)
def test_malformed_csv(folders, content, message):
    folders.csv.write_text(content)
    with pytest.raises(DatasetError, match=message):
        load_identity_folders(folders.root, demographics=folders.csv)


def test_demographics_file_missing_or_unknown_format(folders, tmp_path):
    with pytest.raises(DatasetError, match=r"nope.json: demographics file not found"):
        load_identity_folders(folders.root, demographics=tmp_path / "nope.json")
    other = tmp_path / "groups.txt"
    other.write_text("alice female\n")
    with pytest.raises(DatasetError, match=r"groups.txt: demographics file must be .json"):
        load_identity_folders(folders.root, demographics=other)


def test_root_without_images(tmp_path):
    (tmp_path / "empty" / "someone").mkdir(parents=True)
    (tmp_path / "empty" / "someone" / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"empty: no images found"):
        load_identity_folders(tmp_path / "empty")
    with pytest.raises(DatasetError, match=r"missing: identity folder not found"):
        load_identity_folders(tmp_path / "missing")


def test_reserved_group_column_is_rejected(folders):
    with pytest.raises(ValueError, match="group_column"):
        load_identity_folders(folders.root, demographics=folders.json, group_column="identity")


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
@pytest.mark.parametrize("policy", ["error", "skip"])
def test_bad_image_policies(folders, helpers, damage, policy):
    bad = folders.root / "alice" / "3.jpeg"
    (helpers.write_garbage if damage == "garbage" else helpers.write_truncated_jpeg)(bad)
    assert len(load_identity_folders(folders.root)) == 6  # not decoded unless asked
    if policy == "error":
        with pytest.raises(DatasetError, match=r"3.jpeg: cannot decode image"):
            load_identity_folders(folders.root, check_images=True, on_bad_image=policy)
        return
    faces = load_identity_folders(folders.root, demographics=folders.json, check_images=True, on_bad_image=policy)
    assert _names(faces)["alice"] == ["1.jpg", "2.PNG"]
    assert len(faces) == 5
    assert faces.skipped[0][0] == str(bad)
    assert "cannot decode image" in faces.skipped[0][1]
    assert "group" in faces.frame.columns


# --------------------------------------------------------------------------- RFW


def test_rfw_layout(rfw):
    faces = load_rfw(rfw.root, check_images=True)
    assert faces.name == "rfw"
    assert list(faces.frame.columns) == ["path", "identity", "race"]
    assert len(faces) == sum(n for ids in rfw.layout.values() for n in ids.values())
    expected = {ident: race for race, ids in rfw.layout.items() for ident in ids}
    assert faces.identity_table(["race"])["race"].to_dict() == expected
    assert faces.frame["path"][0] == str(rfw.root / "African" / "m.0a1" / "m.0a1_0001.jpg")
    assert faces.frame["race"].tolist() == sorted(faces.frame["race"])


def test_rfw_custom_group_column(rfw):
    faces = load_rfw(rfw.root, group_column="ethnicity")
    assert set(faces.frame["ethnicity"]) == {"African", "Asian", "Caucasian", "Indian"}


def test_rfw_identity_under_two_races(rfw, helpers):
    helpers.write_image(rfw.root / "Indian" / "m.0b1" / "m.0b1_0009.jpg")
    with pytest.raises(DatasetError, match=r"identity 'm.0b1' appears under two races, 'Asian' and 'Indian'"):
        load_rfw(rfw.root)


def test_rfw_empty_root(tmp_path):
    (tmp_path / "African").mkdir()
    with pytest.raises(DatasetError, match="no images found"):
        load_rfw(tmp_path)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_rfw_bad_image_skip(rfw, helpers, damage):
    bad = rfw.root / "Asian" / "m.0b1" / "m.0b1_0002.jpg"
    (helpers.write_garbage if damage == "garbage" else helpers.write_truncated_jpeg)(bad)
    with pytest.raises(DatasetError, match="m.0b1_0002.jpg: cannot decode image"):
        load_rfw(rfw.root, check_images=True)
    faces = load_rfw(rfw.root, check_images=True, on_bad_image="skip")
    assert str(bad) not in set(faces.frame["path"])
    assert faces.skipped[0][0] == str(bad)
    assert faces.frame["identity"].tolist().count("m.0b1") == 2
