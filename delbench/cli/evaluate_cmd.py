from __future__ import annotations

from pathlib import Path

import click


@click.command("evaluate")
@click.argument("root", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--protocol", "protocol_name", default="ci", show_default=True, help="Protocol name or .toml path.")
@click.option("--checkpoint", default="scratch", show_default=True,
              help="weights.safetensors from `delbench pretrain`, or 'scratch' for no pre-training.")
@click.option("--seed", "seeds", multiple=True, type=int, help="Seed(s); default: the protocol's seeds.")
@click.option("--task", "tasks", multiple=True, help="Task(s); default: the protocol's tasks (all).")
@click.option("--cross", is_flag=True, help="Also print the cross-dataset matrix (train on A, test on B).")
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path),
              help="Cache of datasets and stages (default: $DELBENCH_CACHE or ~/.cache/delbench), shared with `compare`.")
@click.option("--set", "overrides", multiple=True, help="Override a protocol key, e.g. --set finetune.steps=100.")
@click.option("--out", type=click.Path(path_type=Path), help="Write the per-task rows as CSV.")
def evaluate(root: Path, protocol_name: str, checkpoint: str, seeds: tuple[int, ...], tasks: tuple[str, ...],
             cross: bool, cache_dir: Path | None, overrides: tuple[str, ...], out: Path | None) -> None:
    """Fine-tune CHECKPOINT on each task of ROOT (val-selected) and report test mIoU and Dice."""
    import pandas as pd

    from delbench.store.cachedir import stages_dir
    from delbench.cli.pretrain_cmd import progress_bar
    from delbench.cli.params import parse_params
    from delbench.protocol import load_protocol
    from delbench.evaluate.stage import evaluate as run

    p = load_protocol(protocol_name).with_overrides(parse_params(overrides, "--set"))
    ckpt = None if checkpoint == "scratch" else Path(checkpoint)
    stages = stages_dir(cache_dir)
    rows = []
    for seed in seeds or p.seeds:
        with progress_bar(f"evaluate seed {seed}") as progress:
            rows += run(root, p, stages, checkpoint=ckpt, seed=seed, tasks=list(tasks) or None, progress=progress)
    frame = pd.DataFrame(rows)[["task", "seed", "miou", "miou_dataset", "dice", "val_miou", "seconds"]]
    click.echo(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if out:
        frame.to_csv(out, index=False)
    if cross:
        from delbench.evaluate.crossdata import cross_dataset

        matrix = cross_dataset(root, p, stages, checkpoint=ckpt, seed=(seeds or p.seeds)[0], tasks=list(tasks) or None)
        click.echo(matrix.pivot(index="train_task", columns="test_task", values="miou").to_string(float_format=lambda v: f"{v:.3f}"))
