"""A study's units as submitit jobs: submitted once, recorded in ``RUN_DIR/jobs.json`` the moment each
is submitted, waited for with the study's bar, or left running (``--detach``) and collected by a later
``compare`` with the same arguments.

``jobs.json`` maps each unit (``delbench-<selector>-r<R>-s<seed>``) to its job id, its state as last
seen (``submitted``, ``done``, ``failed``, ``cancelled``) and, for a failed one, why (the job's error
and the tail of its stderr). A later run attaches to every recorded job that has not failed: a job
still queued or running is waited for (or left alone, detached), never submitted twice; a finished
one's outcome is read from its result file. Only failed, cancelled and never-submitted units are
submitted again. submitit moves arguments and outcomes through pickles in ``RUN_DIR/jobs/``; the
study's results are the run directory's tables, as with the local pool.
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

from delbench.compare.executors import ExecutorOptions, unit_name
from delbench.compare.slurm import job_parameters, make_executor, need_sbatch, unit_job
from delbench.compare.plan import CompareConfig, Unit
from delbench.compare.runner import UnitsLost
from delbench.errors import DelbenchError
from delbench.progress import Progress
from delbench.store.atomic import read_record, write_json
from delbench.store.rundir import RunDir

JOBS_VERSION = 1
QUEUED = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "SUSPENDED", "RESIZING"}
STDERR_LINES = 15


def poll_seconds(options: ExecutorOptions) -> float:
    """How often the jobs are asked for their state (submitit caches ``sacct`` for a minute anyway)."""
    return float(os.environ.get("DELBENCH_POLL_S", "30" if options.kind == "slurm" else "0.5"))


class Detached(DelbenchError):
    """The jobs were submitted (or are still running) and this command returns without them."""

    def __init__(self, finished: dict[Unit, dict[str, Any]], pending: int, run_dir: Path) -> None:
        super().__init__(f"{pending} job(s) queued or running, recorded in {RunDir(run_dir).jobs}; "
                         f"see them with `delbench status {run_dir}`, and collect the results by rerunning "
                         "the same command")
        self.finished, self.pending = finished, pending


class JobsFailed(UnitsLost):
    def message(self, run_dir: Path) -> str:
        lines = [f"compare: {len(self.lost)} job(s) failed:"]
        lines += [f"  {unit_name(u.selector, u.ratio_target, u.seed, u.budget)}: {why}" for u, why in self.lost]
        kept = (f"the {len(self.finished)} finished unit(s) are kept in {RunDir(run_dir).results}"
                if self.finished else "no unit finished")
        lines.append(f"{kept}; the errors are in {RunDir(run_dir).jobs}; rerun the same command to submit "
                     "only the failed units (pre-training resumes from its last checkpoint)")
        return "\n".join(lines)


def read_jobs(run_dir: Path) -> dict[str, Any]:
    path = RunDir(run_dir).jobs
    if not path.is_file():
        return {"version": JOBS_VERSION, "units": {}}
    return read_record(path, "units", "jobs record", "move it aside to submit every unit again")


def attach(entry: dict[str, Any], folder: Path) -> Any:
    """The submitit job of a recorded entry."""
    import submitit

    tasks = tuple(range(int(entry.get("tasks", 1))))
    if entry["executor"] == "slurm":
        return submitit.SlurmJob(folder=folder, job_id=entry["job_id"], tasks=tasks)
    return submitit.LocalJob(folder=folder, job_id=entry["job_id"], tasks=tasks)


def why_failed(job: Any, exc: BaseException) -> str:
    """One line for the report: the job's state and its error's last line, or its stderr's."""
    lines = [ln for ln in str(exc).splitlines() if ln.strip() and not set(ln.strip()) <= {"-"}]
    tail = tail_of(job)
    last = next((ln for ln in reversed(tail.splitlines()) if ln.strip()), "") if tail else ""
    try:
        state = job.state
    except Exception:  # noqa: BLE001 - the cluster may not answer; the error says enough
        state = "?"
    return f"job {job.job_id} ({state}): {last or (lines[-1] if lines else type(exc).__name__)}"[:300]


def tail_of(job: Any) -> str:
    try:
        text = job.stderr() or ""
    except Exception:  # noqa: BLE001 - no log yet (never started)
        return ""
    return "\n".join(text.splitlines()[-STDERR_LINES:])


