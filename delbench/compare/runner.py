"""``delbench compare``: data -> embed -> (select -> pretrain -> evaluate -> score) per selector x
ratio x seed, sharing what is shared (the embeddings, the ``full`` and ``scratch`` references, any
identical subset), every stage cached by the hash of its inputs so a rerun only does what is missing."""
from __future__ import annotations

import contextlib
import datetime
import shutil
import time
from dataclasses import asdict, replace
from concurrent.futures import as_completed
from pathlib import Path
from typing import Any, Callable

import numpy as np

from delbench.compare.plan import CompareConfig, Unit
from delbench.data.manifest import MANIFEST_NAME, manifest_path, pool_rows, read_manifest
from delbench.errors import DelbenchError
from delbench.plugin.registry import Entry
from delbench.progress import Progress, no_progress
from delbench.protocol import Protocol
from delbench.references import FULL, SCRATCH
from delbench.select.subset import read_subset, subset_files
from delbench.store.atomic import sha256_file
from delbench.store.cache import build_stage, claim_stage, config_hash, is_done
from delbench.store.rundir import RunDir


def synthetic_root(config: CompareConfig) -> Path:
    """Where the protocol's synthetic DataDEL lives in the cache (generated or not)."""
    from delbench.data.synth.generate import SYNTH_VERSION, get_scale

    protocol = config.protocol
    # the scale's settings and the generator version name the root, so a changed scale is regenerated
    spec = config_hash({"scale": asdict(get_scale(protocol.data.scale)), "version": SYNTH_VERSION}, 8)
    return config.cache_dir() / "data" / f"synthetic-{protocol.data.scale}-seed{protocol.data.seed}-{spec}"


def ensure_data(config: CompareConfig, progress: Progress) -> Path:
    """The dataset root: ``--data``, or the synthetic default generated once into the cache."""
    protocol = config.protocol
    if config.data is not None:
        root = Path(config.data)
        if not manifest_path(root).is_file():
            raise DelbenchError(f"--data {root}: no {MANIFEST_NAME} there; create it with `delbench data import`")
        return root
    from delbench.data.synth import generate

    root = synthetic_root(config)
    if not manifest_path(root).is_file():
        progress(0.0, f"generating synthetic DataDEL ({protocol.data.scale})")
        generate(root, scale=protocol.data.scale, seed=protocol.data.seed)
    return root


def select_key(selector: str, implementation: dict[str, str], params: dict[str, Any], embeddings_sha: str,
               seed: int, ratios: tuple[float, ...], pool_sha: str) -> dict[str, Any]:
    """The select stage's cache key. ``implementation`` (``Entry.implementation()``) is part of it: the
    same name from another plugin, another version or an edited source must not get the old subsets.
    So is the pool manifest: selectors read its rows (centres, videos, ground truth), and two roots with
    the same pixels, hence the same embeddings, may differ there."""
    return {"selector": selector, "implementation": implementation, "params": params, "embeddings": embeddings_sha,
            "pool": pool_sha, "seed": seed, "ratios": list(ratios)}


def select_dir(cache: Path, key: dict[str, Any]) -> Path:
    """Where the select stage of ``key`` (``select_key``) is cached."""
    return cache / "stages" / "select" / config_hash(key)


