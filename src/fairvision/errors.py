"""Exception types raised on bad user input.

Every message names the offending file, line, identity or key, so that a user
can fix the input without reading a traceback.
"""

from __future__ import annotations

__all__ = ["FairvisionError", "DatasetError", "ConfigError"]


class FairvisionError(Exception):
    """Base class of all errors fairvision raises for bad input."""


class DatasetError(FairvisionError, ValueError):
    """A data set on disk (images, annotation or demographics file) is missing or malformed."""


class ConfigError(FairvisionError, ValueError):
    """A configuration file or command-line option is invalid."""
