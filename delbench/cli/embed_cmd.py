from __future__ import annotations

from pathlib import Path

import click


@click.command("embed")
@click.argument("root", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--protocol", "protocol_name", default="ci", show_default=True, help="Protocol name or .toml path.")
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path),
              help="Cache of datasets and stages (default: $DELBENCH_CACHE or ~/.cache/delbench), shared with `compare`.")
@click.option("--set", "overrides", multiple=True, help="Override a protocol key, e.g. --set embed.embedder=pool.")
def embed(root: Path, protocol_name: str, cache_dir: Path | None, overrides: tuple[str, ...]) -> None:
    """Embed the pool images of dataset ROOT with the protocol's embedder."""
    from delbench.cli.pretrain_cmd import progress_bar
    from delbench.store.cachedir import stages_dir
    from delbench.cli.params import parse_params
    from delbench.protocol import load_protocol
    from delbench.embed.stage import embed_pool

    p = load_protocol(protocol_name).with_overrides(parse_params(overrides, "--set"))
    with progress_bar(f"embed {p.embed.embedder}") as progress:
        path = embed_pool(root, p, stages_dir(cache_dir), progress=progress)
    click.echo(str(path))
