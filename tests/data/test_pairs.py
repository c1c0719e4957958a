"""Verification pair files: LFW ``pairs.txt`` and CALFW / CPLFW ``pairs_*.txt``."""

from __future__ import annotations

import pytest

from fairvision.data import read_pairs
from fairvision.errors import DatasetError

LFW = """2\t2
Abel_Pacheco\t1\t4
Akhmed_Zakayev\t1\t3
Abdel_Madi_Shabneh\t1\tDean_Barker\t1
Abdel_Madi_Shabneh\t1\tGiancarlo_Fisichella\t1
Ann_Veneman\t3\t11
Anna_Nicole_Smith\t1\t2
Abdul_Rahman\t1\tPrincess_Hisako\t1
Abdullah_al-Attiyah\t1\tDimitar_Berbatov\t1
"""

CALFW = """Aaron_Peirsol_0001.jpg 1
Aaron_Peirsol_0002.jpg 1
Abdel_Nasser_Assidi_0001.jpg 2
Abdel_Nasser_Assidi_0003.jpg 2
Aaron_Sorkin_0001.jpg 0
Bill_Gates_0007.jpg 0
Abba_Eban_0001.jpg 0
Zico_0002.jpg 0
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_lfw_pairs(tmp_path):
    pairs = read_pairs(write(tmp_path, "pairs.txt", LFW))
    assert pairs.attrs["format"] == "lfw" and len(pairs) == 8
    assert list(pairs["same"]) == [True, True, False, False] * 2
    assert list(pairs["fold"]) == [0, 0, 0, 0, 1, 1, 1, 1]
    assert list(pairs["line"]) == list(range(2, 10))
    first = pairs.iloc[0]
    assert first["first"] == "Abel_Pacheco/Abel_Pacheco_0001.jpg" and first["second"] == "Abel_Pacheco/Abel_Pacheco_0004.jpg"
    assert pairs.iloc[4]["second"] == "Ann_Veneman/Ann_Veneman_0011.jpg"
    diff = pairs.iloc[2]
    assert (diff["identity_first"], diff["identity_second"]) == ("Abdel_Madi_Shabneh", "Dean_Barker")
    assert diff["second"] == "Dean_Barker/Dean_Barker_0001.jpg"


def test_lfw_single_set_header(tmp_path):
    text = "1\nA 1 2\nA 1 B 1\n"
    pairs = read_pairs(write(tmp_path, "pairsDevTest.txt", text))
    assert list(pairs["same"]) == [True, False] and set(pairs["fold"]) == {0}


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda t: t.replace("2\t2", "2\tx"), r"pairs.txt, line 1: the header must be a whole number"),
        (lambda t: t.replace("2\t2", "2 2 2"), r"pairs.txt, line 1: the header must be '<sets> <pairs per set>'"),
        (lambda t: t.replace("2\t2", "3\t2"), r"pairs.txt, line 9: the header promises 3 set\(s\) .* = 12 pair lines, the file has 8"),
        (lambda t: t.replace("Akhmed_Zakayev\t1\t3", "Akhmed_Zakayev\t1\tX\t3"), r"pairs.txt, line 3: pair 2 of set 1 should be a same-person line"),
        (lambda t: t.replace("Abdul_Rahman\t1\tPrincess_Hisako\t1", "Abdul_Rahman\t1\t2"), r"pairs.txt, line 8: pair 3 of set 2 should be a different-person line"),
        (lambda t: t.replace("Ann_Veneman\t3\t11", "Ann_Veneman\t3\televen"), r"pairs.txt, line 6: the image number must be a whole number, not 'eleven'"),
        (lambda t: t.replace("Ann_Veneman\t3\t11", "Ann_Veneman\t0\t11"), r"pairs.txt, line 6: image numbers start at 1"),
        (lambda t: t.replace("Dean_Barker", "Abdel_Madi_Shabneh"), r"pairs.txt, line 4: a different-person pair names"),
    ],
)
def test_lfw_errors_name_file_and_line(tmp_path, edit, match):
    with pytest.raises(DatasetError, match=match) as info:
        read_pairs(write(tmp_path, "pairs.txt", edit(LFW)), format="lfw")
    assert "\n" not in str(info.value)


def test_calfw_pairs(tmp_path):
    pairs = read_pairs(write(tmp_path, "pairs_CALFW.txt", CALFW))
    assert pairs.attrs["format"] == "calfw" and len(pairs) == 4
    assert list(pairs["same"]) == [True, True, False, False]
    assert list(pairs["line"]) == [1, 3, 5, 7]
    assert pairs.iloc[1]["identity_first"] == "Abdel_Nasser_Assidi" and pairs.iloc[2]["identity_second"] == "Bill_Gates"
    # same-person pairs: the token is the fold; different-person pairs: contiguous blocks in file order
    assert list(pairs["fold"]) == [0, 1, 0, 5]
    assert read_pairs(write(tmp_path, "pairs_CPLFW.txt", CALFW)).attrs["format"] == "cplfw"
    assert read_pairs(write(tmp_path, "list.txt", CALFW)).attrs["format"] == "calfw"  # guessed from the lines


@pytest.mark.parametrize(
    "text, match",
    [
        (CALFW + "Extra_0001.jpg 0\n", r"line 9: two lines per pair, but the file has an odd number of lines"),
        (CALFW.replace("Aaron_Peirsol_0002.jpg 1", "Aaron_Peirsol_0002.jpg 3"), r"line 2: the pair's two lines carry different tokens \(1 on line 1, 3\)"),
        (CALFW.replace("Zico_0002.jpg 0", "Zico_0002.jpg"), r"line 8: expected '<image> <token>', got 1 field"),
        (CALFW.replace("Zico_0002.jpg 0", "Zico_0002.jpg zero"), r"line 8: the pair token must be a whole number"),
        (CALFW.replace(" 2\n", " 11\n"), r"line 3: the token must be 0 \(different\) or a fold 1..10, not 11"),
        (CALFW.replace("Bill_Gates_0007.jpg", "BillGates.jpg"), r"line 6: image 'BillGates.jpg' is not named <person>_<number>.<ext>"),
    ],
)
def test_calfw_errors_name_file_and_line(tmp_path, text, match):
    with pytest.raises(DatasetError, match=r"pairs_CALFW.txt, " + match):
        read_pairs(write(tmp_path, "pairs_CALFW.txt", text))


def test_missing_empty_and_unknown(tmp_path):
    with pytest.raises(DatasetError, match="pair file not found"):
        read_pairs(tmp_path / "nothing.txt")
    with pytest.raises(DatasetError, match="file is empty"):
        read_pairs(write(tmp_path, "pairs.txt", "\n\n"), format="lfw")
    with pytest.raises(DatasetError, match=r"odd.txt, line 1: cannot tell the pair-file format"):
        read_pairs(write(tmp_path, "odd.txt", "a b c\n"))
    with pytest.raises(ValueError, match="format must be"):
        read_pairs(write(tmp_path, "pairs.txt", LFW), format="cfp")
