"""Search spaces (ConfigSpace): FR-NAS's space, a timm-zoo space, user spaces from YAML, compression dims.

Every space is a plain :class:`ConfigSpace.ConfigurationSpace`. Configurations handed to objective
functions are plain ``dict``s of Python scalars holding only the *active* hyperparameters
(:func:`config_to_dict`).

User-defined schema (:func:`space_from_dict`, :func:`load_space` for a YAML file)::

    edge1: {type: categorical, choices: ["0", "1", "2"], default: "1"}
    optimizer: {type: categorical, choices: [Adam, SGD]}
    lr_adam: {type: float, low: 1.0e-5, high: 1.0e-2, log: true, default: 1.0e-3}
    lr_sgd: {type: float, low: 0.09, high: 0.8, log: true}
    depth: {type: int, low: 2, high: 8}
    dropout: {type: constant, value: 0.1}
    conditions:
      - {child: lr_adam, parent: optimizer, in: [Adam]}
      - {child: lr_sgd, parent: optimizer, equals: SGD}

Top-level keys are hyperparameter names, except the reserved ``conditions`` (a list); the
hyperparameters may instead be nested under a ``hyperparameters:`` mapping. ``default`` is optional
(categorical: first choice; numbers: ConfigSpace's default, the (geometric) middle). ``log: true``
needs ``low > 0``. Several conditions on the same child must all hold (AND). Any violation raises
:class:`~fairvision.errors.ConfigError` naming the hyperparameter.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from ConfigSpace import (
    AndConjunction,
    Categorical,
    ConfigurationSpace,
    Constant,
    EqualsCondition,
    Float,
    InCondition,
    Integer,
)

from fairvision.errors import ConfigError

__all__ = [
    "HEADS",
    "OPTIMIZERS",
    "config_to_dict",
    "frnas_space",
    "load_space",
    "space_fingerprint",
    "space_from_dict",
    "space_to_dict",
    "timm_zoo_space",
    "with_compression",
]

HEADS = ("CosFace", "ArcFace", "MagFace")
OPTIMIZERS = ("Adam", "AdamW", "SGD")
ADAM_OPTIMIZERS = ("Adam", "AdamW")
LR_ADAM = (1e-5, 1e-2, 1e-3)  # low, high, default (FR-NAS)
LR_SGD = (0.09, 0.8, 0.1)
N_OPS = 9  # FR-NAS DPN cell: each edge picks one of 9 operations "0".."8" (len(models.FRNAS_OPS), tested)


def _add_head_optimizer_lr(cs: ConfigurationSpace, heads: Sequence[str], optimizers: Sequence[str]) -> None:
    """head × optimizer × conditional learning rate (lr_adam for Adam/AdamW, lr_sgd for SGD)."""
    head = Categorical("head", list(heads), default=heads[0])
    opt = Categorical("optimizer", list(optimizers), default=optimizers[0])
    cs.add(head, opt)
    adam_like = [o for o in optimizers if o in ADAM_OPTIMIZERS]
    if adam_like:
        lr_adam = Float("lr_adam", LR_ADAM[:2], log=True, default=LR_ADAM[2])
        cs.add(lr_adam, InCondition(lr_adam, opt, adam_like))
    if "SGD" in optimizers:
        lr_sgd = Float("lr_sgd", LR_SGD[:2], log=True, default=LR_SGD[2])
        cs.add(lr_sgd, InCondition(lr_sgd, opt, ["SGD"]))


def frnas_space(seed: int | None = None) -> ConfigurationSpace:
    """FR-NAS's SMAC space: DPN cell edges ``edge1..3`` ∈ {"0".."8"}, head, optimizer, conditional lr."""
    cs = ConfigurationSpace(seed=seed)
    ops = [str(i) for i in range(N_OPS)]
    for name, default in (("edge1", "2"), ("edge2", "0"), ("edge3", "1")):
        cs.add(Categorical(name, ops, default=default))
    _add_head_optimizer_lr(cs, HEADS, OPTIMIZERS)
    return cs


