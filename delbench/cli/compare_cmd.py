from __future__ import annotations

import contextlib
from pathlib import Path

import click

from delbench.cli.params import parse_params


@click.command("compare")
@click.argument("selectors", nargs=-1, required=True)
@click.option("--protocol", default="smoke", show_default=True, help="Protocol name (protocols/NAME.toml) or a TOML path.")
@click.option("--data", type=click.Path(path_type=Path), help="Dataset root (default: the synthetic DataDEL, generated on first use).")
@click.option("--ratios", help="Comma-separated retained ratios (default: the protocol's).")
@click.option("--seeds", help="Comma-separated seeds (default: the protocol's).")
@click.option("--tasks", help="Comma-separated downstream tasks (default: all).")
@click.option("--out", type=click.Path(path_type=Path), help="Run directory (default: runs/PROTOCOL-SELECTORS).")
@click.option("--param", "params", multiple=True, help="Selector parameter SELECTOR.KEY=VALUE (repeatable).")
@click.option("--set", "overrides", multiple=True, help="Override a protocol key, e.g. --set pretrain.lr=1e-3 (repeatable).")
@click.option("--cache", type=click.Path(path_type=Path), help="Cache of datasets and stages (default: $DELBENCH_CACHE or ~/.cache/delbench).")
@click.option("--jobs", default=None, type=int, help="Worker processes for pre-train/evaluate units (default: one per CPU, at most 4).")
@click.option("--cross/--no-cross", default=False, show_default=True, help="Also run the cross-dataset matrix.")
@click.option("--no-plots", is_flag=True, help="Skip plots and galleries (tables only).")
def compare(selectors: tuple[str, ...], protocol: str, data: Path | None, ratios: str | None, seeds: str | None,
            tasks: str | None, out: Path | None, params: tuple[str, ...], overrides: tuple[str, ...],
            cache: Path | None, jobs: int | None, cross: bool, no_plots: bool) -> None:
    """Run SELECTORS head-to-head under one protocol and print comparison tables.

    With no options: the smoke protocol on the synthetic DataDEL. Rerunning resumes: only stages whose
    inputs or config changed run again. A run into an existing --out of the same study adds its rows
    to the tables there; another study there is refused.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from delbench.compare.plan import CompareConfig, default_jobs, parse_ratios, parse_seeds, split_params
    from delbench.compare.runner import run_compare
    from delbench.report.render import render_run
    from delbench.report.tables import to_rich

    config = CompareConfig(
        selectors=tuple(dict.fromkeys(selectors)), protocol=protocol, out=out, data=data,
        ratios=parse_ratios(ratios), seeds=parse_seeds(seeds),
        tasks=tuple(t for t in tasks.split(",") if t) if tasks else None,
        params=split_params(parse_params(params), tuple(dict.fromkeys(selectors))), cache=cache, jobs=default_jobs(jobs), cross=cross,
        overrides=parse_params(overrides, "--set"),
    )
    console = Console()
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    with contextlib.ExitStack() as keep:  # the run directory's lock, held until its tables are rendered
        with Progress(*columns, console=console, transient=True) as bar:
            units = bar.add_task("preparing", total=None)
            stage = bar.add_task("", total=1.0)

            def progress(message: str, fraction: float) -> None:
                bar.update(stage, description=message[:70], completed=min(max(fraction, 0.0), 1.0))

            run_dir = run_compare(
                config, progress=progress,
                on_total=lambda n: bar.update(units, total=n, description="pre-train + evaluate units"),
                done=lambda u: bar.advance(units), keep=keep,
            )
        grids = render_run(run_dir, plots=not no_plots)
    for grid in grids:
        console.print(to_rich(grid))
    console.print(stage_counts(run_dir), soft_wrap=True)
    from delbench.report.composition import pointer

    if pointer(run_dir):
        console.print(pointer(run_dir), soft_wrap=True)
    console.print(f"run directory: {run_dir}")


def stage_counts(run_dir: Path) -> str:
    """``stages: select 2 reused, 0 computed; ...`` from run.json: what this invocation took from the cache."""
    import json

    counts = json.loads((run_dir / "run.json").read_text()).get("stages", {})
    return "stages: " + "; ".join(f"{stage} {counts[stage]['reused']} reused, {counts[stage]['computed']} computed"
                                   for stage in ("select", "pretrain", "evaluate") if stage in counts)
