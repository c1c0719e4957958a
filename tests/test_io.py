"""fairvision._io: atomic writes with the user's umask, and the one NaN -> null JSON helper."""

from __future__ import annotations

import json
import math
import os
import stat

import numpy as np
import pandas as pd
import pytest

from fairvision._io import atomic_write, current_umask, jsonable, make_temp_dir, write_csv, write_json


@pytest.fixture
def umask():
    """Set the process umask for one test (it is process-global), restoring it afterwards."""
    previous = os.umask(0o022)
    os.umask(previous)

    def set_umask(value: int) -> None:
        os.umask(value)

    yield set_umask
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002, 0o027])
def test_current_umask_reads_without_changing(umask, mask):
    umask(mask)
    assert current_umask() == mask
    assert current_umask() == mask  # reading did not change it


def test_current_umask_without_proc(umask, monkeypatch):
    umask(0o027)
    real_open = open

    def no_proc(path, *args, **kwargs):
        if str(path) == "/proc/self/status":
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", no_proc)
    assert current_umask() == 0o027
    assert os.umask(0o027) == 0o027  # restored


@pytest.mark.parametrize("mask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700), (0o002, 0o664, 0o775)])
def test_outputs_get_the_umask_permissions(tmp_path, umask, mask, file_mode, dir_mode):
    umask(mask)
    written = [
        write_json(tmp_path / "out" / "m.json", {"a": 1}),
        write_csv(tmp_path / "out" / "t.csv", pd.DataFrame({"x": [1, 2]})),
        atomic_write(tmp_path / "out" / "raw.bin", lambda p: p.write_bytes(b"\x00")),
    ]
    for path in written:
        assert mode(path) == file_mode, path
    assert mode(tmp_path / "out") == dir_mode  # created by atomic_write's mkdir
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temporary left
    tmp = make_temp_dir(tmp_path, prefix=".x.")
    assert tmp.parent == tmp_path and tmp.name.startswith(".x.") and mode(tmp) == dir_mode


def test_overwrite_gets_the_current_umask(tmp_path, umask):
    umask(0o077)
    path = write_json(tmp_path / "m.json", {"a": 1})
    assert mode(path) == 0o600
    umask(0o022)
    write_json(path, {"a": 2})
    assert mode(path) == 0o644 and json.loads(path.read_text()) == {"a": 2}


def test_failed_write_leaves_nothing(tmp_path):
    def fail(p):
        p.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "m.json", fail)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "value, expected",
    [
        (float("nan"), None),
        (math.inf, None),
        (-math.inf, None),
        (np.float64("nan"), None),
        (np.float32(1.5), 1.5),
        (np.int64(3), 3),
        (np.bool_(True), True),
        ((1, float("nan")), [1, None]),
        ({1: {"x": [np.nan, 2.0]}}, {"1": {"x": [None, 2.0]}}),
        ("nan", "nan"),
        (None, None),
    ],
)
def test_jsonable(value, expected):
    out = jsonable(value)
    assert out == expected
    json.dumps(out, allow_nan=False)  # strict JSON


def test_metrics_use_the_one_jsonable_helper():
    from fairvision.metrics._fairness import _py

    assert _py(np.float64("nan")) is None and _py(np.float32(0.5)) == 0.5


def test_write_json_writes_nan_as_null(tmp_path):
    path = write_json(tmp_path / "m.json", {"Error": np.float64("nan"), "groups": {"a": [np.inf, np.int64(2)]}})
    assert json.loads(path.read_text()) == {"Error": None, "groups": {"a": [None, 2]}}