def timm_zoo_space(
    backbones: Sequence[str],
    *,
    heads: Sequence[str] = HEADS,
    optimizers: Sequence[str] = OPTIMIZERS,
    seed: int | None = None,
) -> ConfigurationSpace:
    """FR-NAS phase 1 as a space: ``backbone`` (timm names) × head × optimizer × conditional lr."""
    if not backbones:
        raise ConfigError("timm_zoo_space: give at least one backbone name")
    for what, values, allowed in (("head", heads, HEADS), ("optimizer", optimizers, OPTIMIZERS)):
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            raise ConfigError(f"timm_zoo_space: unknown {what} {bad or values}; choose from {list(allowed)}")
    cs = ConfigurationSpace(seed=seed)
    cs.add(Categorical("backbone", list(backbones), default=backbones[0]))
    _add_head_optimizer_lr(cs, heads, optimizers)
    return cs


def with_compression(
    space: ConfigurationSpace,
    sparsity: tuple[float, float] | None = (0.0, 0.95),
    width: Sequence[float] | None = (0.25, 0.5, 1.0),
) -> ConfigurationSpace:
    """A copy of ``space`` plus ``sparsity`` (uniform float, default = low) and ``width`` (categorical
    width multiplier, default = largest). Pass ``None`` to leave a dimension out."""
    cs = copy.deepcopy(space)
    if sparsity is not None:
        low, high = (float(v) for v in sparsity)
        if not 0.0 <= low < high < 1.0:
            raise ConfigError(f"with_compression: sparsity must satisfy 0 <= low < high < 1, got {sparsity}")
        cs.add(Float("sparsity", (low, high), default=low))
    if width is not None:
        widths = [float(w) for w in width]
        if not widths or any(w <= 0 for w in widths) or len(set(widths)) != len(widths):
            raise ConfigError(f"with_compression: width must be distinct positive multipliers, got {width}")
        cs.add(Categorical("width", widths, default=max(widths)))
    return cs


# --------------------------------------------------------------------------- user-defined spaces


def load_space(path: str | Path, seed: int | None = None) -> ConfigurationSpace:
    """Read a YAML file in the :func:`space_from_dict` schema; errors name the file."""
    from fairvision.config import load_yaml

    try:
        return space_from_dict(load_yaml(path), seed=seed)
    except ConfigError as exc:
        if str(path) in str(exc):
            raise
        raise ConfigError(f"{path}: {exc}") from None


def space_from_dict(d: Mapping[str, Any], seed: int | None = None) -> ConfigurationSpace:
    """Build a space from the small schema documented in this module."""
    if not isinstance(d, Mapping):
        raise ConfigError(f"space: expected a mapping of hyperparameters, got {type(d).__name__}")
    d = dict(d)
    conditions = d.pop("conditions", None) or []
    params = d.pop("hyperparameters", None)
    if params is None:
        params = d
    elif d:
        raise ConfigError(f"space: unknown top-level keys {sorted(d)} beside 'hyperparameters'")
    if not isinstance(params, Mapping) or not params:
        raise ConfigError("space: no hyperparameters defined")
    cs = ConfigurationSpace(seed=seed)
    for name, spec in params.items():
        cs.add(_hyperparameter(str(name), spec))
    if not isinstance(conditions, list):
        raise ConfigError("space: 'conditions' must be a list")
    by_child: dict[str, list] = {}
    for i, cond in enumerate(conditions):
        child, c = _condition(cs, i, cond)
        by_child.setdefault(child, []).append(c)
    for child, conds in by_child.items():
        try:
            cs.add(conds[0] if len(conds) == 1 else AndConjunction(*conds))
        except (ValueError, TypeError) as exc:  # e.g. a cycle
            raise ConfigError(f"space: conditions on {child!r}: {exc}") from None
    return cs


_KEYS = {
    "categorical": {"type", "choices", "default", "weights"},
    "float": {"type", "low", "high", "log", "default"},
    "int": {"type", "low", "high", "log", "default"},
    "constant": {"type", "value"},
}


