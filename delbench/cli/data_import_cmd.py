"""``delbench data import | verify | formats``: real datasets in, integrity checks out."""
from __future__ import annotations

from pathlib import Path

import click

from delbench.cli.params import parse_params
from delbench.data.leaks import POLICIES as LEAK_POLICIES


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
@click.option("--source", default=None, help="Name for these rows' source column and ids (default: the format; a folder's name for `folder`).")
@click.option("--pool-from-task", "pool_from_task", multiple=True, metavar="TASK[:train]",
              help="Also put TASK's train images in the pool (repeatable).")
@click.option("--leaks", type=click.Choice(LEAK_POLICIES), default="refuse", show_default=True,
              help="A pool image that is a task's val/test image: refuse the import, report it, or drop it from the pool.")
def import_(fmt: str, src: Path, out: Path, link: bool, skip_bad: bool, task_name: str | None, force: bool, merge: bool,
            options: tuple[str, ...], source: str | None, pool_from_task: tuple[str, ...], leaks: str) -> None:
    """Import a real dataset FORMAT found at SRC into the dataset root OUT."""
    from delbench.data.importer import import_dataset

    result = import_dataset(
        fmt, src, out, mode="link" if link else "copy", skip_bad=skip_bad, task_name=task_name,
        force=force, merge=merge, source=source, leaks=leaks, pool_from_task=pool_from_task,
        **parse_params(options, option="--option"),
    )
    named = f" as source {result.source}" if result.source != fmt else ""
    click.echo(f"imported {result.rows} images from {fmt}{named} into {result.root}: {result.pool} pool")
    for task, splits in sorted(result.tasks.items()):
        counts = ", ".join(f"{s} {splits.get(s, 0)}" for s in ("train", "val", "test"))
        empty, n = result.empty.get(task, (0, 0))
        share = f"; {empty} of {n} test masks empty ({empty / n:.0%})" if empty else ""
        click.echo(f"  task {task}: {counts}{share}")
    for note in result.notes:
        click.echo(f"  note: {note}")
    report_leaks(result.leaks, result.leak_report, leaks)
    if result.skipped:
        click.echo(f"skipped {len(result.skipped)} bad file(s); see {result.report}", err=True)
        for s in result.skipped[:10]:
            click.echo(f"  {s.line()}", err=True)


def report_leaks(leaks: list, report: Path | None, policy: str, shown: int = 10) -> None:
    """The leaks an import or merge let through or dropped, first ``shown`` of them, and where the rest are."""
    if not leaks:
        return
    exact = sum(1 for x in leaks if x.kind == "exact")
    done = "dropped from the pool" if policy == "drop" else "kept in the pool"
    click.echo(f"leaks: {exact} pool image(s) identical to and {len(leaks) - exact} near duplicate(s) of val/test "
               f"images, {done}; all listed in {report}", err=True)
    for leak in leaks[:shown]:
        click.echo(f"  {leak.line()}", err=True)


@click.command("verify")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--leaks", type=click.Choice(("refuse", "report")), default="refuse", show_default=True,
              help="A pool image identical to a val/test image: a problem (refuse) or a warning (report).")
def verify(root: Path, leaks: str) -> None:
    """Re-hash and re-check every file of the dataset root ROOT; list every problem.

    Also checks for leaks: pool images identical to (problem) or resembling (warning) a task's val
    or test image, and videos whose frames lie in more than one split (problem)."""
    from delbench.data.manifest import read_manifest
    from delbench.data.verify import check_root

    checked = check_root(root, leaks=leaks)
    for w in checked.warnings:
        click.echo(f"warning: {w}")
    problems = checked.problems
    if problems:
        for p in problems:
            click.echo(str(p))
        files = len({p.file for p in problems})
        raise click.ClickException(f"{len(problems)} problem(s) in {files} file(s) under {root}")
    frame = read_manifest(root)
    tasks = frame.loc[frame["role"] == "task", "task"].nunique()
    warned = f"; {len(checked.warnings)} warning(s) above" if checked.warnings else ""
    pool = int((frame["role"] == "pool").sum())
    click.echo(f"OK: {len(frame)} rows ({pool} pool, {tasks} task(s)) verified in {root}{warned}")
    for task, (empty, n) in checked.empty.items():
        click.echo(f"  task {task}: {empty} of {n} test masks empty ({empty / n:.0%})")


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