def execute_jobs(units: list[Unit], config: CompareConfig, root: Path, tasks: list[str] | None,
                 progress: Progress, done: Callable[[Unit], None]) -> dict[Unit, dict[str, Any]]:
    """Run ``units`` as jobs (see the module's docstring); the outcomes of those that finished."""
    options, run_dir = config.executor, config.run_dir()
    folder = RunDir(run_dir).jobs_folder.resolve()  # jobs start wherever SLURM puts them
    record = read_jobs(run_dir)
    entries: dict[str, Any] = record["units"]
    jobs: dict[Unit, Any] = {}
    for unit in units:
        entry = entries.get(unit_name(unit.selector, unit.ratio_target, unit.seed, unit.budget))
        if entry and entry.get("state") not in ("failed", "cancelled"):
            jobs[unit] = attach(entry, folder)

    def save() -> None:
        write_json(RunDir(run_dir).jobs, {**record, "version": JOBS_VERSION, "units": entries})

    fresh = [u for u in units if u not in jobs]
    if fresh:
        need_sbatch(options)
        executor = make_executor(options, folder)
        args = (str(Path(root).resolve()), config.protocol, str(config.cache_dir().resolve()))
        for unit in fresh:
            name = unit_name(unit.selector, unit.ratio_target, unit.seed, unit.budget)
            executor.update_parameters(**job_parameters(options, config.protocol, name, config.cache_dir()))
            try:
                job = executor.submit(unit_job(), *args, unit, tasks, config.cross)
            except (subprocess.CalledProcessError, OSError) as exc:
                save()
                raise DelbenchError(f"--executor {options.kind}: submitting {name} failed ({_first_line(exc)}); "
                                    f"the jobs submitted before it are recorded in {RunDir(run_dir).jobs}; "
                                    "check the cluster (sinfo) and rerun the same command") from None
            except Exception as exc:  # submitit's FailedSubmissionError: sbatch answered something else
                save()
                raise DelbenchError(f"--executor {options.kind}: submitting {name} failed ({_first_line(exc)}); "
                                    "check the cluster (sinfo) and rerun the same command") from None
            jobs[unit] = job
            entries[name] = {"executor": options.kind, "job_id": str(job.job_id), "state": "submitted",
                             "tasks": config.protocol.resources.gpus_per_unit, "selector": unit.selector,
                             "ratio": unit.ratio_target, "seed": unit.seed,
                             **({"budget": unit.budget} if unit.budget != 1.0 else {})}
            save()  # at once: a command that dies now still knows every job it submitted
    return wait(jobs, entries, save, options, run_dir, progress, done)


def wait(jobs: dict[Unit, Any], entries: dict[str, Any], save: Callable[[], None], options: ExecutorOptions,
         run_dir: Path, progress: Progress, done: Callable[[Unit], None]) -> dict[Unit, dict[str, Any]]:
    outcome: dict[Unit, dict[str, Any]] = {}
    failed: list[tuple[Unit, str]] = []
    pending = dict(jobs)
    try:
        while pending:
            counts = {"queued": 0, "running": 0}
            changed = False
            for unit, job in list(pending.items()):
                name = unit_name(unit.selector, unit.ratio_target, unit.seed, unit.budget)
                if not job.done():
                    counts["queued" if job.state in QUEUED else "running"] += 1
                    continue
                del pending[unit]
                changed = True
                try:
                    outcome[unit] = job.results()[0]
                except Exception as exc:  # noqa: BLE001 - the job's own error, reported below
                    reason = why_failed(job, exc)
                    failed.append((unit, reason))
                    entries[name].update(state="failed", error=reason, stderr=tail_of(job))
                    continue
                entries[name].update(state="done", error=None)
                done(unit)
            progress(len(outcome) / max(1, len(jobs)), f"jobs: {counts['queued']} queued, {counts['running']} running, "
                     f"{len(outcome)} done, {len(failed)} failed")
            if changed:
                save()
            if pending and options.detach:
                raise Detached(outcome, len(pending), run_dir)
            if pending:
                time.sleep(poll_seconds(options))
    except (KeyboardInterrupt, SystemExit):
        # Waiting was asked for: no job outlives the command (with --detach they are meant to).
        for unit, job in pending.items():
            try:
                job.cancel(check=False)
            except Exception:  # noqa: BLE001 - scancel unreachable: the record still names the job
                continue
            entries[unit_name(unit.selector, unit.ratio_target, unit.seed, unit.budget)]["state"] = "cancelled"
        save()
        raise
    if failed:
        raise JobsFailed(outcome, failed)
    return outcome


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "stderr", None) or getattr(exc, "output", None) or str(exc)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return next((ln.strip() for ln in str(text).splitlines() if ln.strip()), type(exc).__name__)
