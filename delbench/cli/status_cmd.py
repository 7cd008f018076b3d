"""``delbench status RUN_DIR``: the jobs of a study submitted with ``--executor slurm``, as the cluster
sees them now: queued, running, done or failed (with why). Reads ``jobs.json``; writes nothing: the
results are collected into the run directory's tables by rerunning the ``compare`` that submitted them."""
from __future__ import annotations

from pathlib import Path

import click


@click.command("status")
@click.argument("run_dir", type=click.Path(path_type=Path))
def status(run_dir: Path) -> None:
    """Show the state of each job of RUN_DIR (submitted with --executor slurm)."""
    from rich.console import Console
    from rich.table import Table

    from delbench.compare.jobs import QUEUED, attach, read_jobs
    from delbench.errors import DelbenchError
    from delbench.store.rundir import RunDir

    rd = RunDir(run_dir)
    if not rd.jobs.is_file():
        raise DelbenchError(f"{run_dir}: no {rd.jobs.name} there; only a compare with --executor slurm records jobs")
    entries = read_jobs(run_dir)["units"]
    folder = rd.jobs_folder.resolve()
    table = Table("unit", "job", "state", "why", box=None)
    tally: dict[str, int] = {}
    for name, entry in sorted(entries.items()):
        state, why = entry.get("state", "?"), entry.get("error") or ""
        if state == "submitted":
            job = attach(entry, folder)
            try:
                live = job.state
            except Exception as exc:  # noqa: BLE001 - the cluster did not answer: say so, keep going
                live = f"unknown ({exc})"[:60]
            state = "done" if job.paths.result_pickle.exists() else "queued" if live in QUEUED else live.lower()
        tally[state] = tally.get(state, 0) + 1
        table.add_row(name, str(entry.get("job_id", "")), state, why)
    console = Console()
    console.print(table)
    console.print(", ".join(f"{n} {s}" for s, n in sorted(tally.items())), highlight=False)
    console.print("collect finished units into the tables (and resubmit failed ones) by rerunning the same "
                  "compare command", highlight=False)
