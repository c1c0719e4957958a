"""The search loop: ask → record → run → record → tell, resumable from the trial store.

``objective_fn(config, budget, seed, run_dir) -> {"objectives": {...}, "metrics": {...},
"status": "complete" | "diverged"}`` (``status`` defaults to ``complete``; ``metrics`` optional;
a complete result needs a finite value for every objective). It may raise.

Resume is exact. The store numbers every ask and every tell of the study in one sequence
(``ask_seq``/``tell_seq``). On start the driver *replays* them in that order on the fresh engine:
each recorded ask is asked again (and must give the recorded trial), each recorded result is told
again. The engine ends in the state the interrupted search had (SMAC's Hyperband brackets and
promotions, optuna's sampler, the random stream), so the resumed search proposes exactly what the
uninterrupted one would have, whether it was stopped cleanly, extended with a larger ``n_trials``
or killed mid-trial. Interrupted trials (``running``) are run again with the same number, config,
budget and seed; no finished trial is ever re-run or changed. The driver then runs until exactly
``n_trials`` trials of the study are finished.

Replay needs a deterministic engine: the same seed, space and options and, for SMAC, the same
``PYTHONHASHSEED`` (SMAC orders candidate configurations through a ``set``; the ``fairvision
search`` command sets ``PYTHONHASHSEED=0`` unless you set it). If a replayed ask differs from the
record (another hash seed, library version or engine option), or the store predates the event
columns, the driver warns and falls back to restoring: finished trials are told to a fresh engine
in the order they finished and interrupted ones re-queued; every result is kept, but the engine's
internal state (e.g. Hyperband's brackets) may differ from the uninterrupted run's.

Failures. A trial whose objective raises, returns something malformed, or whose worker dies is run
again up to ``retries`` times (counted per driver session; ``attempts`` in the store counts all
attempts), then recorded as ``crashed`` with its error and told to the engine as crashed; the search
goes on. When ``max_consecutive_crashes`` trials in a row crash (default 3; 0 = never stop), the
cause is almost surely the set-up, not the configurations: the driver stops with
:class:`SearchFailed` carrying the first trial's error, and rolls the store back to before that
first crash (the crashed trials are retried on the next run, once the cause is fixed).

One driver per study: the driver holds the study's lock in the store while it runs
(:meth:`TrialStore.acquire_lock`); a second driver on the same study is refused with a message
naming the holder (process, host). To use more machines, give one driver ``workers`` or a Dask
scheduler.

Run directories: ``run_root/trial_<number:05d>`` (``run_root`` defaults to
``<db folder>/<db stem>_runs/<study>`` for a SQLite file, else ``./search_runs/<study>``). With
Dask they must be on a shared file system.
"""

from __future__ import annotations

import logging
import shutil
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd

from fairvision._progress import progress
from fairvision.errors import ConfigError, SearchFailed
from fairvision.search.engines.base import Engine, Trial
from fairvision.search.executors import make_executor, run_trial
from fairvision.search.store import FINISHED, TrialStore

__all__ = ["SearchFailed", "run_search"]

log = logging.getLogger(__name__)


def _default_run_root(store: TrialStore, study: str) -> Path:
    if store.path is not None:
        return store.path.parent / f"{store.path.stem}_runs" / study
    return Path("search_runs") / study


def _parse_result(engine: Engine, trial: Trial, result: Any) -> tuple[str, dict, dict]:
    """(status, objectives, metrics) of a returned result; ValueError if malformed."""
    if not isinstance(result, Mapping):
        raise ValueError(f"objective_fn must return a dict, got {type(result).__name__}")
    status = result.get("status", "complete")
    if status not in ("complete", "diverged"):
        raise ValueError(f"objective_fn returned status {status!r}; expected 'complete' or 'diverged'")
    objectives = dict(result.get("objectives") or {})
    metrics = dict(result.get("metrics") or {})
    if status == "complete":
        engine.costs(objectives, trial.number)  # raises ValueError on a missing / non-finite value
    return status, objectives, metrics


