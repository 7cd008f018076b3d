from __future__ import annotations

from pathlib import Path

import click


@click.command("new-selector")
@click.argument("name")
@click.option("--out", "out", default=".", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory in which the package directory delbench-NAME is created.")
def new_selector(name: str, out: Path) -> None:
    """Scaffold a selector plugin package for selector NAME (lowercase letters, digits, dashes)."""
    from delbench.errors import DelbenchError
    from delbench.plugin.manager import get_plugins
    from delbench.plugin.scaffold import DOCS_POINTER, names_for, scaffold

    names = names_for(name)
    selectors = get_plugins().selectors
    if names.selector in selectors:
        taken = selectors.get(names.selector)
        raise DelbenchError(f"selector {names.selector!r} is already installed (plugin {taken.plugin!r} from package "
                            f"{taken.package}): pick another name")
    target = scaffold(name, out)
    click.echo(f"created {target}/ for selector {names.selector!r} (module {names.module}.py)")
    click.echo("next:")
    click.echo(f"  1. write {names.cls}.select in {target / (names.module + '.py')} (see {DOCS_POINTER})")
    click.echo(f"  2. pip install -e {target}")
    click.echo(f"  3. cd {target} && pytest")
    click.echo(f"  4. delbench compare {names.selector} meddel --protocol ci")
