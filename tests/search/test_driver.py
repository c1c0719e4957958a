"""run_search: retries, crashes, resume after SIGKILL, process pool, Dask LocalCluster."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from fairvision.errors import ConfigError
from fairvision.search import ToyObjective, TrialStore, create_engine, frnas_space, frnas_toy, run_search

OBJ = ["Error", "Rank Disparity"]
FINISHED = {"complete", "diverged", "crashed"}


def _engine(name="random", seed=7, n=12, out=None, **kw):
    return create_engine(name, frnas_space(), OBJ, seed=seed, min_budget=2, max_budget=8, n_trials=n,
                         output_dir=out, **kw)


def _snapshot(df):
    cols = ["number", "config", "budget", "seed", "status", "objectives", "metrics", "finished", "attempts"]
    return {r["number"]: {c: r[c] for c in cols} for r in df[df["status"] != "running"].to_dict("records")}


def test_sequential_retry_crash_diverged(tmp_path):
    store = TrialStore(tmp_path / "s.db")
    obj = ToyObjective(crash_head="MagFace", flaky=3, diverge_lr_sgd=0.5)
    df = run_search(obj, engine=_engine(), store=store, n_trials=12, progress=False)
    assert len(df) == 12 and set(df["status"]) <= FINISHED
    for r in df.to_dict("records"):
        cfg = r["config"]
        if cfg["head"] == "MagFace":  # raised, retried once, then recorded as crashed
            assert (r["status"], r["attempts"]) == ("crashed", 2)
            assert "always crashes" in r["error"]
        elif cfg.get("lr_sgd", 0) > 0.5:
            assert r["status"] == "diverged"
        else:
            assert r["status"] == "complete" and r["objectives"] == frnas_toy(cfg, r["budget"])
            assert r["attempts"] == (2 if r["number"] % 3 == 0 else 1)  # flaky first attempts retried
            assert (Path(r["run_dir"]) / "result.txt").exists()
    assert {"crashed", "diverged", "complete"} <= set(df["status"])
    # retries=0: the flaky trials crash straight away
    store0 = TrialStore(tmp_path / "s0.db")
    df0 = run_search(ToyObjective(flaky=3), engine=_engine(), store=store0, n_trials=6, retries=0,
                     progress=False)
    assert (df0["status"] == "crashed").tolist() == [n % 3 == 0 for n in df0["number"]]


def test_malformed_result_is_a_failed_attempt(tmp_path):
    store = TrialStore(tmp_path / "s.db")
    df = run_search(_bad_objective, engine=_engine(), store=store, n_trials=2, progress=False)
    assert df["status"].tolist() == ["crashed", "crashed"]
    assert "Rank Disparity" in df.loc[0, "error"]


def _bad_objective(config, budget, seed, run_dir):
    return {"objectives": {"Error": 0.5}}


def test_requeued_running_trial_and_extension(tmp_path):
    """A trial left 'running' is run again with the same number/config/budget/seed; a larger n_trials
    extends a finished search; nothing finished is re-run."""
    store = TrialStore(tmp_path / "s.db")
    run_search(ToyObjective(), engine=_engine(), store=store, n_trials=4, progress=False)
    cfg = dict(frnas_space().get_default_configuration())
    store.add_trial(4, cfg, 8.0, 7)
    store.start(4)  # then the driver "died"
    before = _snapshot(store.trials())
    df = run_search(ToyObjective(), engine=_engine(), store=store, n_trials=6, progress=False)
    assert len(df) == 6 and set(df["status"]) == {"complete"}
    assert _snapshot(df.iloc[:4]) == before
    r4 = df.set_index("number").loc[4]
    assert r4["config"] == cfg and r4["attempts"] == 2 and r4["objectives"] == frnas_toy(cfg, 8.0)
    again = run_search(ToyObjective(), engine=_engine(), store=store, n_trials=6, progress=False)
    assert _snapshot(again) == _snapshot(df)  # already done: nothing runs


def test_smac_resume_rebuilds_the_engine(tmp_path):
    store = TrialStore(tmp_path / "s.db")
    first = run_search(ToyObjective(), engine=_engine("smac", out=tmp_path / "a"), store=store, n_trials=8,
                       progress=False)
    eng = _engine("smac", out=tmp_path / "b")
    df = run_search(ToyObjective(), engine=eng, store=store, n_trials=14, progress=False)
    assert _snapshot(df.iloc[:8]) == _snapshot(first)
    assert len(df) == 14 and df["number"].tolist() == list(range(14))
    assert len(eng.smac.runhistory) == 14  # 8 re-told + 6 new
    assert {round(b) for b in df["budget"]} <= {2, 4, 8}


def test_refuses_other_objectives_and_bad_arguments(tmp_path):
    store = TrialStore(tmp_path / "s.db")
    run_search(ToyObjective(), engine=_engine(), store=store, n_trials=1, progress=False)
    other = create_engine("random", frnas_space(), ["Error", "Disparity"])
    with pytest.raises(ConfigError, match="cannot resume"):
        run_search(ToyObjective(), engine=other, store=store, n_trials=2, progress=False)
    with pytest.raises(ConfigError, match="not both"):
        run_search(ToyObjective(), engine=_engine(), store=store, n_trials=2, workers=2,
                   dask_scheduler="tcp://127.0.0.1:1", progress=False)


SCRIPT = """
import sys
from fairvision.search import ToyObjective, TrialStore, create_engine, frnas_space, run_search

