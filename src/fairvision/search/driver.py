"""The search loop: ask → record → run → record → tell, resumable from the trial store.

``objective_fn(config, budget, seed, run_dir) -> {"objectives": {...}, "metrics": {...},
"status": "complete" | "diverged"}`` (``status`` defaults to ``complete``; ``metrics`` optional;
a complete result needs a finite value for every objective). It may raise.

Resume. On start the driver re-tells every finished trial of the store (complete / diverged /
crashed, in the order they finished) to the *fresh* engine, so its model is rebuilt, and re-queues
every ``running`` trial (interrupted) to be run again with the same number, config, budget and seed.
No finished trial is ever re-run or changed. It then runs until exactly ``n_trials`` trials of the
study are finished (a larger ``n_trials`` extends a finished search).

Failures. A trial whose objective raises, returns something malformed, or whose worker dies is run
again up to ``retries`` times (counted per driver session; ``attempts`` in the store counts all
attempts), then recorded as ``crashed`` with its error and told to the engine as crashed. The
search goes on.

Run directories: ``run_root/trial_<number:05d>`` (``run_root`` defaults to
``<db folder>/<db stem>_runs/<study>`` for a SQLite file, else ``./search_runs/<study>``). With
Dask they must be on a shared file system.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd

from fairvision.errors import ConfigError
from fairvision.search.engines.base import Engine, Trial
from fairvision.search.executors import make_executor, run_trial
from fairvision.search.store import FINISHED, TrialStore

__all__ = ["run_search"]

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
    progress: bool = True,
    study: str = "default",
    run_root: str | Path | None = None,
    mp_context: str = "spawn",
) -> pd.DataFrame:
    """Run (or resume) a search until ``n_trials`` trials are finished; returns ``store.trials()``."""
    if int(n_trials) < 1 or int(retries) < 0:
        raise ConfigError(f"run_search: need n_trials >= 1 and retries >= 0, got {n_trials}, {retries}")
    if dask_scheduler is not None and int(workers) > 1:
        raise ConfigError("run_search: give either workers > 1 (local processes) or dask_scheduler, not both")
    store.create_or_load_study(study, space=engine.space, objectives=engine.objectives, engine=engine.name,
                               settings=engine.settings)
    root = Path(run_root) if run_root is not None else _default_run_root(store, study)

    # ---- resume: re-tell finished trials, re-queue interrupted ones
    past = store.trials()
    finished = past[past["status"].isin(FINISHED)]
    finished = finished.sort_values(["finished", "number"], na_position="last", kind="stable")
    for row in finished.itertuples(index=False):
        t = engine.restore(row.number, row.config, row.budget, row.seed)
        engine.tell(t, row.objectives, status=row.status, metrics=row.metrics)
    queue = [engine.restore(r.number, r.config, r.budget, r.seed, running=True)
             for r in past[past["status"] == "running"].itertuples(index=False)]
    done = len(finished)
    if done or queue:
        log.info("resuming study %r: %d finished trials re-told, %d interrupted re-queued",
                 study, done, len(queue))

    executor = make_executor(workers, dask_scheduler, mp_context)
    in_flight: dict[Any, Trial] = {}
    failures: dict[int, int] = {}
    bar = _Progress(n_trials, done) if progress else None

    def submit(trial: Trial) -> None:
        store.start(trial.number)
        run_dir = str(root / f"trial_{trial.number:05d}")
        in_flight[executor.submit(run_trial, objective_fn, trial.config, trial.budget, trial.seed,
                                  run_dir)] = trial

    try:
        while done < n_trials:
            while len(in_flight) < executor.workers and done + len(in_flight) < n_trials:
                if queue:
                    submit(queue.pop(0))
                else:
                    trial = engine.ask()
                    store.add_trial(trial.number, trial.config, trial.budget, trial.seed,
                                    run_dir=root / f"trial_{trial.number:05d}")
                    submit(trial)
            for handle, result, error in executor.wait(list(in_flight)):
                trial = in_flight.pop(handle)
                if error is None:
                    try:
                        status, objectives, metrics = _parse_result(engine, trial, result)
                    except ValueError as exc:
                        error = exc
                if error is None:
                    store.finish(trial.number, status=status, objectives=objectives, metrics=metrics)
                    engine.tell(trial, objectives, status=status, metrics=metrics)
                    done += 1
                    continue
                failures[trial.number] = failures.get(trial.number, 0) + 1
                message = _error_text(error)
                if failures[trial.number] <= retries:
                    log.warning("trial %d failed (%s); retrying", trial.number, message)
                    store.note_error(trial.number, message)
                    submit(trial)
                else:
                    log.warning("trial %d crashed: %s", trial.number, message)
                    store.fail(trial.number, message)
                    engine.tell(trial, None, status="crashed")
                    done += 1
            if bar is not None:
                bar.update(done)
    finally:
        if bar is not None:
            bar.close()
        executor.close()
    return store.trials()


class _Progress:
    def __init__(self, total: int, done: int) -> None:
        from rich.progress import Progress

        self._p = Progress(transient=False)
        self._p.start()
        self._task = self._p.add_task("search", total=total, completed=done)

    def update(self, done: int) -> None:
        self._p.update(self._task, completed=done)

    def close(self) -> None:
        self._p.stop()