def _hyperparameter(name: str, spec: Any):
    where = f"space: hyperparameter {name!r}"
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise ConfigError(f"{where}: expected a mapping with a 'type' ({', '.join(_KEYS)})")
    kind = spec["type"]
    if kind not in _KEYS:
        raise ConfigError(f"{where}: unknown type {kind!r}; choose from {', '.join(_KEYS)}")
    unknown = set(spec) - _KEYS[kind]
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)} for type {kind}")
    try:
        if kind == "categorical":
            choices = spec.get("choices")
            if not isinstance(choices, list) or not choices:
                raise ConfigError(f"{where}: 'choices' must be a non-empty list")
            if len({json.dumps(c) for c in choices}) != len(choices):
                raise ConfigError(f"{where}: duplicate choices {choices}")
            default = spec.get("default", choices[0])
            if default not in choices:
                raise ConfigError(f"{where}: default {default!r} is not one of the choices {choices}")
            return Categorical(name, choices, default=default, weights=spec.get("weights"))
        if kind == "constant":
            if "value" not in spec:
                raise ConfigError(f"{where}: a constant needs 'value'")
            return Constant(name, spec["value"])
        for key in ("low", "high"):
            if key not in spec:
                raise ConfigError(f"{where}: missing '{key}'")
        cast = float if kind == "float" else int
        for key in ("low", "high", "default"):
            v = spec.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise ConfigError(f"{where}: '{key}' must be a number, got {v!r}")
            if kind == "int" and isinstance(v, float) and not v.is_integer():
                raise ConfigError(f"{where}: '{key}' must be an integer, got {v!r}")
        low, high, log = cast(spec["low"]), cast(spec["high"]), spec.get("log", False)
        if not isinstance(log, bool):
            raise ConfigError(f"{where}: 'log' must be true or false")
        if not low < high:
            raise ConfigError(f"{where}: need low < high, got low={low}, high={high}")
        if log and low <= 0:
            raise ConfigError(f"{where}: log scale needs low > 0, got low={low}")
        default = spec.get("default")
        if default is not None and not low <= default <= high:
            raise ConfigError(f"{where}: default {default} outside [{low}, {high}]")
        make = Float if kind == "float" else Integer
        return make(name, (low, high), log=log, default=None if default is None else cast(default))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _condition(cs: ConfigurationSpace, i: int, cond: Any):
    where = f"space: condition #{i + 1}"
    if not isinstance(cond, Mapping) or not {"child", "parent"} <= set(cond):
        raise ConfigError(f"{where}: expected a mapping with 'child', 'parent' and 'in' or 'equals'")
    unknown = set(cond) - {"child", "parent", "in", "equals"}
    if unknown or ("in" in cond) == ("equals" in cond):
        raise ConfigError(f"{where}: give exactly one of 'in' (a list) or 'equals' (a value)")
    child, parent = str(cond["child"]), str(cond["parent"])
    for role, name in (("child", child), ("parent", parent)):
        if name not in cs:
            raise ConfigError(f"{where}: {role} {name!r} is not a hyperparameter of the space")
    if child == parent:
        raise ConfigError(f"{where}: {child!r} cannot depend on itself")
    values = cond["in"] if "in" in cond else [cond["equals"]]
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}: 'in' must be a non-empty list")
    for v in values:
        if not bool(cs[parent].legal_value(v)):
            raise ConfigError(f"{where}: {v!r} is not a legal value of {parent!r}")
    try:
        if "in" in cond:
            return child, InCondition(cs[child], cs[parent], values)
        return child, EqualsCondition(cs[child], cs[parent], values[0])
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


# --------------------------------------------------------------------------- helpers


def config_to_dict(config: Mapping[str, Any]) -> dict[str, Any]:
    """Active hyperparameters of a Configuration (or mapping) as plain Python scalars."""
    return {str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in dict(config).items()}


def space_to_dict(space: ConfigurationSpace) -> dict[str, Any]:
    """ConfigSpace's serialised form (JSON-able), without the version field."""
    d = space.to_serialized_dict()
    d.pop("python_module_version", None)
    return d


def space_fingerprint(space: ConfigurationSpace) -> str:
    """Canonical JSON of a space (seed excluded): equal strings ⇔ same space."""
    return json.dumps(space_to_dict(space), sort_keys=True, default=str)