def select_all(config: CompareConfig, entries: dict[str, Entry], root: Path, embeddings: Path,
               ratios: tuple[float, ...], seeds: tuple[int, ...], run_dir: RunDir, progress: Progress,
               counts: dict[str, dict[str, int]] | None = None, warnings: list[str] | None = None,
               budgets: tuple[float, ...] = (1.0,)) -> list[Unit]:
    """Run every selector once per seed for all ratios (one pass where it can), cached; copy the
    subsets into the run directory, and return the pre-train units they define, one per budget
    (``scratch`` once: it pre-trains nothing). ``counts["select"]``, when given, is told how many
    select stages were reused and how many computed; ``warnings``, when given, receives the
    selectors' warnings (``info["warnings"]`` of each subset, cached or not)."""
    from delbench.select.stage import run_select

    pool = pool_rows(read_manifest(root))
    sizes = np.array([(root / p).stat().st_size for p in pool["path"]], dtype=np.int64)
    emb_sha = sha256_file(embeddings)
    pool_sha = sha256_file(manifest_path(root))
    tally = (counts if counts is not None else {}).setdefault("select", {"reused": 0, "computed": 0})
    units = []
    for sel in config.selectors:
        implementation = entries[sel].implementation()  # once per selector: it hashes source files
        for seed in seeds:
            params = config.params.get(sel, {})
            key = select_key(sel, implementation, params, emb_sha, seed, ratios, pool_sha)
            stage = select_dir(config.cache_dir(), key)
            with claim_stage(stage) as todo:
                tally["computed" if todo else "reused"] += 1
                if todo:
                    progress(0.0, f"select {sel} seed {seed}")
                    with build_stage(stage, key) as tmp:
                        run_select(entries[sel], embeddings=embeddings, ratios=ratios, seed=seed, params=params,
                                   outputs=[tmp / f"r{r:g}.npy" for r in ratios], pool_manifest=manifest_path(root),
                                   progress=lambda f, m="", s=sel: progress(f, f"select {s} {m}"))
            dest = run_dir.subsets(sel, seed)
            dest.mkdir(parents=True, exist_ok=True)
            for r in ratios:
                for src in subset_files(stage / f"r{r:g}.npy"):
                    if src.exists():
                        shutil.copyfile(src, dest / src.name)
                idx, meta = read_subset(stage / f"r{r:g}.npy")
                if warnings is not None:
                    warnings += [f"{w} (seed {seed})" for w in meta.get("info", {}).get("warnings", [])]
                full = idx.size == len(pool)
                units.append(Unit(sel, float(r), float(meta["ratio_achieved"]), seed, None if full else run_dir.subset(sel, seed, r),
                                  True, float(meta["seconds"]), int(sizes[idx].sum())))
    # the same order as the plan's (delbench.compare.cached), so its schedule is the one that runs
    units = [replace(u, budget=b) for b in budgets for u in units]
    total = int(sizes.sum())
    for seed in seeds:
        units += [Unit(FULL, 1.0, 1.0, seed, None, True, 0.0, total, b) for b in budgets]
        units.append(Unit(SCRATCH, 0.0, 0.0, seed, None, False, 0.0, 0))
    return units


def unit_label(unit: Unit) -> str:
    """``meddel R=0.05 s1``, with ``b=0.5`` for a budget other than the protocol's own."""
    budget = f" b={unit.budget:g}" if unit.budget != 1.0 else ""
    return f"{unit.selector} R={unit.ratio_target:g}{budget} s{unit.seed}"


def run_unit(root: str, proto: Protocol, cache: str, unit: Unit, tasks: list[str] | None,
             cross: bool, progress: Progress | None = None) -> dict[str, Any]:
    """Pre-train (unless scratch) and evaluate one unit; importable top-level so worker processes can run it.

    ``proto`` is the run's protocol object itself (``--set`` overrides applied), never a name to reload."""
    from delbench.evaluate.stage import evaluate, finetuned_dir, resolve_tasks
    from delbench.pretrain.stage import pretrain

    say = progress or no_progress
    stages = Path(cache) / "stages"
    counts = {"pretrain": {"reused": 0, "computed": 0}, "evaluate": {"reused": 0, "computed": 0}}
    checkpoint, steps, seconds = None, 0, 0.0
    if unit.pretrain:
        subset = np.load(unit.subset) if unit.subset is not None else None
        result = pretrain(Path(root), proto, stages, subset=subset, seed=unit.seed, budget=unit.budget,
                          progress=lambda f, m="": say(f, f"pretrain {unit_label(unit)} {m}"))
        counts["pretrain"]["reused" if result.reused else "computed"] += 1
        checkpoint, steps, seconds = result.checkpoint, int(result.steps), float(result.seconds)
    for task in resolve_tasks(read_manifest(Path(root)), proto, tasks, Path(root)):
        done = is_done(finetuned_dir(Path(root), proto, stages, checkpoint=checkpoint, task=task, seed=unit.seed))
        counts["evaluate"]["reused" if done else "computed"] += 1
    rows = evaluate(Path(root), proto, stages, checkpoint=checkpoint, seed=unit.seed, tasks=tasks,
                    progress=lambda f, m="": say(f, f"evaluate {unit_label(unit)} {m}"))
    out: dict[str, Any] = {"rows": rows, "pretrain_steps": steps, "pretrain_seconds": seconds, "counts": counts}
    if cross:
        from delbench.evaluate.crossdata import cross_dataset

        out["cross"] = cross_dataset(Path(root), proto, stages, checkpoint=checkpoint, seed=unit.seed, tasks=tasks).to_dict("records")
    return out


