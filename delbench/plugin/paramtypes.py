"""Selector parameters checked against the factory's annotations: ``--param k=2.5`` for ``k: int`` is
one clear line before any work, not a traceback from inside the selector, and a number given as JSON
``1`` for ``epsilon: float`` reaches the selector (and the cache key) as ``1.0``."""
from __future__ import annotations

import inspect
import json
import types
import typing
from typing import Any, Callable, Union

from delbench.errors import DelbenchError


class _Mismatch(Exception):
    """The value does not fit the annotation; carries what was expected, in words."""


def _hints(factory: Callable[..., Any]) -> dict[str, Any]:
    """The evaluated annotations of the factory's parameters; one that does not evaluate is left out
    (its parameter is passed through unchecked rather than failing the whole selector)."""
    target = factory.__init__ if inspect.isclass(factory) else factory  # type: ignore[misc]
    try:
        return typing.get_type_hints(target)
    except Exception:
        pass
    raw = getattr(target, "__annotations__", {}) or {}
    scope = getattr(target, "__globals__", {})
    out: dict[str, Any] = {}
    for key, text in raw.items():
        try:
            out.update(typing.get_type_hints(types.SimpleNamespace(__annotations__={key: text}), globalns=scope))
        except Exception:
            continue
    return out


_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", type(None): "null",
          list: "a list", tuple: "a list"}


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    return _WORDS.get(typing.get_origin(hint) or hint, getattr(hint, "__name__", str(hint)))


def _convert(value: Any, hint: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg)
            except _Mismatch:
                continue
        raise _Mismatch(_describe(hint))
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        # 1e3 arrives from JSON as 1000.0: a whole float is the integer it spells; 2.5 is not
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (bool, int, float)):
            return json.dumps(value)  # the CLI read `name=12` as JSON; give back the text typed
    elif (origin or hint) in (list, tuple):
        if isinstance(value, str) and value.strip():
            # `k=300,20` on the command line: the items of a list, each read as JSON where it parses
            value = [_json_or_text(part.strip()) for part in value.split(",")]
        if isinstance(value, (list, tuple)):
            if origin is tuple and args and args[-1] is not Ellipsis:
                if len(args) != len(value):
                    raise _Mismatch(f"a list of {len(args)} items")
                items = [_convert(v, a) for v, a in zip(value, args)]
            else:
                items = [_convert(v, args[0]) for v in value] if args else list(value)
            return tuple(items) if (origin or hint) is tuple else items
    elif origin is typing.Literal:
        if value in args:
            return value
        raise _Mismatch("one of " + ", ".join(map(repr, args)))
    else:
        return value  # Any, an unannotated parameter or a type we do not know: the selector checks it
    raise _Mismatch(_describe(hint))


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def coerce_params(kind: str, name: str, factory: Callable[..., Any], params: dict[str, Any]) -> dict[str, Any]:
    """``params`` converted to the factory's annotated types; a value that does not fit is a one-line
    ``DelbenchError`` naming the selector, the parameter, the value and the type expected."""
    hints = _hints(factory)
    out = {}
    for key, value in params.items():
        if key not in hints:
            out[key] = value
            continue
        try:
            out[key] = _convert(value, hints[key])
        except _Mismatch as exc:
            raise DelbenchError(f"{kind} {name!r}: parameter {key}={value!r} must be {exc} "
                                f"({_annotation_text(hints[key])})") from None
    return out


def _annotation_text(hint: Any) -> str:
    if typing.get_origin(hint) is None and isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "").replace("NoneType", "None")
