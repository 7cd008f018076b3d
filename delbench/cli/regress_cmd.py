from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from delbench.cli.params import dry_run_option, executor_options, protocol_options

if TYPE_CHECKING:
    from delbench.protocol import Protocol

SHOWN = 20  # differing values listed in exact mode; the count says how many more


@click.command("regress")
@protocol_options("ci")
@click.option("--baseline", type=click.Path(path_type=Path), default=Path("baselines/ci.json"), show_default=True)
@click.option("--update", is_flag=True, help="Rewrite the baseline from this run instead of checking it.")
@click.option("--mode", type=click.Choice(["auto", "exact", "statistical"]), default="auto", show_default=True,
              help="exact: every per-seed value identical; statistical: task-mean scores within tolerance; "
                   "auto: exact when the fingerprint (versions, platform, threads) equals the baseline's.")
@click.option("--out", type=click.Path(path_type=Path), help="Run directory (default: runs/regress-PROTOCOL).")
@click.option("--cache", type=click.Path(path_type=Path), help="Cache of datasets and stages.")
@click.option("--jobs", default=None, type=int, help="Worker processes (default: one per CPU, at most 4).")
@executor_options
@dry_run_option
def regress(protocol: Protocol, overrides: dict[str, Any], baseline: Path, update: bool, mode: str,
            out: Path | None, cache: Path | None, jobs: int | None, dry_run: bool, executor: Any) -> None:
    """Rerun PROTOCOL for the built-in selectors; fail when a score leaves its baseline.

    It first prints its plan (units, steps, what the cache holds, an estimated wall time); --dry-run
    prints only that."""
    from rich.console import Console

    from delbench.cli.plan_view import make_plan, replanner, show_plan, study_bar
    from delbench.compare.plan import CompareConfig, default_jobs
    from delbench.compare.results import read_results
    from delbench.compare.runner import run_compare
    from delbench.score.regress import (BUILTIN_SELECTORS, check_protocol, choose_mode, compare_exact, compare_statistical,
                                  fingerprint, make_baseline, read_baseline, save_baseline)

    console = Console()
    proto = protocol
    current = fingerprint(proto, BUILTIN_SELECTORS)
    base: dict[str, Any] = {}
    if not update:
        base = read_baseline(baseline)
        check_protocol(base, proto)
        mode, why = choose_mode(mode, base, current)
        console.print(f"mode: {mode} ({why})", highlight=False, soft_wrap=True)
    config = CompareConfig(selectors=BUILTIN_SELECTORS, protocol=protocol, out=out or Path("runs") / f"regress-{proto.name}",
                           cache=cache, jobs=default_jobs(jobs), overrides=overrides, executor=executor)
    plan = make_plan(config, plots=False)
    show_plan(console, plan)
    if dry_run:
        from delbench.cli.plan_view import dry_run_scripts

        dry_run_scripts(config, plan, console)
        return
    with study_bar(console, plan, replanner(config, plan, plots=False)) as (progress, total, done):
        results = read_results(run_compare(config, progress=progress, on_total=total, done=done))
    if update:
        made = make_baseline(results, proto, current)
        save_baseline(baseline, made)
        console.print(f"baseline written: {baseline} ({len(made['entries'])} task-mean entries, "
                      f"{len(made['seed_values'])} per-seed rows)")
        return
    stat = compare_statistical(results, base)
    problems = _show_statistical(console, stat)
    if mode == "exact":
        # Both checks: identical per-seed values, and the task-mean entries (which a person may have edited
        # by hand) still hold for them.
        exact = _show_exact(console, compare_exact(results, base))
        if exact and not problems:
            exact[0] += "; the task-mean scores are all within tolerance (a change within seed noise)"
        problems = exact + problems
    if not problems:
        shown = f"all {int(stat['decides'].sum())} task-mean scores within tolerance"
        if mode == "exact":
            shown = f"all {len(base['seed_values'])} per-seed rows identical to the baseline and {shown}"
        off_task = int((~stat["decides"] & ~stat["ok"]).sum())
        note = f"; {off_task} per-task score(s) beyond their own tolerance (informative)" if off_task else ""
        console.print(f"{shown} ({mode} mode, {proto.name} v{proto.version}){note}")
        return
    raise click.ClickException(f"{'; '.join(problems)}; see the table(s) above (or --update if intended)")


def _show_exact(console: Any, table: Any) -> list[str]:
    from rich.table import Table

    from delbench.score.regress import failures

    moved = failures(table)
    if moved.empty:
        return []
    view = Table(title=f"{len(moved)} of {len(table)} per-seed values differ (exact mode)")
    for col in ("selector", "ratio_target", "seed", "task", "metric", "baseline", "now", "diff"):
        view.add_column(col, justify="left" if col in ("selector", "task", "metric") else "right")
    for r in moved.head(SHOWN).itertuples(index=False):
        view.add_row(r.selector, f"{r.ratio_target:g}", str(r.seed), r.task, r.metric, repr(r.baseline), repr(r.now),
                     f"{r.diff:+.3g}")
    console.print(view)
    if len(moved) > SHOWN:
        console.print(f"... and {len(moved) - SHOWN} more")
    names = ", ".join(sorted(set(moved["selector"])))
    return [f"{len(moved)} per-seed value(s) differ from the baseline (exact mode; selectors: {names})"]


def _show_statistical(console: Any, table: Any) -> list[str]:
    from rich.table import Table

    from delbench.score.regress import failures

    moved = failures(table)
    if moved.empty:
        return []
    decides = table[table["decides"]]
    cells = set(zip(moved["selector"], moved["ratio_target"]))
    shown = table[[(s, r) in cells for s, r in zip(table["selector"], table["ratio_target"])]]
    view = Table(title=f"{len(moved)} of {len(decides)} task-mean scores moved beyond tolerance "
                       "(per-task rows for information)")
    for col in ("selector", "ratio_target", "task", "metric", "baseline", "now", "diff", "tolerance", "collapse", "ok"):
        view.add_column(col, justify="left" if col in ("selector", "task", "metric", "ok") else "right")
    for r in shown.itertuples(index=False):
        collapse = "" if r.collapse is None or r.collapse != r.collapse else f"{r.collapse:.4f}"
        view.add_row(r.selector, f"{r.ratio_target:g}", r.task, r.metric, f"{r.baseline:.4f}", f"{r.now:.4f}",
                     f"{r.diff:+.4f}", f"{r.tolerance:.4f}", collapse,
                     ("ok" if r.ok else "FAIL") if r.decides else ("(ok)" if r.ok else "(out)"))
    console.print(view)
    what = ", ".join(f"{r.selector} R={r.ratio_target:g} {r.metric}" for r in moved.itertuples(index=False))
    return [f"{len(moved)} task-mean score(s) regressed: {what}"]
