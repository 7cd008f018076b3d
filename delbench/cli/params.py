"""Shared CLI options: ``--param key=value``, and ``--protocol`` with its ``--set`` overrides."""
from __future__ import annotations

import functools
import json
from typing import Any, Callable

import click

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


def protocol_options(default: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--protocol NAME|PATH`` and ``--set SECTION.KEY=VALUE``, the same on every command that runs a
    protocol. The command receives ``protocol``, the loaded ``Protocol`` with the overrides applied (so
    they reach its hash, every stage and run.json), and ``overrides``, the dict that was set."""
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def resolved(*args: Any, protocol: str, overrides: tuple[str, ...], **kwargs: Any) -> Any:
            from delbench.protocol import load_protocol

            values = parse_params(overrides, "--set")
            proto = load_protocol(protocol)
            return command(*args, protocol=proto.with_overrides(values) if values else proto, overrides=values, **kwargs)

        resolved = click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
                                help="Override a protocol key, e.g. --set finetune.steps=100 (repeatable).")(resolved)
        return click.option("--protocol", default=default, show_default=True,
                            help="Protocol name (see `delbench protocols`) or a .toml path.")(resolved)

    return decorate


dry_run_option = click.option(
    "--dry-run", is_flag=True,
    help="Print the plan (units, steps, what the cache holds, estimated wall time) and stop: nothing runs or is written.")
