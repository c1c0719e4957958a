"""Where trials run: in this process, in a local process pool, or on an existing Dask cluster.

All three expose ``submit(fn, *args) -> handle``, ``wait(handles) -> [(handle, result, error)]``
(blocks until at least one is done), ``close()`` (waits for running trials) and ``cancel(handles)``
(stops them without waiting: the driver's abort on a crash streak).

* :class:`SequentialExecutor`: runs at ``submit``; ``KeyboardInterrupt`` propagates.
* :class:`PoolExecutor`: ``concurrent.futures.ProcessPoolExecutor`` with the ``spawn`` start method
  (safe with torch and threads; the objective must be picklable and importable). If a worker
  process dies the pool is broken: every trial in flight gets a ``BrokenProcessPool`` error (the pool
  cannot tell which one killed it) and the pool is rebuilt for the next submission.
* :class:`DaskExecutor`: ``distributed.Client(address)`` (``pure=False``: every submission runs).
  Dask itself re-runs a task whose worker died, up to the cluster's ``allowed-failures``; when it
  gives up the error (``KilledWorker``) reaches the driver like any other.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable

__all__ = ["DaskExecutor", "PoolExecutor", "SequentialExecutor", "make_executor", "run_trial"]


def run_trial(fn: Callable[..., Any], config: dict[str, Any], budget: float, seed: int, run_dir: str) -> Any:
    """Runs in the worker: create ``run_dir`` and call the objective."""
    path = Path(run_dir)
    path.mkdir(parents=True, exist_ok=True)
    return fn(config, budget, seed, path)


def _outcome(fut: Any) -> tuple[Any, BaseException | None]:
    try:
        return fut.result(), None
    except cf.CancelledError as exc:
        return None, exc
    except Exception as exc:  # noqa: BLE001 - any failure of the objective is recorded
        return None, exc


class SequentialExecutor:
    workers = 1

    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future:
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001
            fut.set_exception(exc)
        return fut

    def wait(self, handles: list[Any]) -> list[tuple[Any, Any, BaseException | None]]:
        return [(h, *_outcome(h)) for h in handles if h.done()]

    def close(self) -> None:
        pass

    def cancel(self, handles: list[Any]) -> None:
        pass  # nothing runs in the background


def share_cores(threads: int) -> None:
    """Worker start-up: torch uses ``threads`` threads (the machine's cores over the workers), so that parallel
    trials do not oversubscribe the cores; an explicit ``OMP_NUM_THREADS`` wins."""
    if os.environ.get("OMP_NUM_THREADS"):
        return
    import torch

    torch.set_num_threads(int(threads))


class PoolExecutor:
    def __init__(self, workers: int, mp_context: str = "spawn") -> None:
        self.workers = int(workers)
        self._ctx = multiprocessing.get_context(mp_context)
        self._pool: cf.ProcessPoolExecutor | None = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future:
        if self._pool is None or getattr(self._pool, "_broken", False):
            self._new_pool()
        try:
            return self._pool.submit(fn, *args)
        except BrokenProcessPool:  # broke between the check and the submission
            self._new_pool()
            return self._pool.submit(fn, *args)

    def _new_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=self._ctx, initializer=share_cores,
                                            initargs=(threads,))

    def wait(self, handles: list[Any]) -> list[tuple[Any, Any, BaseException | None]]:
        done, _ = cf.wait(handles, return_when=cf.FIRST_COMPLETED)
        return [(h, *_outcome(h)) for h in handles if h in done]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def cancel(self, handles: list[Any]) -> None:
        """Stop every trial now: cancel queued ones, terminate the worker processes."""
        if self._pool is None:
            return
        processes = list(getattr(self._pool, "_processes", {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            proc.terminate()
        for proc in processes:
            proc.join(10)
        self._pool = None


class DaskExecutor:
    def __init__(self, address: str) -> None:
        from distributed import Client

        self.client = Client(address, set_as_default=False)
        info = self.client.scheduler_info()
        self.workers = max(1, sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def wait(self, handles: list[Any]) -> list[tuple[Any, Any, BaseException | None]]:
        from distributed import wait

        with self.client.as_current():
            done, _ = wait(handles, return_when="FIRST_COMPLETED")
        return [(h, *_outcome(h)) for h in handles if h in done]

    def close(self) -> None:
        self.client.close()

    def cancel(self, handles: list[Any]) -> None:
        """Cancel the trials on the cluster (a task already running there may still finish)."""
        self.client.cancel(handles, force=True)


def make_executor(workers: int = 1, dask_scheduler: str | None = None, mp_context: str = "spawn") -> Any:
    if dask_scheduler is not None:
        return DaskExecutor(dask_scheduler)
    if int(workers) <= 1:
        return SequentialExecutor()
    return PoolExecutor(int(workers), mp_context)
