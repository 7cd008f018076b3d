from __future__ import annotations

from pathlib import Path

import click

from delbench.cli.params import parse_params
from delbench.data.manifest import MANIFEST_NAME


@click.command("select")
@click.argument("name")
@click.option("--embeddings", "embeddings", required=True, type=click.Path(path_type=Path), help="Embeddings .npy [N, D].")
@click.option("--ratio", required=True, type=float, help="Fraction of the pool to keep, 0 < R <= 1.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--pool", "pool", type=click.Path(path_type=Path), help=f"{MANIFEST_NAME} of the pool (for pixel-level selectors).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output subset.npy (sidecar .json beside it).")
@click.option("--param", "params", multiple=True, help="Selector parameter key=value (repeatable).")
def select(name: str, embeddings: Path, ratio: float, seed: int, pool: Path | None, out: Path, params: tuple[str, ...]) -> None:
    """Run selector NAME on an embeddings file and write the kept pool indices."""
    from delbench.plugin.manager import get_plugins
    from delbench.progress import progress_bar
    from delbench.select.contract import check_ratio
    from delbench.select.stage import run_select

    check_ratio(ratio)
    entry = get_plugins().selectors.get(name)
    with progress_bar(f"{name} R={ratio:g}") as progress:
        (record,) = run_select(entry, embeddings=embeddings, ratios=[ratio], outputs=[out], seed=seed,
                               params=parse_params(params), pool_manifest=pool, progress=progress)
    for line in record.get("info", {}).get("warnings", []):
        click.echo(f"warning: {line}", err=True)
    click.echo(
        f"{name}: kept {record['kept']} of {record['n']} (ratio {record['ratio_achieved']:.4f}, "
        f"target {ratio:g}) in {record['seconds']:.2f} s -> {out}"
    )
