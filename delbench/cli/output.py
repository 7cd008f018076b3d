"""The end of ``compare`` and ``report``: write ``report.html``, then print the summary for a terminal
(``--format text``, lines of at most 80 columns) or for a script (``md``, ``csv``, ``json`` on stdout,
with every other line on stderr)."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Sequence

import click

FORMATS = ("text", "md", "csv", "json")
format_option = click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
                             help="text: a summary for an 80-column terminal; md, csv, json: for scripts.")


def finish(run_dir: Path, grids: Sequence[Any], fmt: str, galleries: bool, stages: bool = False) -> Path:
    """Write the run's report.html and print what ``fmt`` asks for; the report's path comes last."""
    from delbench.compare.results import read_results
    from delbench.report.console import POINTER, formatted, stage_lines, summary_lines
    from delbench.report.composition import pointer
    from delbench.report.run_report import write_report
    from delbench.store.rundir import RunDir

    report = write_report(run_dir, galleries=galleries)
    results = read_results(run_dir)
    info = RunDir(run_dir).read_info()
    counts = info.get("stages", {}) if stages else None
    for line in info.get("select_warnings", []):  # a selector that did less than asked is never silent
        click.echo(textwrap.fill(f"warning: {line}", 80, subsequent_indent="  ", break_on_hyphens=False), err=True)
    if fmt == "text":
        for line in summary_lines(results):
            click.echo(line)
        click.echo("")
        click.echo(POINTER)
        if pointer(run_dir):
            click.echo(pointer(run_dir))
        for line in stage_lines(counts or {}):
            click.echo(line)
        click.echo(f"run directory: {run_dir}")
        click.echo(f"report: {report}")
    else:
        click.echo(formatted(fmt, results, grids, run_dir, report, counts), nl=False)
        click.echo(f"report: {report}", err=True)
    return report
