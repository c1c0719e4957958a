"""Random search: uniform samples of the ConfigSpace space, always at ``max_budget``, seeded.

Constraints are honoured the only way random search can: trials whose reported values violate them
are marked infeasible (``history[i]["feasible"]``) and left out of :meth:`Engine.front`; sampling
itself ignores them. With ``dedupe`` (default) this is sampling without replacement: draws already
asked or restored are skipped, so a resumed search (same seed) replays the stream, skips the
restored trials and proposes exactly what the uninterrupted search would have.
"""

from __future__ import annotations

import copy
from typing import Any

from fairvision.search.engines.base import Engine, Trial
from fairvision.search.spaces import config_to_dict

__all__ = ["RandomEngine"]


class RandomEngine(Engine):
    name = "random"

    def __init__(self, space, objectives, **kwargs: Any) -> None:
        super().__init__(space, objectives, **kwargs)
        self._space = copy.deepcopy(space)
        self._space.seed(self.seed)

    def _sample(self) -> dict[str, Any]:
        return config_to_dict(self._space.sample_configuration())

    def _ask(self):
        for _ in range(1000):
            config = self._sample()
            if not self.is_duplicate(config, self.max_budget):
                break
        return config, self.max_budget, self.seed, None

    def _restore(self, config, budget, seed, running):
        return None

    def _tell(self, trial: Trial, costs, status, violations) -> None:
        pass  # nothing to learn
