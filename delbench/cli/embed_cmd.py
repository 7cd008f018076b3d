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
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the embeddings to this .npy (its .json sidecar beside it), atomically.")
def embed(root: Path, protocol: Protocol, cache_dir: Path | None, overrides: dict[str, Any], out: Path | None) -> None:
    """Embed the pool images of dataset ROOT with the protocol's embedder.

    Prints the path of the embeddings: the cached file, or OUT when given."""
    from delbench.embed.export import check_out, export_embeddings
    from delbench.embed.stage import embed_pool
    from delbench.progress import progress_bar
    from delbench.store.cachedir import stages_dir

    if out is not None:
        check_out(out, root, protocol)  # before any work: an --out that would overwrite an input
    with progress_bar(f"embed {protocol.embed.embedder}") as progress:
        path = embed_pool(root, protocol, stages_dir(cache_dir), progress=progress)
    if out is not None:
        export_embeddings(path, out)
        path = out
    click.echo(str(path))
