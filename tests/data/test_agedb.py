"""AgeDB loader: ``<id>_<name>_<age>_<gender>.jpg`` file names, age bins, the ``agedb`` data kind."""

from __future__ import annotations

import pytest

from fairvision.data import AGEDB_BINS, DATA_KINDS, age_bin_labels, load_agedb
from fairvision.data.agedb import parse_bins
from fairvision.errors import ConfigError, DatasetError

FILES = [
    "0_MariaCallas_35_f.jpg",
    "1_MariaCallas_24_f.jpg",
    "2_MariaCallas_25_f.jpg",
    "3_Jean_Paul_Belmondo_50_m.jpg",  # a name with underscores
    "4_Jean_Paul_Belmondo_74_m.JPG",
    "5_Jean_Paul_Belmondo_110_m.png",  # the last bin is closed
    "6_Baby_0_M.jpg",
]


def write_agedb(root, helpers, files=FILES):
    for name in files:
        helpers.write_image(root / name)
    (root / "README.txt").write_text("not an image")  # ignored
    return root


def test_file_names_bins_and_columns(tmp_path, helpers):
    faces = load_agedb(write_agedb(tmp_path / "AgeDB", helpers))
    frame = faces.frame.set_index("image_id")
    assert len(faces) == 7 and faces.name == "agedb"
    assert list(frame.loc[[0, 1, 2], "age"]) == [35, 24, 25]
    assert frame.loc[3, "identity"] == "Jean_Paul_Belmondo" and frame.loc[0, "identity"] == "MariaCallas"
    # left-closed, right-open bins except the last, which is closed
    assert frame.loc[1, "age_group"] == "0-25" and frame.loc[2, "age_group"] == "25-50"
    assert frame.loc[3, "age_group"] == "50-75" and frame.loc[4, "age_group"] == "50-75"
    assert frame.loc[5, "age_group"] == "75-110" and frame.loc[6, "age_group"] == "0-25"
    assert set(frame["gender"]) == {"male", "female"} and frame.loc[6, "gender"] == "male"
    assert set(faces.attributes) == {"image_id", "age", "age_group", "gender"}
    # gender is constant per person, age is not
    assert faces.identity_table(["gender"]).loc["MariaCallas", "gender"] == "female"
    with pytest.raises(DatasetError, match="varies within identity"):
        faces.identity_table(["age_group"])


def test_custom_bins(tmp_path, helpers):
    with pytest.raises(ValueError, match="AgeDB uses that column"):
        load_agedb(write_agedb(tmp_path / "AgeDB", helpers), group_column="age")
    faces = load_agedb(tmp_path / "AgeDB", bins="0, 30, 60, 120", group_column="bin")
    assert set(faces.frame["bin"]) == {"0-30", "30-60", "60-120"}
    assert age_bin_labels() == ["0-25", "25-50", "50-75", "75-110"] and AGEDB_BINS == (0, 25, 50, 75, 110)


def test_age_outside_the_bins_names_the_file(tmp_path, helpers):
    root = write_agedb(tmp_path / "AgeDB", helpers, FILES + ["7_Old_111_f.jpg"])
    with pytest.raises(DatasetError, match=r"7_Old_111_f\.jpg: age 111 is outside the age bins \[0, 25, 50, 75, 110\]"):
        load_agedb(root)
    # the last bin is closed (50 is in 40-50); 74, 110 and 111 are not
    with pytest.raises(DatasetError, match=r"4_Jean_Paul_Belmondo_74_m\.JPG: age 74 is outside the age bins \[0, 40, 50\] \(and 2 more\)"):
        load_agedb(root, bins=(0, 40, 50))


@pytest.mark.parametrize("bad", ["MariaCallas_35_f.jpg", "0_MariaCallas_35_x.jpg", "0_MariaCallas_old_f.jpg", "0__35_f.jpg"])
def test_bad_file_name_is_one_line_naming_the_file(tmp_path, helpers, bad):
    root = write_agedb(tmp_path / "AgeDB", helpers, [bad])
    with pytest.raises(DatasetError) as info:
        load_agedb(root)
    assert bad in str(info.value) and "\n" not in str(info.value) and "<id>_<name>_<age>_<gender>" in str(info.value)


def test_missing_and_empty_folder(tmp_path):
    with pytest.raises(DatasetError, match="AgeDB folder not found"):
        load_agedb(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images found"):
        load_agedb(tmp_path / "empty")


@pytest.mark.parametrize("bins", [(0,), (0, 25, 25), (30, 10), (0, 2.5), "0,a", (-5, 10)])
def test_bad_bins(bins):
    with pytest.raises(ValueError):
        parse_bins(bins)


def test_data_kind(tmp_path, helpers):
    root = write_agedb(tmp_path / "AgeDB", helpers)
    spec = DATA_KINDS.get("agedb")
    assert spec.group_column == "age_group" and spec.eval_protocol is None
    faces = spec.load(root, group_column="age_group", demographics=None, which="all")
    assert set(faces.frame["age_group"]) == {"0-25", "25-50", "50-75", "75-110"}
    # bins through data.group_column: the column keeps the spelled name
    faces = spec.load(root, group_column="age_group:0,40,110", demographics=None, which="all")
    assert set(faces.frame["age_group:0,40,110"]) == {"0-40", "40-110"}
    assert "gender" in spec.load(root, group_column="gender", demographics=None, which="all").frame
    with pytest.raises(ConfigError, match=r"data.group_column: 'age_group:0,x': age bins must be whole numbers"):
        spec.load(root, group_column="age_group:0,x", demographics=None, which="all")
    with pytest.raises(DatasetError, match="outside the age bins"):
        spec.load(root, group_column="age_group:0,40", demographics=None, which="all")


def test_data_config_accepts_agedb(tmp_path):
    from fairvision.train.config import DataConfig

    cfg = DataConfig(kind="agedb", root=str(tmp_path))
    assert cfg.group_column == "age_group"