def execute(units: list[Unit], config: CompareConfig, root: Path, tasks: list[str] | None,
            progress: Progress, done: Callable[[Unit], None]) -> dict[Unit, dict[str, Any]]:
    """Run units in-process (jobs=1) or in ``jobs`` worker processes; each trains single-threaded
    (``DELBENCH_THREADS``), so results do not depend on ``jobs``. An interruption stops the workers at
    once (``delbench.compare.workers``); a rerun resumes from the cache and the last checkpoints."""
    if config.executor.submitit:
        from delbench.compare.jobs import execute_jobs

        return execute_jobs(units, config, root, tasks, progress, done)
    out: dict[Unit, dict[str, Any]] = {}
    args = (str(root), config.protocol, str(config.cache_dir()))
    if config.jobs <= 1:
        for unit in units:
            try:
                out[unit] = run_unit(*args, unit, tasks, config.cross, progress=progress)
            except MemoryError:
                raise UnitsLost(out, [(unit, "ran out of memory")]) from None
            done(unit)
        return out
    from delbench.compare.workers import WorkerDied, worker_pool

    finished: set[int] = set()
    futures: dict[Any, int] = {}
    try:
        with worker_pool(config.jobs, finished) as pool:
            futures = {pool.submit(i, run_unit, *args, u, tasks, config.cross): i for i, u in enumerate(units)}
            for fut in as_completed(futures):
                unit = units[futures[fut]]
                try:
                    out[unit] = fut.result()
                except MemoryError:
                    raise UnitsLost(out, [(unit, "ran out of memory")]) from None
                finished.add(futures[fut])
                done(unit)
    except WorkerDied as died:
        for fut, i in futures.items():  # units that finished while the pool broke
            if units[i] not in out and fut.done() and not fut.cancelled() and fut.exception() is None:
                out[units[i]] = fut.result()
        raise UnitsLost(out, [(units[i], _ended(code)) for i, code in died.jobs if units[i] not in out]) from None
    return out


class UnitsLost(Exception):
    """Units that did not finish (with why), and the outcome of those that did."""

    def __init__(self, finished: dict[Unit, dict[str, Any]], lost: list[tuple[Unit, str]]) -> None:
        super().__init__("units lost")
        self.finished, self.lost = finished, lost

    def message(self, run_dir: Path) -> str:
        names = " and ".join(f"{u.selector} R={u.ratio_target:g}{f' budget {u.budget:g}' if u.budget != 1.0 else ''} "
                             f"seed {u.seed} ({why})" for u, why in self.lost)
        what = f"while running unit {names}" if names else "between units (killed, or out of memory)"
        kept = (f"the {len(self.finished)} finished unit(s) are kept in {RunDir(run_dir).results} and the cache"
                if self.finished else "no unit had finished; finished stages are in the cache")
        return f"compare: a worker ended abruptly {what}; {kept}; rerun the same command to resume"


def _ended(code: int | None) -> str:
    """How a worker ended, from its exit code."""
    import signal

    if code is None:
        return "killed, or out of memory"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"{name}: killed, or out of memory" if -code == signal.SIGKILL else f"ended by {name}"
    return f"exit code {code}"


