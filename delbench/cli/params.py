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


budgets_option = click.option(
    "--budgets", default=None, metavar="B1,B2,...",
    help="Comma-separated pre-training budgets, fractions of the protocol's steps in (0, 4], e.g. 0.25,0.5,1: "
         "each its own runs and tables; scratch runs once (default: 1, the protocol's own).")

dry_run_option = click.option(
    "--dry-run", is_flag=True,
    help="Print the plan (units, steps, what the cache holds, estimated wall time) and stop: nothing runs or is written.")


def executor_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--executor local|slurm`` with its cluster options, the same on every command that runs a
    study; the command receives ``executor``, an ``ExecutorOptions`` (environment defaults applied)."""
    @functools.wraps(command)
    def resolved(*args: Any, executor: str | None, slurm_partition: str | None, slurm_account: str | None,
                 slurm_opts: tuple[str, ...], detach: bool, **kwargs: Any) -> Any:
        from delbench.compare.executors import executor_options as parse

        return command(*args, executor=parse(executor, slurm_partition, slurm_account, slurm_opts, detach), **kwargs)

    options = [
        # `submitit-local` (jobs as local subprocesses through submitit) is accepted too, for tests
        click.option("--executor", default=None, metavar="local|slurm",
                     help="Where the units run: `local` worker processes (default; $DELBENCH_EXECUTOR), or "
                          "`slurm`, one job per unit through submitit (docs/cluster.md)."),
        click.option("--slurm-partition", default=None, help="SLURM partition (default: $DELBENCH_SLURM_PARTITION)."),
        click.option("--slurm-account", default=None, help="SLURM account (default: $DELBENCH_SLURM_ACCOUNT)."),
        click.option("--slurm-opt", "slurm_opts", multiple=True, metavar="KEY=VALUE",
                     help="Another #SBATCH --KEY=VALUE for every job, e.g. qos=high (repeatable; "
                          "$DELBENCH_SLURM_OPTS adds more)."),
        click.option("--detach", is_flag=True,
                     help="With --executor slurm: submit and return; rerun the same command to collect."),
    ]
    for option in reversed(options):
        resolved = option(resolved)
    return resolved
