from __future__ import annotations

import json

import click


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(as_json: bool) -> None:
    """List installed plugins, their packages, versions and module paths, and what they register."""
    from delbench.plugin.manager import get_plugins

    loaded = get_plugins()
    # The module path shows which copy is loaded: an installed (possibly stale) one or a checkout.
    paths = loaded.paths()
    selectors = [
        {"name": e.name, "plugin": e.plugin, "package": e.package, "version": e.version,
         "description": e.description, "params": e.params(), "path": paths.get(e.plugin, "")}
        for e in loaded.selectors
    ]
    datasets = [
        {"name": e.name, "plugin": e.plugin, "package": e.package, "version": e.version, "description": e.description,
         "path": paths.get(e.plugin, "")}
        for e in loaded.datasets
    ]
    if as_json:
        payload = {"plugins": [p.as_dict() for p in loaded.info()], "selectors": selectors, "datasets": datasets}
        click.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="delbench selectors")
    for col in ("selector", "plugin", "package", "version", "description"):
        table.add_column(col)
    table.add_column("module path", overflow="fold")  # folded, never cut: the whole path is the point
    for s in selectors:
        table.add_row(s["name"], s["plugin"], s["package"], s["version"], s["description"], s["path"])
    console = Console()
    console.print(table)
    if datasets:
        dtable = Table(title="delbench dataset formats")
        for col in ("format", "plugin", "package", "description"):
            dtable.add_column(col)
        dtable.add_column("module path", overflow="fold")
        for d in datasets:
            dtable.add_row(d["name"], d["plugin"], d["package"], d["description"], d["path"])
        console.print(dtable)
