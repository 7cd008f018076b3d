"""``delbench data merge``: one dataset root from several imported ones."""
from __future__ import annotations

from pathlib import Path

import click

from delbench.data.leaks import POLICIES as LEAK_POLICIES


@click.command("merge")
@click.argument("roots", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path), help="Dataset root to write.")
@click.option("--force", is_flag=True, help="Replace OUT if it is not empty.")
@click.option("--pool-from-task", "pool_from_task", multiple=True, metavar="TASK[:train]",
              help="Also put TASK's train images in the pool (repeatable).")
@click.option("--leaks", type=click.Choice(LEAK_POLICIES), default="refuse", show_default=True,
              help="A pool image that is a task's val/test image: refuse the merge, report it, or drop it from the pool.")
def merge(roots: tuple[Path, ...], out: Path, force: bool, pool_from_task: tuple[str, ...], leaks: str) -> None:
    """Join the dataset roots ROOTS (already imported) into the new root OUT.

    Files are hard-linked, not copied; ids must not clash. The leak checks run on the joined rows."""
    from delbench.cli.data_import_cmd import report_leaks
    from delbench.data.merge import merge_roots

    result = merge_roots(roots, out, force=force, leaks=leaks, pool_from_task=pool_from_task)
    sources = ", ".join(f"{s} {n}" for s, n in result.sources.items())
    click.echo(f"merged {len(roots)} root(s) into {result.root}: {result.rows} rows, {result.pool} pool ({sources})")
    for task, splits in sorted(result.tasks.items()):
        click.echo(f"  task {task}: " + ", ".join(f"{s} {splits.get(s, 0)}" for s in ("train", "val", "test")))
    report_leaks(result.leaks, result.leak_report, leaks)
