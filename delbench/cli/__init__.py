"""The ``delbench`` command line. Subcommands live one per module and are imported only when run, so
``delbench --help`` stays fast (no torch, faiss or timm on that path)."""
from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from delbench import __version__
from delbench.errors import DelbenchError

# name -> "module:attribute"; a subcommand is one module under delbench/cli/.
COMMANDS: dict[str, tuple[str, str]] = {
    "plugins": ("delbench.cli.plugins_cmd:plugins", "List installed plugins and the selectors they provide."),
    "select": ("delbench.cli.select_cmd:select", "Run one selector on an embeddings file and write the subset."),
    "data": ("delbench.cli.data_cmd:data", "Generate, import, verify and preview datasets."),
    "protocols": ("delbench.cli.protocols_cmd:protocols", "List the protocols and their budgets."),
    "embed": ("delbench.cli.embed_cmd:embed", "Embed the pool images of a dataset root."),
    "subset": ("delbench.cli.subset_cmd:subset", "List the kept and removed files of a subset."),
    "pretrain": ("delbench.cli.pretrain_cmd:pretrain", "Pre-train an encoder on a subset under equal compute."),
    "evaluate": ("delbench.cli.evaluate_cmd:evaluate", "Fine-tune and test an encoder on the downstream tasks."),
    "compare": ("delbench.cli.compare_cmd:compare", "Run selectors head-to-head and write comparison tables."),
    "status": ("delbench.cli.status_cmd:status", "Show the cluster jobs of a run directory (--executor slurm)."),
    "report": ("delbench.cli.report_cmd:report", "Re-render tables, plots and report.html of a run directory."),
    "board": ("delbench.cli.board_cmd:board", "Merge run directories of one protocol into a leaderboard."),
    "agree": ("delbench.cli.agree_cmd:agree", "How well one run's ranking of selectors predicts another's."),
    "validate": ("delbench.cli.validate_cmd:validate", "Check that a protocol ranks data by quality (oracle > random > adversary)."),
    "regress": ("delbench.cli.regress_cmd:regress", "Check baseline scores against a committed baseline."),
    "new-selector": ("delbench.cli.new_selector_cmd:new_selector", "Scaffold a selector plugin package."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on use, from ``commands_table``."""

    commands_table: dict[str, tuple[str, str]] = COMMANDS

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in self.commands_table if _available(self.commands_table[name][0]))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands_table or not _available(self.commands_table[name][0]):
            return None
        target = self.commands_table[name][0]
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.commands_table[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DelbenchError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            # one line instead of a traceback; every command writes atomically and caches what it finished
            error = click.ClickException("interrupted; finished stages are kept in the cache and pre-training "
                                         "resumes from its last checkpoint: rerun the same command to continue")
            error.exit_code = 130
            raise error from None


def _available(target: str) -> bool:
    return importlib.util.find_spec(target.split(":")[0]) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="delbench")
def cli() -> None:
    """delbench: which part of an endoscopy pool do you need to pre-train a foundation model?"""


def main() -> None:
    sys.exit(cli.main(prog_name="delbench", standalone_mode=True))
