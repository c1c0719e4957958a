"""Grid "search": every point of a fixed list, in order -- a sweep run by the search driver.

A sweep (e.g. the sparsity x seed grid of ``fairvision prune-study``) is just another engine: the driver
and the trial store then give it what searches have -- exact resume after ``kill -9`` (finished points are
never run again), process pools and Dask, crash handling. Each point is a configuration plus its seed;
every point runs at ``max_budget``. ``ask`` returns the first point not asked or restored yet, so a grid
extended with more points (more seeds, more levels) continues with the new ones.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from ConfigSpace import Configuration

from fairvision.errors import ConfigError
from fairvision.search.engines.base import Engine, Trial

__all__ = ["GridEngine"]


class GridEngine(Engine):
    """Runs ``points`` (``[{"config": {...}, "seed": int}, ...]``) in order; ``n_trials`` = len(points)."""

    name = "grid"

    def __init__(self, space, objectives, *, points: Sequence[Mapping[str, Any]] = (), **kwargs: Any) -> None:
        super().__init__(space, objectives, **kwargs)
        self.points = []
        for i, p in enumerate(points):
            if not isinstance(p, Mapping) or set(p) != {"config", "seed"}:
                raise ConfigError(f"grid engine: point {i} must be {{config: ..., seed: ...}}, got {p!r}")
            try:
                Configuration(space, values=dict(p["config"]))
            except Exception as exc:  # ConfigSpace raises several types
                raise ConfigError(f"grid engine: point {i} {dict(p['config'])} is not in the space ({exc})") from None
            self.points.append({"config": dict(p["config"]), "seed": int(p["seed"])})
        if not self.points:
            raise ConfigError("grid engine: needs at least one point")
        self._taken: set[str] = set()
        self.options = {"points": self.points}

    def _point_key(self, config: Mapping[str, Any], seed: int) -> str:
        return json.dumps([self.key(config, self.max_budget), int(seed)])

    def _ask(self):
        for p in self.points:
            key = self._point_key(p["config"], p["seed"])
            if key not in self._taken:
                self._taken.add(key)
                return p["config"], self.max_budget, p["seed"], None
        raise ConfigError(f"grid engine: all {len(self.points)} points have been asked")

    def _restore(self, config, budget, seed, running):
        self._taken.add(self._point_key(config, seed))
        return None

    def _tell(self, trial: Trial, costs, status, violations) -> None:
        pass  # a grid learns nothing
