"""A resumed search is the same search: for every engine, stopping (cleanly, or by kill -9 mid-trial)
and resuming gives the sequence of (configuration, budget) of the uninterrupted search; crash streaks
stop the search and are retried once fixed; one driver per study."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest

from fairvision.errors import ConfigError, SearchFailed
from fairvision.search import ToyObjective, TrialStore, create_engine, frnas_space, run_search
from fairvision.search.store import StoreLocked, _Lock, _now

OBJ = ["Error", "Rank Disparity"]
ENGINES = ["smac", "optuna-nsga2", "optuna-tpe", "optuna-gp", "random"]
T = 10


def _engine(name: str, n: int = T, seed: int = 5):
    options = {"eta": 2, "n_initial": 3} if name == "smac" else {}
    return create_engine(name, frnas_space(), OBJ, seed=seed, min_budget=1, max_budget=4, n_trials=n, **options)


def _sequence(df) -> list[tuple[str, float]]:
    return [(json.dumps(c, sort_keys=True), float(b)) for c, b in zip(df["config"], df["budget"])]


def _run(name, store, n, objective=None, **kw):
    return run_search(objective or ToyObjective(), engine=_engine(name, n), store=store, n_trials=n,
                      progress=False, **kw)


@pytest.mark.parametrize("name", ENGINES)
def test_clean_stop_then_resume_is_the_same_search(tmp_path, name):
    ref = _run(name, TrialStore(tmp_path / "ref.db"), T)
    store = TrialStore(tmp_path / "s.db")
    half = _run(name, store, T // 2)
    resumed = _run(name, store, T)
    assert _sequence(half) == _sequence(ref)[: T // 2]
    assert _sequence(resumed) == _sequence(ref)
    assert resumed["objectives"].tolist() == ref["objectives"].tolist()
    if name == "smac":  # Hyperband reached the full budget after the resume, as uninterrupted
        assert resumed["budget"].max() == 4.0 and len(set(resumed["budget"])) == 3


SCRIPT = """
import json, sys
from fairvision.search import ToyObjective, TrialStore, create_engine, frnas_space, run_search

db, name, n, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
options = {"eta": 2, "n_initial": 3} if name == "smac" else {}
engine = create_engine(name, frnas_space(), ["Error", "Rank Disparity"], seed=5, min_budget=1, max_budget=4,
                       n_trials=n, **options)
df = run_search(ToyObjective(kill_at=kill_at if kill_at >= 0 else None), engine=engine, store=TrialStore(db),
                n_trials=n, progress=False)
print(json.dumps([[json.dumps(c, sort_keys=True), float(b)] for c, b in zip(df["config"], df["budget"])]))
"""


def _script(tmp_path, db, name, n, kill_at=-1) -> subprocess.CompletedProcess:
    script = tmp_path / "search.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # SMAC's proposals depend on string hashing
    return subprocess.run([sys.executable, str(script), str(db), name, str(n), str(kill_at)], env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", ENGINES)
def test_kill_9_mid_trial_then_resume_is_the_same_search(tmp_path, name):
    ref = _script(tmp_path, tmp_path / "ref.db", name, T)
    assert ref.returncode == 0, ref.stderr[-2000:]
    killed = _script(tmp_path, tmp_path / "k.db", name, T, kill_at=T // 2)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    store = TrialStore(tmp_path / "k.db")
    store.load_study("default")
    before = store.trials()
    store.close()
    assert before["status"].tolist() == ["complete"] * (T // 2) + ["running"]  # killed during trial T/2
    resumed = _script(tmp_path, tmp_path / "k.db", name, T)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(resumed.stdout) == json.loads(ref.stdout)
    store = TrialStore(tmp_path / "k.db")
    store.load_study("default")
    after = store.trials().set_index("number")
    assert after.loc[T // 2, "attempts"] == 2 and set(after["status"]) == {"complete"}


def test_replay_mismatch_falls_back_to_restore(tmp_path, caplog):
    store = TrialStore(tmp_path / "s.db")
    first = _run("random", store, 4)
    other_seed = create_engine("random", frnas_space(), OBJ, seed=99, min_budget=1, max_budget=4, n_trials=6)
    with caplog.at_level(logging.WARNING, logger="fairvision.search.driver"):
        df = run_search(ToyObjective(), engine=other_seed, store=store, n_trials=6, progress=False)
    assert "restoring the trials without replay" in caplog.text
    assert _sequence(df)[:4] == _sequence(first) and len(df) == 6
    assert set(df["status"]) == {"complete"}


def test_store_without_event_order_is_restored(tmp_path, caplog):
    """A store written before ask_seq/tell_seq existed: results kept, engine restored, a warning."""
    store = TrialStore(tmp_path / "s.db")
    first = _run("smac", store, 4)
    with store.engine.begin() as con:
        from sqlalchemy import text

        con.execute(text("UPDATE trials SET ask_seq = NULL, tell_seq = NULL"))
    with caplog.at_level(logging.WARNING, logger="fairvision.search.driver"):
        df = _run("smac", store, 6)
    assert "without event order" in caplog.text
    assert _sequence(df)[:4] == _sequence(first) and len(df) == 6


def test_crash_streak_stops_and_is_retried_once_fixed(tmp_path):
    broken = tmp_path / "broken"
    objective = ToyObjective(broken_if=str(broken))
    store = TrialStore(tmp_path / "s.db")
    _run("random", store, 2, objective)  # two good trials first
    broken.write_text("x")
    with pytest.raises(SearchFailed, match=r"3 trials in a row crashed \(trials 2, 3, 4\).*set-up broken"):
        _run("random", store, 8, objective, retries=1)
    df = store.trials()
    # rolled back to before the first crash: trial 2 is to be run again, 3 and 4 are forgotten
    assert df["number"].tolist() == [0, 1, 2] and df["status"].tolist() == ["complete", "complete", "running"]
    assert df.loc[2, "attempts"] == 2
    broken.unlink()  # the cause is fixed: the crashed trials are retried, the search finishes
    fixed = _run("random", store, 8, objective)
    assert set(fixed["status"]) == {"complete"} and len(fixed) == 8
    ref = _run("random", TrialStore(tmp_path / "ref.db"), 8)
    assert _sequence(fixed) == _sequence(ref)
    # max_consecutive_crashes=0 never stops: every trial is recorded as crashed
    broken.write_text("x")
    never = _run("random", TrialStore(tmp_path / "n.db"), 4, objective, max_consecutive_crashes=0, retries=0)
    assert never["status"].tolist() == ["crashed"] * 4


def test_crash_streak_with_a_process_pool(tmp_path):
    broken = tmp_path / "broken"
    broken.write_text("x")
    store = TrialStore(tmp_path / "s.db")
    with pytest.raises(SearchFailed, match="in a row crashed"):
        _run("random", store, 6, ToyObjective(broken_if=str(broken)), workers=2, retries=0,
             max_consecutive_crashes=2)
    df = store.trials()
    assert "crashed" not in set(df["status"])  # nothing recorded as crashed: all to be retried
    broken.unlink()
    done = _run("random", store, 6, ToyObjective(broken_if=str(broken)), workers=2)
    assert set(done["status"]) == {"complete"} and done["number"].tolist() == list(range(6))


HOLDER = """
import sys
from fairvision.search import ToyObjective, TrialStore, create_engine, frnas_space, run_search

