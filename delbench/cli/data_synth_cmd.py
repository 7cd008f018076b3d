"""``delbench data synth`` and ``delbench data preview``."""
from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import click

# kept literal so that `--help` does not import the generator
_SCALE_NAMES = ("ci", "smoke", "small", "large")


@click.command("synth")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Dataset root to create.")
@click.option("--scale", default="smoke", show_default=True, type=click.Choice(_SCALE_NAMES), help="How much to generate.")
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, byte-identical root.")
@click.option("--force", is_flag=True, help="Replace OUT if it already exists.")
@click.option("--workers", type=click.IntRange(1, 256), default=None, help="Processes to use [default: up to 4 CPUs].")
def synth(out: Path, scale: str, seed: int, force: bool, workers: int | None) -> None:
    """Generate the synthetic DataDEL: a multi-centre video pool with ground truth, and polyp tasks."""
    from rich.console import Console

    from delbench.data.manifest import pool_rows, read_manifest, task_rows
    from delbench.data.synth import generate, get_scale
    from delbench.progress import progress_bar

    sc = get_scale(scale)
    # turn `kill` into an exception so the half-built temporary root is removed on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    console = Console(stderr=True)
    start = time.perf_counter()
    with progress_bar(scale, console) as progress:
        root = generate(out, scale=sc.name, seed=seed, progress=progress, overwrite=force, workers=workers)
    seconds = time.perf_counter() - start
    frame = read_manifest(root)
    pool, tasks = pool_rows(frame), task_rows(frame)
    clean = int((pool["gt_quality"] == "clean").sum())
    per_task = ", ".join(f"{k} {v}" for k, v in tasks.groupby("task").size().items())
    click.echo(f"{root}: {len(pool)} pool frames ({clean} clean, {len(pool) - clean} disruptive) "
               f"from {pool['center'].nunique()} centres, {pool['video'].nunique()} videos; "
               f"tasks: {per_task}; {seconds:.1f} s")


@click.command("preview")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="PNG file to write.")
@click.option("--columns", default=8, show_default=True, type=click.IntRange(1, 32), help="Images per row.")
def preview(root: Path, out: Path, columns: int) -> None:
    """Draw a labelled grid of ROOT: pool frames by quality, a video run, task images with masks."""
    from delbench.data.preview import preview as draw

    click.echo(str(draw(root, out, columns=columns)))
