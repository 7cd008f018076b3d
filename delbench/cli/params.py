"""Shared CLI parsing: ``--param key=value`` options."""
from __future__ import annotations

import json
from typing import Any

from delbench.errors import DelbenchError


def parse_value(text: str) -> Any:
    """JSON where it parses (numbers, true/false, lists), the raw string otherwise."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_params(items: tuple[str, ...] | list[str], option: str = "--param") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DelbenchError(f"{option} {item!r} is not key=value (e.g. {option} k=100)")
        out[key.strip()] = parse_value(value.strip())
    return out