def run_compare(config: CompareConfig, progress: Progress | None = None,
                on_total: Callable[[int], None] | None = None, done: Callable[[Unit], None] | None = None,
                keep: contextlib.ExitStack | None = None) -> Path:
    """Run the comparison and write the run directory; returns its path. Every option is checked
    (``check_config``) before any work, and the run directory is created only after that.

    The run holds the directory's lock (``delbench.store.rundir``) and adds its rows to what the
    directory already holds when that is the same study, or refuses before any work when it is not.
    With ``keep``, the lock stays held until that stack closes (to render tables under it)."""
    with contextlib.ExitStack() as local:
        return _run_compare(config, say=progress or no_progress, on_total=on_total,
                            done=done or (lambda u: None), stack=keep if keep is not None else local)


def _run_compare(config: CompareConfig, say: Progress, on_total: Callable[[int], None] | None,
                 done: Callable[[Unit], None], stack: contextlib.ExitStack) -> Path:
    from delbench.store import rundir
    from delbench.compare.plan import check_config
    from delbench.compare.results import write_results
    from delbench.embed.stage import embed_pool

    checked = check_config(config)
    if config.executor.kind == "slurm":  # before any work: no cluster is one line, not a study half done
        from delbench.compare.slurm import need_sbatch

        need_sbatch(config.executor)
    config = replace(config, params=checked.params)
    protocol, ratios, seeds = config.protocol, checked.ratios, checked.seeds
    tasks = list(checked.tasks) if checked.tasks else None
    run_dir = config.run_dir()
    run_dir.mkdir(parents=True, exist_ok=True)
    stack.enter_context(rundir.own(run_dir))
    previous = rundir.previous_study(run_dir)
    rundir.check_protocol(run_dir, previous, protocol)
    rundir.check_params(run_dir, previous, checked.filled)
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    start = time.perf_counter()
    root = ensure_data(config, say)
    manifest_sha = sha256_file(manifest_path(root))
    rundir.check_data(run_dir, previous, root, manifest_sha)
    say(0.0, "embedding the pool")
    embeddings = embed_pool(root, protocol, config.cache_dir() / "stages",
                            progress=lambda f, m="": say(f, f"embed {m}"))
    counts: dict[str, dict[str, int]] = {}
    select_warnings: list[str] = []
    units = select_all(config, checked.entries, root, embeddings, ratios, seeds, RunDir(run_dir), say, counts,
                       select_warnings, checked.budgets)
    if on_total:
        on_total(len(units))

    def record(outcome: dict[Unit, dict[str, Any]]) -> None:
        for got in outcome.values():
            for stage, tally in got["counts"].items():
                for kind, n in tally.items():
                    counts.setdefault(stage, {"reused": 0, "computed": 0})[kind] += n
        write_results(run_dir, protocol, [u for u in units if u in outcome], outcome, previous=previous, extra={
            "selectors": list(config.selectors), "ratios": list(ratios), "seeds": list(seeds), "tasks": tasks,
            "budgets": list(checked.budgets),
            "params": checked.filled, "overrides": dict(config.overrides), "data_root": str(root),
            "manifest_sha256": manifest_sha, "embeddings": str(embeddings), "cross": config.cross,
            "stages": counts, "select_warnings": select_warnings, "started": started, "wall_seconds": time.perf_counter() - start,
            # as given on the command line, so the report can print the command that reproduces the run
            "protocol_arg": protocol.cli_name(), "data_arg": str(config.data) if config.data else None,
        })

    try:
        outcome = execute(units, config, root, tasks, say, done)
    except DelbenchError as detached:  # --detach: the jobs run on; what finished is kept already
        finished = getattr(detached, "finished", None)
        if finished:
            record(finished)
        raise
    except UnitsLost as lost:
        if lost.finished:  # kept in the run directory too, so its tables show what was done
            record(lost.finished)
        raise DelbenchError(lost.message(run_dir)) from None
    record(outcome)
    return run_dir
