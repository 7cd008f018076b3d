"""``delbench data import | verify | formats``: real datasets in, integrity checks out."""
from __future__ import annotations

from pathlib import Path

import click

from delbench.cli.params import parse_params


@click.command("import")
@click.argument("fmt", metavar="FORMAT")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path), help="Dataset root to write.")
@click.option("--link", is_flag=True, help="Symlink images instead of copying them (masks are always written).")
@click.option("--skip-bad", is_flag=True, help="Import the good files and list the bad ones in import-report.json/.csv.")
@click.option("--task", "task_name", default=None, help="Rename the format's (single) task.")
@click.option("--force", is_flag=True, help="Replace OUT if it is not empty.")
@click.option("--merge", is_flag=True, help="Add to the dataset root at OUT (ids must not clash).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Format option (see `delbench data formats`).")
def import_(fmt: str, src: Path, out: Path, link: bool, skip_bad: bool, task_name: str | None, force: bool, merge: bool, options: tuple[str, ...]) -> None:
    """Import a real dataset FORMAT found at SRC into the dataset root OUT."""
    from delbench.data.importer import import_dataset

    result = import_dataset(
        fmt, src, out, mode="link" if link else "copy", skip_bad=skip_bad, task_name=task_name,
        force=force, merge=merge, **parse_params(options, option="--option"),
    )
    click.echo(f"imported {result.rows} images from {fmt} into {result.root}: {result.pool} pool")
    for task, splits in sorted(result.tasks.items()):
        counts = ", ".join(f"{s} {splits.get(s, 0)}" for s in ("train", "val", "test"))
        click.echo(f"  task {task}: {counts}")
    for note in result.notes:
        click.echo(f"  note: {note}")
    if result.skipped:
        click.echo(f"skipped {len(result.skipped)} bad file(s); see {result.report}", err=True)
        for s in result.skipped[:10]:
            click.echo(f"  {s.line()}", err=True)


@click.command("verify")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
def verify(root: Path) -> None:
    """Re-hash and re-check every file of the dataset root ROOT; list every problem."""
    from delbench.data.manifest import read_manifest
    from delbench.data.verify import verify as run_verify

    problems = run_verify(root)
    if problems:
        for p in problems:
            click.echo(str(p))
        files = len({p.file for p in problems})
        raise click.ClickException(f"{len(problems)} problem(s) in {files} file(s) under {root}")
    frame = read_manifest(root)
    tasks = frame.loc[frame["role"] == "task", "task"].nunique()
    click.echo(f"OK: {len(frame)} rows ({int((frame['role'] == 'pool').sum())} pool, {tasks} task(s)) verified in {root}")


@click.command("formats")
@click.option("--verbose", "-v", is_flag=True, help="Show each format's layout and options.")
def formats(verbose: bool) -> None:
    """List the dataset formats `delbench data import` can read."""
    import inspect

    from delbench.plugin.manager import get_plugins

    for entry in get_plugins().datasets:
        params = ", ".join(f"{k}={v!r}" for k, v in entry.params().items())
        click.echo(f"{entry.name:18s} {entry.description}  [{entry.plugin}]")
        if verbose:
            if params:
                click.echo(f"{'':18s} options: {params}")
            doc = inspect.getdoc(entry.factory) or ""
            for line in doc.splitlines()[1:]:
                click.echo(f"{'':18s} {line}")
