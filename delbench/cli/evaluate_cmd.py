from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from delbench.cli.params import protocol_options

if TYPE_CHECKING:
    from delbench.protocol import Protocol


@click.command("evaluate")
@click.argument("root", type=click.Path(path_type=Path, exists=True, file_okay=False))
@protocol_options("ci")
@click.option("--checkpoint", default="scratch", show_default=True,
              help="weights.safetensors from `delbench pretrain`, or 'scratch' for no pre-training.")
@click.option("--seed", "seeds", multiple=True, type=int, help="Seed(s); default: the protocol's seeds.")
@click.option("--task", "tasks", multiple=True, help="Task(s); default: the protocol's tasks (all).")
@click.option("--cross", is_flag=True, help="Also print the cross-dataset matrix (train on A, test on B).")
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path),
              help="Cache of datasets and stages (default: $DELBENCH_CACHE or ~/.cache/delbench), shared with `compare`.")
@click.option("--out", type=click.Path(path_type=Path), help="Write the per-task rows as CSV.")
def evaluate(root: Path, protocol: Protocol, checkpoint: str, seeds: tuple[int, ...], tasks: tuple[str, ...],
             cross: bool, cache_dir: Path | None, overrides: dict[str, Any], out: Path | None) -> None:
    """Fine-tune CHECKPOINT on each task of ROOT (val-selected) and report test mIoU and Dice."""
    import pandas as pd

    from delbench.evaluate.stage import evaluate as run
    from delbench.progress import progress_bar
    from delbench.references import SCRATCH
    from delbench.store.cachedir import stages_dir

    p = protocol
    ckpt = None if checkpoint == SCRATCH else Path(checkpoint)
    stages = stages_dir(cache_dir)
    rows = []
    for seed in seeds or p.seeds:
        with progress_bar(f"evaluate seed {seed}") as progress:
            rows += run(root, p, stages, checkpoint=ckpt, seed=seed, tasks=list(tasks) or None, progress=progress)
    columns = ["task", "seed", "miou", "miou_all", "miou_dataset", "dice", "empty_share", "val_miou", "seconds"]
    frame = pd.DataFrame(rows)[columns]
    click.echo(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if out:
        frame.to_csv(out, index=False)
    if cross:
        from delbench.evaluate.crossdata import cross_dataset

        matrix = cross_dataset(root, p, stages, checkpoint=ckpt, seed=(seeds or p.seeds)[0], tasks=list(tasks) or None)
        click.echo(matrix.pivot(index="train_task", columns="test_task", values="miou").to_string(float_format=lambda v: f"{v:.3f}"))
