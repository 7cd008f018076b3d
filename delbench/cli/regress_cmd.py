from __future__ import annotations

from pathlib import Path

import click


@click.command("regress")
@click.option("--protocol", default="ci", show_default=True)
@click.option("--baseline", type=click.Path(path_type=Path), default=Path("baselines/ci.json"), show_default=True)
@click.option("--update", is_flag=True, help="Rewrite the baseline from this run instead of checking it.")
@click.option("--out", type=click.Path(path_type=Path), help="Run directory (default: runs/regress-PROTOCOL).")
@click.option("--cache", type=click.Path(path_type=Path), help="Cache of datasets and stages.")
@click.option("--jobs", default=None, type=int, help="Worker processes (default: one per CPU, at most 4).")
def regress(protocol: str, baseline: Path, update: bool, out: Path | None, cache: Path | None, jobs: int | None) -> None:
    """Rerun PROTOCOL for the built-in selectors; fail when a score leaves its baseline tolerance."""
    from rich.console import Console
    from rich.table import Table

    from delbench.compare.plan import CompareConfig, default_jobs
    from delbench.compare.results import read_results
    from delbench.compare.runner import run_compare
    from delbench.protocol import load_protocol
    from delbench.regress import BUILTIN_SELECTORS, check_protocol, compare_to_baseline, make_baseline, read_baseline, save_baseline

    proto = load_protocol(protocol)
    if not update:
        check_protocol(read_baseline(baseline), proto)
    config = CompareConfig(selectors=BUILTIN_SELECTORS, protocol=protocol, out=out or Path("runs") / f"regress-{proto.name}",
                           cache=cache, jobs=default_jobs(jobs))
    results = read_results(run_compare(config))
    console = Console()
    if update:
        save_baseline(baseline, make_baseline(results, proto))
        console.print(f"baseline written: {baseline} ({results.groupby(['selector', 'ratio_target', 'task']).ngroups} entries)")
        return
    table = compare_to_baseline(results, read_baseline(baseline))
    moved = table[~table["ok"]]
    if moved.empty:
        console.print(f"all {len(table)} baseline scores within tolerance ({proto.name} v{proto.version})")
        return
    view = Table(title=f"{len(moved)} of {len(table)} scores moved beyond tolerance")
    for col in ("selector", "ratio_target", "task", "metric", "baseline", "now", "diff", "tolerance"):
        view.add_column(col, justify="left" if col in ("selector", "task", "metric") else "right")
    for r in moved.itertuples(index=False):
        view.add_row(r.selector, f"{r.ratio_target:g}", r.task, r.metric, f"{r.baseline:.4f}", f"{r.now:.4f}",
                     f"{r.diff:+.4f}", f"{r.tolerance:.4f}")
    console.print(view)
    raise click.ClickException(f"{len(moved)} baseline score(s) regressed; see the table above (or --update if intended)")