engine = create_engine("random", frnas_space(), ["Error", "Rank Disparity"], seed=1, max_budget=4, n_trials=50)
run_search(ToyObjective(sleep=0.2), engine=engine, store=TrialStore(sys.argv[1]), n_trials=50, progress=False)
"""


def test_one_driver_per_study(tmp_path, wait_complete, start_script):
    db = tmp_path / "s.db"
    proc = start_script(HOLDER, db)
    wait_complete(proc, db, 2)
    second = TrialStore(db)
    with pytest.raises(StoreLocked, match=rf"being run by process {proc.pid} on host"):
        _run("random", second, 60)
    assert proc.poll() is None  # the holder goes on undisturbed
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    # its holder is gone (kill -9 left the lock row behind): the next driver takes the study over
    store = TrialStore(db)
    df = run_search(ToyObjective(), engine=create_engine("random", frnas_space(), OBJ, seed=1, max_budget=4,
                                                         n_trials=50), store=store, n_trials=12, progress=False)
    assert len(df[df["status"] == "complete"]) >= 12
    with store._session() as s:
        assert s.query(_Lock).count() == 0  # released at the end


@pytest.mark.parametrize("age_s, refused", [(10, True), (3600, False)])
def test_lock_of_another_host(tmp_path, age_s, refused):
    store = TrialStore(tmp_path / "s.db")
    _run("random", store, 1)
    with store._session.begin() as s:
        s.add(_Lock(study_id=store.study_id, host="elsewhere.example", pid=1, proc_start=0.0,
                    since=_now() - timedelta(seconds=age_s), heartbeat=_now() - timedelta(seconds=age_s)))
    if refused:
        with pytest.raises(StoreLocked, match="elsewhere.example"):
            _run("random", store, 2)
    else:  # no heartbeat for an hour: taken over
        assert len(_run("random", store, 2)) == 2


@pytest.mark.parametrize("content", [b"not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 200])
def test_store_that_is_not_a_database(tmp_path, content):
    path = tmp_path / "x.db"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=r"x.db: cannot open it as a database"):
        TrialStore(path)


@pytest.mark.parametrize("url", ["nosuchdialect://x/y", "postgresql+nosuchdriver://u@h/db", "sqlite:////no/such/dir/x.db"])
def test_store_bad_url(url):
    with pytest.raises(ConfigError, match="trial store"):
        TrialStore(url)


def test_store_folder_that_cannot_be_created(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="cannot create its folder"):
        TrialStore(tmp_path / "file" / "s.db")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_store_in_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    TrialStore(folder / "s.db").close()
    folder.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match="trial store"):
            store = TrialStore(folder / "s.db")
            _run("random", store, 1)
    finally:
        folder.chmod(0o755)


def test_crash_streak_does_not_wait_for_running_trials(tmp_path):
    """Stopping on a streak terminates trials still running in the pool instead of waiting for them."""
    import time

    broken = tmp_path / "broken"
    broken.write_text("x")
    store = TrialStore(tmp_path / "s.db")
    slow = ToyObjective(broken_if=str(broken), sleep=0.0)
    t0 = time.monotonic()
    with pytest.raises(SearchFailed):
        _run("random", store, 8, _SlowFirst(slow), workers=2, retries=0, max_consecutive_crashes=2)
    assert time.monotonic() - t0 < 20
    assert "crashed" not in set(store.trials()["status"])


class _SlowFirst:
    """Trial 0 sleeps 30 s (and would succeed); every other trial runs ``inner``."""

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, config, budget, seed, run_dir):
        import time

        if run_dir.name.endswith("_00000"):
            time.sleep(30)
            return {"objectives": {"Error": 0.5, "Rank Disparity": 0.5}}
        return self.inner(config, budget, seed, run_dir)
