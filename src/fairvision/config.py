"""Configuration files: safe YAML loading and the one formatter of pydantic validation errors.

Every typed config (training, synthetic faces, search) is a pydantic model with
``extra="forbid"``; :func:`validate_config` validates a mapping and raises a
:class:`~fairvision.errors.ConfigError` whose message names the source and each
key path at fault (``run.yaml: optim.lr: must be > 0 (got -1)``), formatted by
:func:`format_validation_error`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from fairvision.errors import ConfigError

__all__ = ["ConfigValidationError", "format_validation_error", "load_yaml", "validate_config"]

_M = TypeVar("_M", bound=BaseModel)


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


# --------------------------------------------------------------------------- validation errors


class ConfigValidationError(ConfigError):
    """A ConfigError made from a pydantic ValidationError; keeps it, so that a config holding this
    one as a section reports the section's errors under their full key paths."""

    def __init__(self, exc: ValidationError, *, source: str = "") -> None:
        self.validation_error = exc
        message = format_validation_error(exc)
        super().__init__(f"{source}: {message}" if source else message)


def validate_config(model: type[_M], data: Any, *, source: str) -> _M:
    """Validate the mapping ``data`` against a pydantic ``model``; ConfigError ``source: key.path: problem; ...``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: config must be a mapping of keys, not {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigValidationError(exc, source=source) from None


def format_validation_error(exc: ValidationError) -> str:
    """``key.path: problem`` for every error of a pydantic ValidationError, joined by "; ".

    A validator may name the key at fault by starting its message with ``@key: ``
    (e.g. a model validator: ``"@min_lr: must not exceed lr"``).
    """
    return "; ".join(dict.fromkeys(_error_parts(exc, ())))


def _error_parts(exc: ValidationError, root: tuple) -> list[str]:
    parts = []
    for err in exc.errors():
        loc = root + tuple(err["loc"])
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, ConfigValidationError):  # a section that validates itself (its own __init__)
            parts += _error_parts(cause.validation_error, loc)
            continue
        text = _describe(err) if err["type"] != "value_error" else str(cause if cause is not None else err["msg"])
        match = re.match(r"@([\w.]+): (.*)", text, re.S)
        if match:
            loc, text = loc + (match[1],), match[2]
        parts.append(f"{'.'.join(map(str, loc)) or 'config'}: {text}")
    return parts


def _describe(err: dict) -> str:
    ctx = err.get("ctx") or {}
    kind = err["type"]
    got = f" (got {err['input']!r})" if "input" in err and kind != "missing" else ""
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "greater_than":
        return f"must be > {ctx.get('gt')}{got}"
    if kind == "greater_than_equal":
        return f"must be >= {ctx.get('ge')}{got}"
    if kind == "less_than":
        return f"must be < {ctx.get('lt')}{got}"
    if kind == "less_than_equal":
        return f"must be <= {ctx.get('le')}{got}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}{got}"
    return f"{err['msg']}{got}"
