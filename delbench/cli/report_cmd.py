from __future__ import annotations

import contextlib
from pathlib import Path

import click


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--no-plots", is_flag=True, help="Tables only.")
def report(run_dir: Path, no_plots: bool) -> None:
    """Re-render the tables and plots of RUN_DIR from its saved results (no recomputation)."""
    from rich.console import Console

    from delbench.store.rundir import own
    from delbench.report.render import render_run
    from delbench.report.tables import to_rich

    console = Console()
    with own(run_dir) if run_dir.is_dir() else contextlib.nullcontext():  # not while a compare writes it
        grids = render_run(run_dir, plots=not no_plots)
    for grid in grids:
        console.print(to_rich(grid))
    from delbench.report.composition import pointer

    if pointer(run_dir):
        console.print(pointer(run_dir), soft_wrap=True)
