"""join_ranks (rank file + metadata file): every bad cell is a DatasetError naming the file and its 1-based line."""

from __future__ import annotations

import pytest

from fairvision.errors import DatasetError
from fairvision.metrics._io import csv_line, join_ranks, read_csv_checked

META = "ids,identity,sex\n0,1,f\n1,1,f\n2,2,f\n3,3,m\n4,3,m\n5,4,m\n"
RANKS = "ids,e\n0,0\n1,1\n2,0\n3,0\n4,2\n5,-1\n"


def write(tmp_path, ranks=RANKS, meta=META):
    (tmp_path / "ranks.csv").write_text(ranks)
    (tmp_path / "meta.csv").write_text(meta)
    return tmp_path / "ranks.csv", tmp_path / "meta.csv"


def join(tmp_path, ranks=RANKS, meta=META, **kwargs):
    r, m = write(tmp_path, ranks, meta)
    return join_ranks(r, m, on="ids", group_column="sex", **{"identity_column": "identity", **kwargs})


def test_good_files(tmp_path):
    joined, cols = join(tmp_path)
    assert cols == ["e"] and joined["e"].tolist() == [0, 1, 0, 0, 2, -1]
    assert joined["identity"].tolist() == [1, 1, 2, 3, 3, 4]


@pytest.mark.parametrize(
    "cell, shown",
    [("inf", "inf"), ("-inf", "-inf"), ("1e30", "1e+30"), ("nan", "'nan'"), ("0.5", "0.5"), ("-2", "-2"),
     ("", "blank"), ("x", "'x'"), ("NA", "'NA'"), ("9007199254740992", "9007199254740992")],
)
def test_bad_rank_cells_name_file_line_and_value(tmp_path, cell, shown):
    ranks = RANKS.replace("\n4,2\n", f"\n4,{cell}\n")  # line 6
    with pytest.raises(DatasetError) as exc:
        join(tmp_path, ranks=ranks)
    message = str(exc.value)
    assert message.startswith(f"{tmp_path / 'ranks.csv'}, line 6: column 'e' is {shown}; ranks must be integers >= -1")
    assert "np." not in message


@pytest.mark.parametrize("column, row", [("identity", "2,,f"), ("sex", "2,2,"), ("identity", "2,  ,f")])
def test_blank_metadata_cells_name_file_and_line(tmp_path, column, row):
    meta = META.replace("2,2,f", row)  # line 4
    with pytest.raises(DatasetError, match=rf"meta.csv, line 4: \w+ column '{column}' is blank"):
        join(tmp_path, meta=meta)


def test_blank_identity_is_an_error_even_without_identity_column_for_groups(tmp_path):
    meta = META.replace("2,2,f", "2,2,")
    with pytest.raises(DatasetError, match=r"line 4: group column 'sex' is blank"):
        join(tmp_path, meta=meta, identity_column=None)


def test_blank_lines_are_counted(tmp_path):
    meta = "ids,identity,sex\n\n0,1,f\n   \n1,1,f\n2,,f\n3,3,m\n4,3,m\n5,4,m\n\n"
    with pytest.raises(DatasetError, match=r"meta.csv, line 6: identity column 'identity' is blank"):
        join(tmp_path, meta=meta)


def test_na_is_a_name_not_a_missing_value(tmp_path):
    meta = META.replace("3,3,m", "3,NA,m").replace("4,3,m", "4,NA,m").replace(",m\n", ",NA\n")
    joined, _ = join(tmp_path, meta=meta)
    assert set(joined["group"]) == {"f", "NA"} and joined["identity"].tolist().count("NA") == 2


def test_duplicate_key_line_and_value(tmp_path):
    ranks = RANKS.replace("\n5,-1\n", "\n3,-1\n")  # line 7 repeats key 3
    with pytest.raises(DatasetError) as exc:
        join(tmp_path, ranks=ranks)
    assert str(exc.value) == f"{tmp_path / 'ranks.csv'}, line 7: key 3 appears more than once"


def test_blank_key(tmp_path):
    with pytest.raises(DatasetError, match=r"ranks.csv, line 3: key column 'ids' is blank"):
        join(tmp_path, ranks=RANKS.replace("\n1,1\n", "\n,1\n"))


def test_keys_that_do_not_join_show_values(tmp_path):
    with pytest.raises(DatasetError) as exc:
        join(tmp_path, meta=META.replace("5,4,m\n", ""))
    assert "1 key(s) of" in str(exc.value) and "e.g. [5]" in str(exc.value)


def test_csv_line_falls_back_with_quoted_line_breaks(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('a,b\n1,"x\ny"\n2,z\n')
    frame = read_csv_checked(path, what="test")
    assert len(frame) == 2
    assert csv_line(path, 1, len(frame)) == 3  # estimated (really line 4): the count does not match
