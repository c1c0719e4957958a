"""Loading YAML configuration files safely, with errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fairvision.errors import ConfigError

__all__ = ["load_yaml"]


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Parse a YAML mapping with ``yaml.safe_load``; ConfigError names the file (and line) on failure."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file must hold a mapping of keys, not {type(data).__name__}")
    return data
