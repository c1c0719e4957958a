"""Optional dependency groups ("extras") and the one error for a missing one.

``pip install fairvision`` gives the metrics, data, models, training, reports and
the demo; ``pip install 'fairvision[search]'`` adds the architecture search's
packages.  A part that needs an extra calls :func:`require_extra` before
importing them, so a missing package is one line naming the pip command.
"""

from __future__ import annotations

import importlib.util

from fairvision.errors import FairvisionError

__all__ = ["EXTRAS", "MissingExtraError", "require_extra"]

#: extra -> (what needs it, the top-level modules it provides).
EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "search": ("the search", ("smac", "ConfigSpace", "optuna", "dask", "distributed", "sqlalchemy", "scipy", "psutil")),
    "stats": ("statistics over seeds and the dense-only bias predictors", ("statsmodels", "scipy", "sklearn")),
    "prune": ("structured channel pruning", ("torch_pruning",)),
}


class MissingExtraError(FairvisionError, ImportError):
    """An optional dependency group is not installed."""


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder refused it, or sys.modules[module] is None
        return False


def require_extra(extra: str) -> None:
    """Raise :class:`MissingExtraError` (one line: what is missing, the pip command) unless ``extra`` is installed."""
    what, modules = EXTRAS[extra]
    missing = [m for m in modules if not _importable(m)]
    if missing:
        raise MissingExtraError(
            f"{what} needs optional packages (missing: {', '.join(missing)}): pip install 'fairvision[{extra}]'"
        )
