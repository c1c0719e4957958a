"""Exception types raised on bad user input.

Every message names the offending file, line, identity or key, so that a user
can fix the input without reading a traceback.
"""

from __future__ import annotations

__all__ = ["FairvisionError", "DatasetError", "ConfigError", "SearchFailed", "show_value"]


class FairvisionError(Exception):
    """Base class of all errors fairvision raises for bad input."""


class DatasetError(FairvisionError, ValueError):
    """A data set on disk (images, annotation or demographics file) is missing or malformed."""


class ConfigError(FairvisionError, ValueError):
    """A configuration file or command-line option is invalid."""


class SearchFailed(FairvisionError):
    """A search stopped because trial after trial crashed (its input was valid; CLI exit status 1)."""


def show_value(value: object) -> str:
    """A value as error messages show it: ``1``, ``inf``, ``'x'`` -- never ``np.int64(1)``.

    numpy scalars become Python scalars first; strings are quoted, so that a
    blank or space-padded value is visible.
    """
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        try:
            value = item()
        except (TypeError, ValueError):
            pass
    return repr(value) if isinstance(value, str) else str(value)
