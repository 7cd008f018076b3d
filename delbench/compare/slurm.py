"""Units as submitit jobs: their parameters from the protocol's ``[resources]`` and the CLI's cluster
options, the callable a job runs, and the sbatch scripts rendered without a cluster (``--dry-run``).

A job runs ``UnitJob``: the same ``run_unit`` the local pool runs, with the run's protocol object.
The stage cache is the meeting point of the jobs: a unit whose stages are done returns at once, the
stage lock keeps two jobs from computing one stage, and a job stopped by its time limit or a
preemption is requeued by submitit (``Checkpointable``) and resumes from its training checkpoint.
"""
from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Any

import submitit  # this module is imported only on the submitit paths

from delbench.compare.executors import SUBMITIT_CLUSTER, ExecutorOptions
from delbench.errors import DelbenchError


def job_parameters(options: ExecutorOptions, protocol: Any, name: str, cache: Path) -> dict[str, Any]:
    """submitit's parameters for one unit: the protocol's ``[resources]``, the CLI's cluster options.
    A unit on several GPUs is one job of that many tasks on one node, each task one DDP rank."""
    res = protocol.resources
    params: dict[str, Any] = {
        "name": name, "timeout_min": res.timeout_min, "mem_gb": res.mem_gb, "nodes": 1,
        "tasks_per_node": res.gpus_per_unit, "cpus_per_task": res.cpus_per_unit,
    }
    if options.kind == "slurm":
        params["gpus_per_node"] = res.gpus_per_unit
        if options.partition:
            params["slurm_partition"] = options.partition
        if options.account:
            params["slurm_account"] = options.account
        if options.extra:
            params["slurm_additional_parameters"] = dict(options.extra)
        # Set in the job, not inherited: a login shell's values must not change what a job computes.
        params["slurm_setup"] = [f"export DELBENCH_THREADS={os.environ.get('DELBENCH_THREADS', '1')}",
                                 f"export DELBENCH_CACHE={shlex.quote(str(Path(cache).resolve()))}"]
    return params


def make_executor(options: ExecutorOptions, folder: Path) -> Any:
    """submitit's executor for ``options.kind``; no SLURM on this machine is one line."""
    try:
        return submitit.AutoExecutor(folder=folder, cluster=SUBMITIT_CLUSTER[options.kind])
    except RuntimeError as exc:
        if options.kind == "slurm":
            raise DelbenchError("--executor slurm: no SLURM here (srun/sbatch not found on PATH); run this on the "
                                "cluster's login node, or use --executor local") from None
        raise DelbenchError(f"--executor {options.kind}: {exc}") from None


class UnitJob(submitit.helpers.Checkpointable):
    """The callable a job runs. A class (not a function) so that submitit's ``Checkpointable`` can
    requeue it: its default ``checkpoint`` resubmits the same call, and the pre-training resumes from
    its newest checkpoint in the cache."""

    def __call__(self, root: str, protocol: Any, cache: str, unit: Any, tasks: list[str] | None,
                 cross: bool) -> dict[str, Any] | None:
        from delbench.compare.runner import run_unit

        if int(os.environ.get("SUBMITIT_LOCAL_NTASKS", os.environ.get("SLURM_NTASKS", "1"))) > 1:
            return _ddp_unit(root, protocol, cache, unit, tasks, cross)
        return run_unit(root, protocol, cache, unit, tasks, cross)


def _ddp_unit(root: str, protocol: Any, cache: str, unit: Any, tasks: list[str] | None,
              cross: bool) -> dict[str, Any] | None:
    """A multi-task job: every task joins one DDP pre-training (its world size is in the stage's key);
    task 0 then evaluates it alone, as a one-process unit would."""
    import numpy as np

    from delbench.compare.runner import run_unit

    env = submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
    if env.rank == 0:
        return run_unit(root, protocol, cache, unit, tasks, cross)
    if unit.pretrain:
        from delbench.pretrain.stage import pretrain

        subset = np.load(unit.subset) if unit.subset is not None else None
        pretrain(Path(root), protocol, Path(cache) / "stages", subset=subset, seed=unit.seed)
    return None


def unit_job() -> Any:
    """A fresh requeueable ``UnitJob``."""
    return UnitJob()


def write_scripts(options: ExecutorOptions, protocol: Any, names: list[str], out: Path, cache: Path,
                  folder: Path) -> list[Path]:
    """The sbatch scripts ``--executor slurm`` would submit for the units ``names``, written to
    ``out`` without a cluster, as if submitted from ``folder``: submitit renders each through its own submission path, with ``sbatch``
    and ``srun`` on PATH replaced by stand-ins that only record the script."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="delbench-sbatch-") as tmp:
        bin_dir = Path(tmp) / "bin"
        bin_dir.mkdir()
        for tool, body in (("srun", "exit 0"), ("sbatch", 'echo "Submitted batch job 1"')):
            (bin_dir / tool).write_text(f"#!/bin/sh\n{body}\n")
            (bin_dir / tool).chmod(0o755)
        before = os.environ.get("PATH", "")
        os.environ["PATH"] = f"{bin_dir}{os.pathsep}{before}"
        try:
            executor = submitit.AutoExecutor(folder=Path(tmp) / "render", cluster="slurm")
            executor.update_parameters(**job_parameters(options, protocol, "x", cache))
            for name in names:
                executor.update_parameters(name=name)
                job = executor.submit(_noop)
                text = job.paths.submission_file.read_text().replace(str(Path(tmp) / "render"), str(folder))
                target = out / f"{name}.sh"
                from delbench.store.atomic import atomic_path

                with atomic_path(target) as dest:
                    dest.write_text(text)
                written.append(target)
        finally:
            os.environ["PATH"] = before
    return written


def _noop() -> None:
    """What a rendered (never submitted) script's pickle holds."""


def need_sbatch(options: ExecutorOptions) -> None:
    if options.kind == "slurm" and shutil.which("sbatch") is None:
        raise DelbenchError("--executor slurm: no SLURM here (sbatch not found on PATH); run this on the cluster's "
                            "login node, or use --executor local")