def _error_text(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text[-4000:]


def run_search(
    objective_fn: Callable[[dict, float, int, Path], Mapping[str, Any]],
    *,
    engine: Engine,
    store: TrialStore,
    n_trials: int,
    workers: int = 1,
    dask_scheduler: str | None = None,
    retries: int = 1,
    max_consecutive_crashes: int = 3,
    progress: bool = True,
    study: str = "default",
    run_root: str | Path | None = None,
    mp_context: str = "spawn",
) -> pd.DataFrame:
    """Run (or resume) a search until ``n_trials`` trials are finished; returns ``store.trials()``."""
    if int(n_trials) < 1 or int(retries) < 0 or int(max_consecutive_crashes) < 0:
        raise ConfigError(f"run_search: need n_trials >= 1, retries >= 0 and max_consecutive_crashes >= 0, "
                          f"got {n_trials}, {retries}, {max_consecutive_crashes}")
    if dask_scheduler is not None and int(workers) > 1:
        raise ConfigError("run_search: give either workers > 1 (local processes) or dask_scheduler, not both")
    store.create_or_load_study(study, space=engine.space, objectives=engine.objectives, engine=engine.name,
                               settings=engine.settings)
    store.acquire_lock()
    given = engine
    try:
        root = Path(run_root) if run_root is not None else _default_run_root(store, study)
        engine, queue, done = _resume(engine, store, study)
        loop = _Loop(objective_fn, engine, store, root, make_executor(workers, dask_scheduler, mp_context),
                     retries=int(retries), max_crashes=int(max_consecutive_crashes))
        loop.run(queue, done, int(n_trials), progress)
    finally:
        if engine is not given:  # a respawned engine (replay fell back) is ours to close
            engine.close()
        try:
            store.release_lock()
        except Exception as exc:  # noqa: BLE001 - never hide the error that ended the search
            log.warning("could not release the lock of study %r (%s); the next driver takes it over", study, exc)
    return store.trials()


def _resume(engine: Engine, store: TrialStore, study: str) -> tuple[Engine, list[Trial], int]:
    """Bring a fresh ``engine`` to the state recorded in the store; returns (engine, trials to run
    again, number of finished trials)."""
    past = store.trials()
    if past.empty:
        return engine, [], 0
    finished = past[past["status"].isin(FINISHED)]
    if past["ask_seq"].isna().any():
        log.warning("study %r was recorded without event order (an older store): restoring its trials "
                    "without replay; the engine's state may differ from an uninterrupted search", study)
        return engine, _restore(engine, past), len(finished)
    events = [(int(r.ask_seq), 0, r) for r in past.itertuples(index=False)]
    events += [(int(r.tell_seq), 1, r) for r in finished.itertuples(index=False)]
    pending: dict[int, Trial] = {}
    for _seq, kind, r in sorted(events, key=lambda e: e[:2]):
        if kind == 1:
            engine.tell(pending.pop(r.number), r.objectives, status=r.status, metrics=r.metrics)
            continue
        trial = engine.ask()
        if (trial.number, trial.seed, engine.key(trial.config, trial.budget)) != (r.number, r.seed,
                                                                                 engine.key(r.config, r.budget)):
            log.warning("study %r: replaying the search gave trial %d = %s at budget %g, but the store "
                        "recorded %s at budget %g (another PYTHONHASHSEED, library version or engine "
                        "option?); restoring the trials without replay instead", study, trial.number,
                        trial.config, trial.budget, r.config, r.budget)
            engine = engine.respawn()
            return engine, _restore(engine, past), len(finished)
        pending[r.number] = trial
    log.info("resumed study %r: replayed %d trials, %d interrupted to run again", study, len(past),
             len(pending))
    return engine, [pending[n] for n in sorted(pending)], len(finished)


def _restore(engine: Engine, past: pd.DataFrame) -> list[Trial]:
    """Fallback without replay: tell finished trials in finishing order, re-queue running ones."""
    finished = past[past["status"].isin(FINISHED)]
    for row in finished.sort_values(["finished", "number"], na_position="last", kind="stable").itertuples(index=False):
        t = engine.restore(row.number, row.config, row.budget, row.seed)
        engine.tell(t, row.objectives, status=row.status, metrics=row.metrics)
    return [engine.restore(r.number, r.config, r.budget, r.seed, running=True)
            for r in past[past["status"] == "running"].itertuples(index=False)]


class _Loop:
    """One driver session: keeps the executor busy, records and tells results, counts crashes."""

    def __init__(self, objective_fn, engine: Engine, store: TrialStore, root: Path, executor, *,
                 retries: int, max_crashes: int) -> None:
        self.objective_fn, self.engine, self.store, self.root = objective_fn, engine, store, root
        self.executor, self.retries, self.max_crashes = executor, retries, max_crashes
        self.in_flight: dict[Any, Trial] = {}
        self.failures: dict[int, int] = {}
        self.streak: list[tuple[int, int, str]] = []  # consecutive crashes: (number, tell_seq, error)

    def run_dir(self, trial: Trial) -> Path:
        return self.root / f"trial_{trial.number:05d}"

    def submit(self, trial: Trial) -> None:
        self.store.start(trial.number)
        self.in_flight[self.executor.submit(run_trial, self.objective_fn, trial.config, trial.budget,
                                            trial.seed, str(self.run_dir(trial)))] = trial

    def run(self, queue: list[Trial], done: int, n_trials: int, show: bool) -> None:
        with progress(n_trials, "search", enabled=show) as bar:
            bar.update(completed=done)
            self._run(queue, done, n_trials, bar)

    def _run(self, queue: list[Trial], done: int, n_trials: int, bar) -> None:
        try:
            while done < n_trials:
                while len(self.in_flight) < self.executor.workers and done + len(self.in_flight) < n_trials:
                    if queue:
                        self.submit(queue.pop(0))
                    else:
                        trial = self.engine.ask()
                        self.store.add_trial(trial.number, trial.config, trial.budget, trial.seed,
                                             run_dir=self.run_dir(trial))
                        self.submit(trial)
                for handle, result, error in self.executor.wait(list(self.in_flight)):
                    done += self.collect(self.in_flight.pop(handle), result, error)
                bar.update(completed=done)
        finally:
            self.executor.close()

    def collect(self, trial: Trial, result: Any, error: BaseException | None) -> int:
        """Record one returned attempt; 1 if the trial is finished, 0 if it is retried."""
        if error is None:
            try:
                status, objectives, metrics = _parse_result(self.engine, trial, result)
            except ValueError as exc:
                error = exc
        if error is None:
            self.store.finish(trial.number, status=status, objectives=objectives, metrics=metrics)
            self.engine.tell(trial, objectives, status=status, metrics=metrics)
            self.streak.clear()
            return 1
        self.failures[trial.number] = self.failures.get(trial.number, 0) + 1
        message = _error_text(error)
        if self.failures[trial.number] <= self.retries:
            log.warning("trial %d failed (%s); retrying", trial.number, message)
            self.store.note_error(trial.number, message)
            self.submit(trial)
            return 0
        log.warning("trial %d crashed: %s", trial.number, message)
        seq = self.store.fail(trial.number, message)
        self.streak.append((trial.number, seq, message))
        if self.max_crashes and len(self.streak) >= self.max_crashes:
            self.abort()
        self.engine.tell(trial, None, status="crashed")
        return 1

    def abort(self) -> None:
        """Stop on a streak of crashes: roll the store back to before the first one and raise."""
        self.executor.cancel(list(self.in_flight))  # trials in flight stay 'running' (or are rolled back)
        self.in_flight.clear()
        numbers = [n for n, _, _ in self.streak]
        for folder in self.store.rollback(self.streak[0][1]):
            shutil.rmtree(folder, ignore_errors=True)
        first = self.streak[0][2].splitlines()[-1] if self.streak[0][2] else "unknown error"
        raise SearchFailed(
            f"search stopped: {len(numbers)} trials in a row crashed (trials {', '.join(map(str, numbers))}); "
            f"the first error: {first} -- fix the cause and run the search again to retry them (if these "
            f"configurations crash by themselves, not the set-up, run with max_consecutive_crashes = 0)")
