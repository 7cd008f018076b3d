from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from delbench.cli.params import protocol_options

if TYPE_CHECKING:
    from delbench.protocol import Protocol


@click.command("pretrain")
@click.argument("root", type=click.Path(path_type=Path, exists=True, file_okay=False))
@protocol_options("ci")
@click.option("--subset", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="subset.npy from `delbench select`; omitted = 100% of the pool.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path),
              help="Cache of datasets and stages (default: $DELBENCH_CACHE or ~/.cache/delbench), shared with `compare`.")
@click.option("--stop-after", type=int, default=None, hidden=True)
def pretrain(root: Path, protocol: Protocol, subset: Path | None, seed: int, cache_dir: Path | None,
             overrides: dict[str, Any], stop_after: int | None) -> None:
    """Pre-train the protocol's network on a subset of ROOT's pool (equal compute; resumable).

    Runs under `torchrun --nproc-per-node N -m delbench.cli pretrain ...` as well (DDP)."""
    import os

    from delbench.pretrain.stage import pretrain as run
    from delbench.progress import progress_bar
    from delbench.select.subset import read_subset
    from delbench.store.cachedir import stages_dir

    p = protocol
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
