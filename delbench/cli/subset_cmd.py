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


@subset.command("score")
@click.argument("subset_files", metavar="SUBSET...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--root", required=True, type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="The dataset root the subsets were selected from; its pool must carry planted ground truth.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def score(subset_files: tuple[Path, ...], root: Path, fmt: str) -> None:
    """Score subsets against the pool's planted ground truth: distinct originals kept, duplicate groups
    resolved to one member, junk removed (docs/selectors.md)."""
    from delbench.select.truth import subset_truth

    results = [{"subset": str(f), **subset_truth(f, root)} for f in subset_files]
    if fmt == "json":
        click.echo(json.dumps(results, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"ground truth of {root} (ideal ratio {results[0]['ideal_ratio']:.3f})")
    for col in ("subset", "ratio", "originals kept", "groups resolved", "junk removed"):
        table.add_column(col, justify="left" if col == "subset" else "right")
    for r in results:
        table.add_row(r["subset"], f"{r['ratio']:.3f}", f"{r['originals_kept']:.2f}", f"{r['groups_resolved']:.2f}",
                      f"{r['junk_removed']:.2f}")
    Console().print(table)
