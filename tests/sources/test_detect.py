"""Detecting what a report source is: a run folder, a trial store or a pruning study folder; anything else is
one ConfigError naming the path."""

from __future__ import annotations

import sqlite3

import pytest

from fairvision.errors import ConfigError
from fairvision.sources import Source, detect_source, detect_sources

from .fakes import make_prune_study, make_run, make_store, zoo_trials


def test_each_kind_is_detected(tmp_path):
    run = make_run(tmp_path / "run")
    store = make_store(tmp_path / "zoo.db", study="zoo", engine="grid", trials=zoo_trials())
    study = make_prune_study(tmp_path / "study", predictions=False)
    assert detect_source(run) == Source(str(run), "run")
    assert detect_source(store) == Source(str(store), "store", ("zoo",))
    assert detect_source(study) == Source(str(study), "prune-study")  # holds a study.db, is still a study folder
    assert detect_source(study / "study.db").kind == "store"
    assert [s.kind for s in detect_sources([run, store, study])] == ["run", "store", "prune-study"]


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "nothing", "no such file or folder"),
    (lambda p: (p / "notes.txt").write_text("hello") and p / "notes.txt", "not a trial store"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "not a training run folder"),
    (lambda p: (p / "cfg").mkdir() or (p / "cfg" / "config.yaml").write_text("a: 1") and p / "cfg",
     "not a training run folder"),
])
def test_unknown_paths_are_one_line_errors(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(ConfigError, match=message) as info:
        detect_source(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_sqlite_files_that_are_not_stores(tmp_path):
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE things (x INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(ConfigError, match="other.db: not a trial store"):
        detect_source(other)
    from fairvision.search import TrialStore

    TrialStore(tmp_path / "new.db").close()  # tables, no study
    with pytest.raises(ConfigError, match="new.db: the trial store has no study yet"):
        detect_source(tmp_path / "new.db")
    assert other.read_bytes()[:16] == b"SQLite format 3\x00"  # read-only: nothing was created in it
    assert {r[0] for r in sqlite3.connect(other).execute("SELECT name FROM sqlite_master")} == {"things"}


def test_sources_are_checked_before_any_work(tmp_path):
    run = make_run(tmp_path / "run")
    with pytest.raises(ConfigError, match="at least one source"):
        detect_sources([])
    with pytest.raises(ConfigError, match="given twice"):
        detect_sources([run, tmp_path / "run" / ".." / "run"])
    with pytest.raises(ConfigError, match="missing.db: no such file"):
        detect_sources([run, tmp_path / "missing.db"])
