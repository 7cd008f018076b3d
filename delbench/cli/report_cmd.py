from __future__ import annotations

import contextlib
from pathlib import Path

import click

from delbench.cli.output import format_option


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--no-plots", is_flag=True, help="Tables only (and a report.html without galleries).")
@format_option
def report(run_dir: Path, no_plots: bool, fmt: str) -> None:
    """Re-render the tables, plots and report.html of RUN_DIR from its saved results (no recomputation)."""
    from delbench.cli.output import finish
    from delbench.store.rundir import own
    from delbench.report.render import render_run

    with own(run_dir) if run_dir.is_dir() else contextlib.nullcontext():  # not while a compare writes it
        grids = render_run(run_dir, plots=not no_plots)
        finish(run_dir, grids, fmt, galleries=not no_plots)
