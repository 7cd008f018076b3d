"""``delbench data``: generate, import, verify and preview dataset roots."""
from __future__ import annotations

import click

from delbench.cli import LazyGroup

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("delbench.cli.data_synth_cmd:synth", "Generate the synthetic DataDEL."),
    "plant": ("delbench.cli.data_plant_cmd:plant", "Plant recorded disruptions and near-duplicates in a root's pool."),
    "preview": ("delbench.cli.data_synth_cmd:preview", "Draw a labelled grid of a dataset root."),
    "import": ("delbench.cli.data_import_cmd:import_", "Import a real dataset from its published layout."),
    "merge": ("delbench.cli.data_merge_cmd:merge", "Join imported dataset roots into one."),
    "verify": ("delbench.cli.data_import_cmd:verify", "Re-hash and check every file of a dataset root, and check for leaks."),
    "formats": ("delbench.cli.data_import_cmd:formats", "List the dataset formats import can read."),
}


class DataGroup(LazyGroup):
    commands_table = SUBCOMMANDS


@click.group("data", cls=DataGroup)
def data() -> None:
    """Generate, import, verify and preview dataset roots."""
