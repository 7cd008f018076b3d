"""``delbench data plant``: a copy of a dataset root with recorded disruptions and near-duplicates in its pool."""
from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import click


@click.command("plant")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Dataset root to create.")
@click.option("--disrupt", default=0.3, show_default=True, type=float, help="Share of the output pool made disruptive.")
@click.option("--duplicates", default=0.3, show_default=True, type=float,
              help="Share of the output pool that are near-duplicate copies.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Same seed, byte-identical root.")
@click.option("--force", is_flag=True, help="Replace OUT if it already exists.")
@click.option("--workers", type=click.IntRange(1, 256), default=None, help="Threads to use [default: up to 4 CPUs].")
def plant(src: Path, out: Path, disrupt: float, duplicates: float, seed: int, force: bool, workers: int | None) -> None:
    """Rebuild the pool of the dataset root SRC at OUT with planted, recorded disruptive frames and
    near-duplicate copies (columns gt_quality, gt_group, gt_copy_of); task rows are copied as they are."""
    from rich.console import Console

    from delbench.data.manifest import pool_rows, read_manifest
    from delbench.data.plant import CLEAN, plant as run_plant
    from delbench.progress import rich_progress

    # turn `kill` into an exception so the half-built temporary root is removed on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    start = time.perf_counter()
    console = Console(stderr=True)
    # off when stderr is not a terminal, so a refusal stays a single line in logs
    with rich_progress(console, disable=not console.is_terminal) as bar:
        task = bar.add_task("plant", total=1.0)
        root = run_plant(src, out, disrupt=disrupt, duplicates=duplicates, seed=seed, force=force, workers=workers,
                         progress=lambda f, m="": bar.update(task, completed=f, description=f"plant {m}"))
    frame = read_manifest(root)
    pool = pool_rows(frame)
    copies = int(pool["gt_copy_of"].notna().sum())
    clean = int((pool["gt_quality"] == CLEAN).sum())
    bad = pool.loc[pool["gt_quality"] != CLEAN, "gt_quality"].value_counts().sort_index()
    click.echo(f"{root}: {len(pool)} pool frames ({clean - copies} clean originals, {copies} near-duplicate copies, "
               f"{len(pool) - clean} disruptive: {', '.join(f'{k} {v}' for k, v in bad.items()) or 'none'}); "
               f"{len(frame) - len(pool)} task rows copied; {time.perf_counter() - start:.1f} s")
