"""``delbench subset``: look inside subset files."""
from __future__ import annotations

import json
from pathlib import Path

import click


@click.group("subset")
def subset() -> None:
    """Look inside subset files written by `select` or `compare`."""


@subset.command("show")
@click.argument("subset_file", metavar="SUBSET", type=click.Path(path_type=Path))
@click.option("--root", required=True, type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="The dataset root the subset was selected from (for file paths).")
@click.option("--only", type=click.Choice(["all", "kept", "removed"]), default="all", show_default=True,
              help="Which items to list.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def show(subset_file: Path, root: Path, only: str, fmt: str) -> None:
    """List the kept and removed files of SUBSET (its .npy), with each removal's reason."""
    from delbench.select.show import subset_items

    rows, warnings = subset_items(subset_file, root)
    for line in warnings:
        click.echo(f"warning: {line}", err=True)
    if only != "all":
        rows = rows[rows["status"] == only]
    if fmt == "csv":
        click.echo(rows.to_csv(index=False), nl=False)
    elif fmt == "json":
        click.echo(json.dumps(rows.to_dict(orient="records"), indent=1))
    else:
        from rich.console import Console
        from rich.table import Table

        kept = int((rows["status"] == "kept").sum())
        table = Table(title=f"{subset_file.name}: {kept} kept, {len(rows) - kept} removed")
        for col in ("index", "id", "path", "status", "reason"):
            table.add_column(col, justify="right" if col == "index" else "left")
        for r in rows.itertuples(index=False):
            table.add_row(str(r.index), r.id, r.path, r.status, r.reason)
        Console().print(table)
