from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from delbench.cli.output import format_option
from delbench.cli.params import budgets_option, dry_run_option, executor_options, parse_params, protocol_options

if TYPE_CHECKING:
    from delbench.protocol import Protocol


@click.command("compare")
@click.argument("selectors", nargs=-1, required=True)
@protocol_options("smoke")
@click.option("--data", type=click.Path(path_type=Path), help="Dataset root (default: the synthetic DataDEL, generated on first use).")
@click.option("--ratios", help="Comma-separated retained ratios (default: the protocol's).")
@click.option("--seeds", help="Comma-separated seeds (default: the protocol's).")
@budgets_option
@click.option("--tasks", help="Comma-separated downstream tasks (default: all).")
@click.option("--out", type=click.Path(path_type=Path), help="Run directory (default: runs/PROTOCOL-SELECTORS).")
@click.option("--param", "params", multiple=True, help="Selector parameter SELECTOR.KEY=VALUE (repeatable).")
@click.option("--cache", type=click.Path(path_type=Path), help="Cache of datasets and stages (default: $DELBENCH_CACHE or ~/.cache/delbench).")
@click.option("--jobs", default=None, type=int, help="Worker processes for pre-train/evaluate units (default: one per CPU, at most 4).")
@click.option("--cross/--no-cross", default=False, show_default=True, help="Also run the cross-dataset matrix.")
@click.option("--no-plots", is_flag=True, help="Skip plots and galleries (tables only).")
@executor_options
@dry_run_option
@format_option
def compare(selectors: tuple[str, ...], protocol: Protocol, data: Path | None, ratios: str | None, seeds: str | None,
            budgets: str | None, tasks: str | None, out: Path | None, params: tuple[str, ...], overrides: dict[str, Any],
            cache: Path | None, jobs: int | None, cross: bool, no_plots: bool, dry_run: bool, fmt: str,
            executor: Any) -> None:
    """Run SELECTORS head-to-head under one protocol and print comparison tables.

    With no options: the smoke protocol on the synthetic DataDEL. It first prints its plan (units,
    steps, what the cache holds, an estimated wall time); --dry-run prints only that. Rerunning
    resumes: only stages whose inputs or config changed run again. A run into an existing --out of
    the same study adds its rows to the tables there; another study there is refused.
    """
    from rich.console import Console

    from delbench.compare.plan import BUDGETS, CompareConfig, default_jobs, parse_budgets, parse_ratios, parse_seeds, split_params
    from delbench.cli.output import finish
    from delbench.cli.plan_view import run_planned
    from delbench.report.render import render_run

    config = CompareConfig(
        selectors=tuple(dict.fromkeys(selectors)), protocol=protocol, out=out, data=data,
        ratios=parse_ratios(ratios), seeds=parse_seeds(seeds),
        tasks=tuple(t for t in tasks.split(",") if t) if tasks else None,
        params=split_params(parse_params(params), tuple(dict.fromkeys(selectors))), cache=cache, jobs=default_jobs(jobs), cross=cross,
        overrides=overrides, executor=executor, budgets=parse_budgets(budgets) or BUDGETS,
    )
    console = Console(stderr=fmt != "text")  # a script's stdout holds only the formatted tables
    with contextlib.ExitStack() as keep:  # the run directory's lock, held until its tables are rendered
        run_dir = run_planned(config, console, keep, plots=not no_plots, dry_run=dry_run)
        if run_dir is None:
            return
        grids = render_run(run_dir, plots=not no_plots)
        finish(run_dir, grids, fmt, galleries=not no_plots, stages=True)
