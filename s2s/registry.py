"""Name -> class registries, so configs choose components by name, never by import path.

A registry validates a component's ``*_conf`` mapping against the constructor's
signature before building it: an unknown key or a value of the wrong type fails
with a message naming the key and listing what is allowed.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

from s2s.errors import S2SError, did_you_mean


class Registry:
    """A named table of constructors (classes or factory functions)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._table: dict[str, Callable[..., Any]] = {}

    def register(self, name: str):
        """Decorator: ``@ENCODERS.register("jasper")``."""

        def deco(obj):
            if name in self._table and self._table[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._table[name] = obj
            return obj

        return deco

    def names(self) -> list[str]:
        return sorted(self._table)

    def __contains__(self, name: str) -> bool:
        return name in self._table

    def get(self, name: str, context: str = "") -> Callable[..., Any]:
        if name not in self._table:
            where = f"{context}: " if context else ""
            raise S2SError(
                f"{where}unknown {self.kind} {name!r}; valid names: {', '.join(self.names())}"
                f"{did_you_mean(name, self.names())}"
            )
        return self._table[name]

    def build(self, name: str, conf: dict | None = None, context: str = "", **fixed):
        """Build component ``name`` with keyword arguments ``conf`` (checked) plus ``fixed``.

        ``fixed`` are arguments the code supplies (input sizes etc.); ``conf`` is
        what the user wrote and gets validated.
        """
        ctor = self.get(name, context.removesuffix("_conf"))
        conf = dict(conf or {})
        check_kwargs(ctor, conf, f"{context or self.kind + '_conf'} ({self.kind} {name!r})", skip=fixed)
        return ctor(**fixed, **conf)


def _signature_params(ctor) -> dict[str, inspect.Parameter]:
    target = ctor.__init__ if inspect.isclass(ctor) else ctor
    sig = inspect.signature(target)
    return {k: p for k, p in sig.parameters.items() if k != "self"}


def check_kwargs(ctor, conf: dict, context: str, skip: dict | None = None) -> None:
    """Raise S2SError if ``conf`` has keys ``ctor`` does not take, or values of the wrong type."""
    params = _signature_params(ctor)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    skip = skip or {}
    allowed = [k for k, p in params.items() if k not in skip and p.kind is not inspect.Parameter.VAR_POSITIONAL]
    try:
        hints = typing.get_type_hints(ctor.__init__ if inspect.isclass(ctor) else ctor)
    except Exception:  # unresolvable annotations: skip type checks, keep key checks
        hints = {}
    for key, value in conf.items():
        if key not in allowed:
            raise S2SError(f"{context}: unknown key {key!r}; allowed keys: {', '.join(sorted(allowed))}"
                           f"{did_you_mean(key, allowed)}")
        hint = hints.get(key)
        if hint is not None and not type_matches(value, hint):
            raise S2SError(
                f"{context}: key {key!r} should be {type_name(hint)}, got {type(value).__name__} {value!r}"
            )


def type_matches(value, hint) -> bool:
    """Loose runtime check of a YAML value against a type annotation."""
    if hint is Any or hint is inspect.Parameter.empty:
        return True
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or isinstance(hint, types.UnionType):
        return any(type_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is bool:
        return isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple, typing.Sequence) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        if args and args[-1] is not Ellipsis and origin is list:
            return all(type_matches(v, args[0]) for v in value)
        if args and len(args) == 2 and args[1] is Ellipsis:
            return all(type_matches(v, args[0]) for v in value)
        return True
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    if origin is typing.Literal:
        return value in args
    return True


def type_name(hint) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