def main():
    store = TrialStore(sys.argv[1])
    engine = create_engine("random", frnas_space(), ["Error", "Rank Disparity"], seed=11, max_budget=4,
                           n_trials=12)
    run_search(ToyObjective(sleep=0.2), engine=engine, store=store, n_trials=12, progress=False)

if __name__ == "__main__":
    main()
"""


def test_resume_after_sigkill(tmp_path, wait_complete, start_script):
    db = tmp_path / "kill.db"
    proc = start_script(SCRIPT, db)
    wait_complete(proc, db, 4)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    store = TrialStore(db)
    store.create_or_load_study("default", space=frnas_space(), objectives=OBJ, engine="random")
    before = store.trials()
    done_before = _snapshot(before)
    assert 4 <= len(done_before) < 12
    interrupted = before[before["status"] == "running"]["number"].tolist()

    engine = create_engine("random", frnas_space(), OBJ, seed=11, max_budget=4, n_trials=12)
    df = run_search(ToyObjective(), engine=engine, store=store, n_trials=12, progress=False)
    assert df["number"].tolist() == list(range(12)) and set(df["status"]) == {"complete"}
    after = _snapshot(df)
    assert {n: after[n] for n in done_before} == done_before  # zero completed trials lost or changed
    for n in interrupted:  # re-run with the same config, one more attempt
        assert after[n]["attempts"] == 2
        assert after[n]["config"] == before.set_index("number").loc[n, "config"]
    # the resumed random search proposes exactly what an uninterrupted one would have
    ref = run_search(ToyObjective(), engine=create_engine("random", frnas_space(), OBJ, seed=11,
                                                          max_budget=4, n_trials=12),
                     store=TrialStore(tmp_path / "ref.db"), n_trials=12, progress=False)
    assert df["config"].tolist() == ref["config"].tolist()


def test_process_pool_with_worker_death(tmp_path):
    store = TrialStore(tmp_path / "s.db")
    df = run_search(ToyObjective(sleep=0.05, die_once=100), engine=_engine(), store=store, n_trials=4,
                    workers=2, progress=False)
    assert df["number"].tolist() == list(range(4)) and set(df["status"]) == {"complete"}
    for r in df.to_dict("records"):
        assert r["objectives"] == frnas_toy(r["config"], r["budget"])
        assert Path(r["run_dir"]).name == f"trial_{r['number']:05d}"
    # trial 0 killed its worker on its first attempt: the broken pool fails every trial still in
    # flight (the pool cannot tell which one died); all are retried in a fresh pool
    attempts = df.set_index("number")["attempts"]
    assert attempts[0] == 2 and attempts.max() == 2


def test_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
    try:
        store = TrialStore(tmp_path / "s.db")
        df = run_search(ToyObjective(sleep=0.05, crash_head="MagFace"), engine=_engine(n=6), store=store,
                        n_trials=6, dask_scheduler=cluster.scheduler_address, progress=False)
        # a worker dies mid-trial: Dask re-runs the task on a live worker (its allowed-failures rule)
        died = run_search(ToyObjective(die_once=2), engine=_engine(seed=1, n=3), store=TrialStore(tmp_path / "d.db"),
                          n_trials=3, dask_scheduler=cluster.scheduler_address, progress=False)
    finally:
        cluster.close()
    assert died["status"].tolist() == ["complete"] * 3
    assert all((Path(d) / "attempted").exists() for d in died["run_dir"][died["number"] % 2 == 0])
    assert df["number"].tolist() == list(range(6))
    for r in df.to_dict("records"):
        if r["config"]["head"] == "MagFace":
            assert (r["status"], r["attempts"]) == ("crashed", 2)
        else:
            assert r["status"] == "complete" and r["objectives"] == frnas_toy(r["config"], r["budget"])
