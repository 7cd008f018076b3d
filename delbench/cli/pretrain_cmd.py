from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, Iterator

import click


@contextlib.contextmanager
def progress_bar(label: str) -> Iterator[Callable[[float, str], None]]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=1.0)

        def update(fraction: float, message: str = "") -> None:
            bar.update(task, completed=min(max(fraction, 0.0), 1.0), description=f"{label} {message}".rstrip())

        yield update


@click.command("pretrain")
@click.argument("root", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--protocol", "protocol_name", default="ci", show_default=True, help="Protocol name or .toml path.")
@click.option("--subset", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="subset.npy from `delbench select`; omitted = 100% of the pool.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path),
              help="Cache of datasets and stages (default: $DELBENCH_CACHE or ~/.cache/delbench), shared with `compare`.")
@click.option("--set", "overrides", multiple=True, help="Override a protocol key, e.g. --set pretrain.lr=1e-3.")
@click.option("--stop-after", type=int, default=None, hidden=True)
def pretrain(root: Path, protocol_name: str, subset: Path | None, seed: int, cache_dir: Path | None,
             overrides: tuple[str, ...], stop_after: int | None) -> None:
    """Pre-train the protocol's network on a subset of ROOT's pool (equal compute; resumable).

    Runs under `torchrun --nproc-per-node N -m delbench.cli pretrain ...` as well (DDP)."""
    import os

    from delbench.store.cachedir import stages_dir
    from delbench.cli.params import parse_params
    from delbench.protocol import load_protocol
    from delbench.select.subset import read_subset
    from delbench.pretrain.stage import pretrain as run

    p = load_protocol(protocol_name).with_overrides(parse_params(overrides, "--set"))
    indices = read_subset(subset)[0] if subset else None
    stages = stages_dir(cache_dir)
    main = os.environ.get("RANK", "0") == "0"
    if main:
        with progress_bar(f"pretrain {p.name}") as progress:
            res = run(root, p, stages, subset=indices, seed=seed, progress=progress, stop_after=stop_after)
    else:
        res = run(root, p, stages, subset=indices, seed=seed, stop_after=stop_after)
    if main:
        click.echo(f"{res.steps} steps in {res.seconds:.1f} s -> {res.checkpoint}")
