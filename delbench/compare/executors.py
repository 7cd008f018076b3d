"""Where a study's units run: ``local`` (this machine's worker processes, ``delbench.compare.workers``)
or ``slurm`` (one submitit job per unit). ``submitit-local`` runs the slurm path's jobs as local
subprocesses through submitit's ``LocalExecutor``: the same submission, pickling and collection code,
for tests and for trying a study out on a login node.

The options live here (light: no submitit import on the local path); submitting is in
``delbench.compare.slurm`` and ``delbench.compare.jobs``.
"""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from delbench.errors import DelbenchError

KINDS = ("local", "slurm", "submitit-local")
SUBMITIT_CLUSTER = {"slurm": "slurm", "submitit-local": "local"}


@dataclass(frozen=True)
class ExecutorOptions:
    """``--executor`` and its cluster options, after the environment's defaults were applied."""

    kind: str = "local"
    partition: str | None = None
    account: str | None = None
    extra: dict[str, str] = field(default_factory=dict)  # --slurm-opt KEY=VALUE: more #SBATCH lines
    detach: bool = False

    @property
    def submitit(self) -> bool:
        return self.kind != "local"


def executor_options(kind: str | None, partition: str | None = None, account: str | None = None,
                     opts: tuple[str, ...] | list[str] = (), detach: bool = False) -> ExecutorOptions:
    """The options as given, else ``$DELBENCH_EXECUTOR``, ``$DELBENCH_SLURM_PARTITION``,
    ``$DELBENCH_SLURM_ACCOUNT`` and ``$DELBENCH_SLURM_OPTS`` (space-separated KEY=VALUE)."""
    kind = kind or os.environ.get("DELBENCH_EXECUTOR") or "local"
    if kind not in KINDS:
        raise DelbenchError(f"--executor {kind!r}: use one of local, slurm")
    extra: dict[str, str] = {}
    for item in [*shlex.split(os.environ.get("DELBENCH_SLURM_OPTS", "")), *opts]:
        key, sep, value = item.partition("=")
        key = key.strip().lstrip("-")
        if not sep or not key:
            raise DelbenchError(f"--slurm-opt {item!r}: write it as KEY=VALUE, e.g. --slurm-opt qos=high "
                                "(each becomes a #SBATCH --KEY=VALUE line)")
        extra[key.replace("-", "_")] = value.strip()
    options = ExecutorOptions(kind, partition or os.environ.get("DELBENCH_SLURM_PARTITION") or None,
                              account or os.environ.get("DELBENCH_SLURM_ACCOUNT") or None, extra, detach)
    if detach and not options.submitit:
        raise DelbenchError("--detach needs a cluster: add --executor slurm (the local pool stops with this command)")
    return options


def unit_name(selector: str, ratio: float, seed: int, budget: float = 1.0) -> str:
    """A unit as a job name and a file name: ``delbench-meddel-r0.05-s1``, ``delbench-meddel-r0.05-b0.5-s1``
    at a budget other than the protocol's own (whose names stay what they were)."""
    return f"delbench-{selector}-r{ratio:g}{'' if budget == 1.0 else f'-b{budget:g}'}-s{seed}"
