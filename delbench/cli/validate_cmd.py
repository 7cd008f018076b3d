from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from delbench.cli.params import budgets_option, dry_run_option, executor_options, protocol_options

if TYPE_CHECKING:
    from delbench.protocol import Protocol


@click.command("validate")
@protocol_options("smoke")
@click.option("--data", type=click.Path(path_type=Path), help="Dataset root with ground truth (default: the protocol's synthetic DataDEL).")
@click.option("--ratios", default="0.05,0.2", show_default=True, help="Comma-separated retained ratios to check.")
@click.option("--seeds", help="Comma-separated seeds (default: the protocol's).")
@budgets_option
@click.option("--tasks", help="Comma-separated downstream tasks (default: all).")
@click.option("--out", type=click.Path(path_type=Path), help="Run directory (default: runs/validate-PROTOCOL).")
@click.option("--cache", type=click.Path(path_type=Path), help="Cache of datasets and stages (default: $DELBENCH_CACHE or ~/.cache/delbench).")
@click.option("--jobs", default=None, type=int, help="Worker processes (default: one per CPU, at most 4).")
@click.option("--no-plots", is_flag=True, help="Skip plots and galleries (tables only).")
@executor_options
@dry_run_option
def validate(protocol: Protocol, data: Path | None, ratios: str, seeds: str | None, budgets: str | None,
             tasks: str | None, out: Path | None,
             cache: Path | None, jobs: int | None, overrides: dict[str, Any], no_plots: bool, dry_run: bool, executor: Any) -> None:
    """Check that PROTOCOL ranks data by quality: oracle > random > adversary beyond seed noise.

    Runs the ground-truth reference selectors `oracle` and `adversary` beside `random` (and the `full`
    and `scratch` references) through the ordinary compare machinery and cache, then prints, per rung
    and ratio, the per-seed paired differences of the task-mean test mIoU, their mean, the one-sided
    95% lower bound (Student t, seed as the unit) and the minimum detectable effect. Exits 1 unless
    every rung holds with a lower bound above zero, and the precondition that pre-training matters:
    full beats scratch by at least 10 points of task-mean mIoU, lower bound above zero. With --budgets,
    one ladder and precondition per budget, and every budget must pass. It first prints its plan;
    --dry-run prints only that.
    """
    from rich.console import Console

    from delbench.cli.plan_view import run_planned
    from delbench.compare.plan import BUDGETS, CompareConfig, default_jobs, parse_budgets, parse_ratios, parse_seeds
    from delbench.compare.results import read_results
    from delbench.report.render import render_run
    from delbench.report.run_report import write_report
    from delbench.report.budget_view import rung_curves
    from delbench.report.validate_view import labelled, precondition_line, rung_budget_grid, verdict_grids, write_verdict
    from delbench.report.tables import to_rich
    from delbench.score.validate import RATIOS, SELECTORS, judge_budgets

    proto = protocol
    wanted = parse_ratios(ratios) or RATIOS
    levels = parse_budgets(budgets) or BUDGETS
    config = CompareConfig(
        selectors=SELECTORS, protocol=protocol, out=out or Path("runs") / f"validate-{proto.name}", data=data,
        ratios=wanted, seeds=parse_seeds(seeds), tasks=tuple(t for t in tasks.split(",") if t) if tasks else None,
        cache=cache, jobs=default_jobs(jobs), overrides=overrides, executor=executor, budgets=levels,
    )
    console = Console()
    with contextlib.ExitStack() as keep:  # the run directory's lock, held until its tables are written
        run_dir = run_planned(config, console, keep, plots=not no_plots, dry_run=dry_run)
        if run_dir is None:
            return
        render_run(run_dir, plots=not no_plots)
        verdict = judge_budgets(read_results(run_dir), wanted, levels)  # the listed budgets, not others held there
        write_verdict(run_dir, verdict)
        several = len(verdict.verdicts) > 1
        if several and not no_plots:
            from delbench.store.rundir import RunDir

            rung_curves(verdict, RunDir(run_dir).plots)
        report = write_report(run_dir, galleries=not no_plots)  # after the verdict: the report shows the ladder
    named = labelled(verdict)  # every budget but the protocol's own alone says which it is
    for one in verdict.verdicts:
        if named:
            console.print(f"\n[bold]budget {one.budget:g}[/]")
        console.print(precondition_line(one, budget=named), highlight=False, markup=False, soft_wrap=True)
        for grid in verdict_grids(one)[1:]:
            console.print(to_rich(grid))
    if several:
        console.print(to_rich(rung_budget_grid(verdict)))
    console.print(f"run directory: {run_dir}")
    console.print(f"report: {report}")
    if not verdict.passed:
        raise click.ClickException(f"protocol {proto.name} does not rank data by quality: " + "; ".join(verdict.failures()))
    at = f" and budget{'s' if several else ''} " + ", ".join(f"{b:g}" for b in levels) if levels != BUDGETS else ""
    console.print(f"[bold green]protocol {proto.name} ranks data by quality[/]: full beats scratch, "
                  "oracle > random > adversary at " + ", ".join(f"R={r:g}" for r in wanted) + at)
