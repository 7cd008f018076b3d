from __future__ import annotations

from pathlib import Path

import click


@click.command("protocols")
@click.option("--show", "show", default=None, help="Print one protocol's full settings as JSON.")
@click.option("--data", type=click.Path(path_type=Path),
              help="Compute the budgets on this dataset root (default: each protocol's synthetic DataDEL).")
@click.option("--time", "timed", is_flag=True,
              help="Also state each budget in seconds on this machine (a calibration of a few seconds per protocol).")
def protocols(show: str | None, data: Path | None, timed: bool) -> None:
    """List the protocols (protocols/*.toml) with their budgets, computed from each protocol and the pool."""
    import json

    from delbench.compare.budget import root_budget, synthetic_budget
    from delbench.protocol import list_protocols, load_protocol

    if show:
        p = load_protocol(show)
        click.echo(json.dumps({**p.to_dict(), "hash": p.hash()}, indent=2))
        return
    # every budget first, so a bad --data fails with one line before anything is printed
    loaded = [load_protocol(name) for name in list_protocols()]
    budgets = [root_budget(p, data) if data is not None else synthetic_budget(p) for p in loaded]
    for p, budget in zip(loaded, budgets):
        pt = p.pretrain
        model = pt.encoder or f"conv-unet w{pt.width}"
        cap = f", at most {pt.max_steps:,} steps" if pt.max_steps else ""
        click.echo(f"{p.name:<7} v{p.version}  {pt.objective} on {pt.arch} ({model}) {pt.image_size}px, "
                   f"batch {pt.batch_size}, {pt.epochs_at_full:g} epochs at 100%{cap}; finetune {p.finetune.head} "
                   f"{p.finetune.mode}, labels {p.finetune.labels or 'all'}, {p.finetune.steps} steps")
        rates = None
        if timed:
            from delbench.compare.calibrate import calibrate

            rates = calibrate(p)
        for line in budget.lines(rates):
            click.echo(f"        {line}")
        click.echo(f"        hash {p.hash()}")
