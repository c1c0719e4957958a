"""A cheap, deterministic stand-in for training on the FR-NAS space (tests, demos, benchmarks).

:func:`frnas_toy` maps a FR-NAS configuration and a budget to ``Error`` and ``Rank Disparity`` with
a real trade-off: the cell edges and the learning rate set the error; the head and the edges set
the disparity, and the edges that lower error raise disparity. Both improve with the budget
(``c / budget`` terms), so low-budget results rank configurations like full-budget ones.

:class:`ToyObjective` wraps it in the ``objective_fn(config, budget, seed, run_dir)`` signature of
:func:`~fairvision.search.driver.run_search`, picklable (process pools, Dask), with optional sleep,
divergence and failures.
"""

from __future__ import annotations

import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

__all__ = ["ToyObjective", "frnas_toy"]

_HEAD_DISPARITY = {"CosFace": 0.25, "ArcFace": 0.45, "MagFace": 0.65}
_EDGE_ERROR = (0.10, 0.02, 0.05, 0.00, 0.08, 0.04, 0.12, 0.03, 0.06)
_EDGE_DISPARITY = (0.02, 0.10, 0.04, 0.12, 0.01, 0.06, 0.00, 0.09, 0.05)


def frnas_toy(config: Mapping[str, Any], budget: float) -> dict[str, float]:
    """``{"Error": ..., "Rank Disparity": ...}`` of a FR-NAS configuration at ``budget`` epochs."""
    edges = [int(config[f"edge{i}"]) for i in (1, 2, 3)]
    if config["optimizer"] == "SGD":
        lr_term = abs(math.log10(config["lr_sgd"] / 0.2))  # best lr_sgd = 0.2
    else:
        lr_term = abs(math.log10(config["lr_adam"] / 1e-3)) / 3  # best lr_adam = 1e-3
    opt_term = {"Adam": 0.03, "AdamW": 0.0, "SGD": 0.01}[config["optimizer"]]
    error = 0.05 + sum(_EDGE_ERROR[e] for e in edges) + 0.15 * lr_term + opt_term + 0.4 / budget
    disparity = _HEAD_DISPARITY[config["head"]] * (1 + sum(_EDGE_DISPARITY[e] for e in edges)) + 0.2 / budget
    return {"Error": round(min(error, 1.0), 12), "Rank Disparity": round(disparity, 12)}


@dataclass
class ToyObjective:
    """``objective_fn`` for :func:`run_search`.

    sleep: seconds per call. diverge_lr_sgd: report ``status="diverged"`` when ``lr_sgd`` exceeds it.
    crash_head: always raise for this head. flaky: raise on the first attempt of every trial whose
    number is a multiple of ``flaky`` (uses a marker file in ``run_dir``), succeed on the retry.
    die_once: like ``flaky`` but the first attempt kills its own process (``os._exit``): a worker
    dying mid-trial. Never use it with the sequential executor (it would end the driver).
    kill_at: the first attempt of trial ``kill_at`` sends SIGKILL to its own process (``kill -9`` of
    a driver mid-trial, with the sequential executor). broken_if: raise while this file exists (a
    set-up error that every trial hits until it is fixed).
    """

    sleep: float = 0.0
    diverge_lr_sgd: float | None = None
    crash_head: str | None = None
    flaky: int | None = None
    die_once: int | None = None
    kill_at: int | None = None
    broken_if: str | None = None

    def __call__(self, config: dict[str, Any], budget: float, seed: int, run_dir: Path) -> dict[str, Any]:
        if self.sleep:
            time.sleep(self.sleep)
        run_dir = Path(run_dir)
        if self.crash_head is not None and config.get("head") == self.crash_head:
            raise RuntimeError(f"toy objective: head {self.crash_head} always crashes")
        number = int(run_dir.name.rsplit("_", 1)[-1])
        if self.broken_if is not None and Path(self.broken_if).exists():
            raise FileNotFoundError(f"toy objective: set-up broken ({self.broken_if} exists)")
        if self.kill_at is not None and number == self.kill_at and not (run_dir / "killed").exists():
            (run_dir / "killed").write_text("1")
            os.kill(os.getpid(), signal.SIGKILL)
        for every, die in ((self.flaky, False), (self.die_once, True)):
            if every and number % every == 0:
                marker = run_dir / "attempted"
                if not marker.exists():
                    marker.write_text("1")
                    if die:
                        os._exit(3)
                    raise RuntimeError("toy objective: flaky first attempt")
        if self.diverge_lr_sgd is not None and config.get("lr_sgd", 0.0) > self.diverge_lr_sgd:
            return {"status": "diverged", "objectives": {}, "metrics": {"loss": float("nan")}}
        values = frnas_toy(config, budget)
        (run_dir / "result.txt").write_text(repr(values))
        return {"status": "complete", "objectives": values, "metrics": {"seed": seed, "budget": budget}}
