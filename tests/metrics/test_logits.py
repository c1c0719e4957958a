"""read_logits / write_logits: the np.savetxt format of Iofinova et al.'s runs, errors naming file, line and column."""

from __future__ import annotations

import numpy as np
import pytest

from fairvision.errors import DatasetError
from fairvision.metrics import read_logits, write_logits


def test_round_trip_is_exact(tmp_path):
    logits = np.random.default_rng(0).standard_normal((7, 40)) * 5
    path = write_logits(tmp_path / "sub" / "test_outputs.txt", logits)
    assert path == tmp_path / "sub" / "test_outputs.txt"
    back = read_logits(path, n_rows=7, n_cols=40)
    assert back.dtype == np.float64 and np.array_equal(back, logits)
    assert np.array_equal(np.loadtxt(path), logits)  # what the authors' analysis reads


def test_reads_savetxt_files_with_any_whitespace(tmp_path):
    path = tmp_path / "z.txt"
    path.write_text("# written by np.savetxt(header=...)\n1.5e+00\t-2 3\n\n  4 5.25  -6e-1  \n")
    assert np.array_equal(read_logits(path), [[1.5, -2, 3], [4, 5.25, -0.6]])


def test_one_column_is_a_matrix(tmp_path):
    path = tmp_path / "z.txt"
    np.savetxt(path, np.array([1.0, 2.0, 3.0]))
    assert read_logits(path, n_cols=1).shape == (3, 1)


@pytest.mark.parametrize(
    "lines, n_cols, parts",
    [
        (["1 2 3", "4 5", "7 8 9"], None, ["line 2: 2 value(s), expected 3, as on the first line"]),
        (["1 2 3", "4 5 6 7", "7 8 9"], None, ["line 2: 4 value(s), expected 3"]),
        (["1 2 3", "4 5 6"], 4, ["line 1: 3 value(s), expected 4 (one per attribute)"]),
        (["1 2 3 4 5", "4 5 6 7 8"], 4, ["line 1: 5 value(s), expected 4"]),
        (["1 2 3", "4 x 6"], None, ["line 2, column 2: 'x' is not a number"]),
        (["", "1 2 3", "4 5 six"], 3, ["line 3, column 3: 'six' is not a number"]),
        (["1 2 3", "4 nan 6"], 3, ["line 2, column 2: 'nan' is not finite"]),
        (["1 2 -inf", "4 5 6"], 3, ["line 1, column 3: '-inf' is not finite"]),
    ],
)
def test_bad_cells_and_rows_name_line_and_column(tmp_path, lines, n_cols, parts):
    path = tmp_path / "z.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError) as info:
        read_logits(path, n_cols=n_cols)
    message = str(info.value)
    assert message.startswith(f"{path}, line ") and "\n" not in message
    for part in parts:
        assert part in message


def test_wrong_row_count(tmp_path):
    path = write_logits(tmp_path / "z.txt", np.zeros((3, 2)))
    with pytest.raises(DatasetError, match=r"z.txt: 3 rows of logits, expected 4 \(one per image\)"):
        read_logits(path, n_rows=4)


@pytest.mark.parametrize("text, message", [("", "is empty"), ("# only a comment\n\n", "is empty")])
def test_empty_files(tmp_path, text, message):
    path = tmp_path / "z.txt"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message):
        read_logits(path)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(DatasetError, match="logits file not found"):
        read_logits(tmp_path / "nope.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(DatasetError, match="not a text file"):
        read_logits(tmp_path / "bin.txt")


def test_write_rejects_non_finite_and_bad_shapes(tmp_path):
    with pytest.raises(ValueError, match=r"logits\[1, 0\] is nan"):
        write_logits(tmp_path / "z.txt", [[0.0, 1.0], [np.nan, 2.0]])
    with pytest.raises(ValueError, match="must be"):
        write_logits(tmp_path / "z.txt", np.zeros((2, 2, 2)))
    assert not (tmp_path / "z.txt").exists()


def test_reads_celeba_size_quickly(tmp_path):
    import time

    logits = np.random.default_rng(1).standard_normal((19_962, 40))
    path = write_logits(tmp_path / "test_outputs.txt", logits)
    t0 = time.perf_counter()
    back = read_logits(path, n_rows=19_962, n_cols=40)
    assert time.perf_counter() - t0 < 5  # the C parser: well under a second on a laptop
    assert np.array_equal(back, logits)
