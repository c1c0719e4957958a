"""One registry type for every "name -> implementation" mapping: models, heads, losses, data kinds, engines.

A :class:`Registry` maps names to objects (classes, builder functions, specs).
Lookup is case-insensitive; the spelling given at registration is the
canonical name that :meth:`Registry.names` lists and :meth:`Registry.canonical`
returns.  An unknown name raises :class:`~fairvision.errors.ConfigError` with
close matches and the known names, so configs and factories report typos the
same way everywhere.

Usage (the ``create_*`` factories are thin wrappers around :meth:`Registry.get`)::

    ENGINES: Registry[Callable[..., Engine]] = Registry("search engine")

    @ENGINES.register("random")                       # as a decorator
    def _random(space, objectives, **common) -> Engine: ...

    ENGINES.register("optuna-tpe", _optuna_tpe, aliases=("tpe",))   # as a call
    ENGINES.get("optuna_tpe")    # ConfigError: unknown search engine 'optuna_tpe' (did you mean
                                 # 'optuna-tpe'?); must be one of random, optuna-tpe
    ENGINES.names()              # ["random", "optuna-tpe"], in registration order
    "Random" in ENGINES          # True

In a pydantic config, validate a name field with ``REGISTRY.canonical``
(ConfigError is a ValueError, so pydantic reports it under the field's key).
"""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Sequence, TypeVar, overload

from fairvision.errors import ConfigError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Case-insensitive ``name -> object`` mapping; ``kind`` names the concept in error messages."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, tuple[str, T]] = {}  # lower-case key -> (canonical name, object)
        self._aliases: dict[str, str] = {}  # lower-case alias -> lower-case key

    @overload
    def register(self, name: str, obj: None = None, *, aliases: Sequence[str] = ()) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, obj: T, *, aliases: Sequence[str] = ()) -> T: ...

    def register(self, name: str, obj: T | None = None, *, aliases: Sequence[str] = ()):
        """Register ``obj`` under ``name`` (and ``aliases``); without ``obj``, return a decorator.

        Registering a taken name for a different object raises ``ValueError``
        (re-registering the same object, e.g. on a module reload, is allowed).
        """
        if obj is None:
            return lambda o: self.register(name, o, aliases=aliases)
        keys = [name.lower(), *(a.lower() for a in aliases)]
        for key in keys:
            taken = self._lookup(key)
            if taken is not None and taken[1] is not obj:
                raise ValueError(f"{self.kind} {key!r} is already registered")
        self._items.setdefault(keys[0], (name, obj))  # the same object again keeps its first spelling
        self._aliases.update({alias: keys[0] for alias in keys[1:]})
        return obj

    def unregister(self, name: str) -> None:
        """Remove ``name`` and its aliases (unknown names are ignored)."""
        key = self._aliases.get(name.lower(), name.lower())
        self._items.pop(key, None)
        self._aliases = {a: k for a, k in self._aliases.items() if k != key}

    def _lookup(self, name: str) -> tuple[str, T] | None:
        key = name.lower()
        return self._items.get(self._aliases.get(key, key))

    def _find(self, name: object) -> tuple[str, T]:
        found = self._lookup(name) if isinstance(name, str) else None
        if found is not None:
            return found
        spelled = {key: canonical for key, (canonical, _) in self._items.items()}
        spelled.update({alias: self._items[key][0] for alias, key in self._aliases.items()})
        close = dict.fromkeys(spelled[c] for c in difflib.get_close_matches(str(name).lower(), list(spelled), n=3))
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        raise ConfigError(f"unknown {self.kind} {name!r}{hint}; must be one of {', '.join(self.names())}")

    def get(self, name: str) -> T:
        """The object registered as ``name``; ConfigError with close matches if there is none."""
        return self._find(name)[1]

    def canonical(self, name: str) -> str:
        """The registered spelling of ``name`` (e.g. ``"cosface"`` -> ``"CosFace"``); ConfigError if unknown."""
        return self._find(name)[0]

    def names(self) -> list[str]:
        """Canonical names in registration order (aliases are not listed)."""
        return [canonical for canonical, _ in self._items.values()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._lookup(name) is not None

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
