from __future__ import annotations

import click


@click.command("protocols")
@click.option("--show", "show", default=None, help="Print one protocol's full settings as JSON.")
def protocols(show: str | None) -> None:
    """List the protocols (protocols/*.toml) with their budgets."""
    import json

    from delbench.protocol import list_protocols, load_protocol

    if show:
        p = load_protocol(show)
        click.echo(json.dumps({**p.to_dict(), "hash": p.hash()}, indent=2))
        return
    for name in list_protocols():
        p = load_protocol(name)
        pt = p.pretrain
        model = pt.encoder or f"conv-unet w{pt.width}"
        click.echo(f"{name:<7} v{p.version}  {pt.objective} on {pt.arch} ({model}) {pt.image_size}px, "
                   f"batch {pt.batch_size}, {pt.epochs_at_full:g} epochs at 100%; finetune {p.finetune.head} "
                   f"{p.finetune.mode}, labels {p.finetune.labels or 'all'}, {p.finetune.steps} steps")
        click.echo(f"        budget: {p.budget}   hash {p.hash()}")
