from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from delbench.cli.params import protocol_options

if TYPE_CHECKING:
    from delbench.protocol import Protocol

@click.command("embed")
@click.argument("root", type=click.Path(path_type=Path, exists=True, file_okay=False))
@protocol_options("ci")
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path),
              help="Cache of datasets and stages (default: $DELBENCH_CACHE or ~/.cache/delbench), shared with `compare`.")
def embed(root: Path, protocol: Protocol, cache_dir: Path | None, overrides: dict[str, Any]) -> None:
    """Embed the pool images of dataset ROOT with the protocol's embedder."""
    from delbench.embed.stage import embed_pool
    from delbench.progress import progress_bar
    from delbench.store.cachedir import stages_dir

    with progress_bar(f"embed {protocol.embed.embedder}") as progress:
        path = embed_pool(root, protocol, stages_dir(cache_dir), progress=progress)
    click.echo(str(path))
