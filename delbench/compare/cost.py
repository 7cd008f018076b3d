"""What a study will cost, said before it starts: its units (pre-training runs and evaluations), the
steps of each, what the cache already holds, and an estimated wall time on this machine.

The plan reads the cache the way the stages will, by their keys, without computing any of them: the
embeddings, subsets and checkpoints a key needs are read where they exist, and a stage whose key
cannot be known yet (its inputs not computed) is counted as work to do. Nothing is written.

The estimate is the sum of measured rates (``delbench.compare.calibrate``) over that work: the
sequential part (data, decoding, embedding) in this process, then the units over the workers, each
unit taken by the next free worker in the order ``compare`` submits them, as its process pool does.
Selection is counted but not timed (a plugin's cost is its own; the built-in selectors take seconds
on pools of 10k frames, docs/protocols.md).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from delbench.compare.calibrate import SYNTH_S_PER_MPIX, Rates
from delbench.compare.plan import Checked, CompareConfig
from delbench.protocol import Protocol

# Seconds to write the results and draw the tables after the units (recorded on 2 CPU cores); the
# plots and the report's galleries add about a second per (selector, ratio) drawn.
RENDER_S = 2.0
PLOT_S_PER_CELL = 1.0


@dataclass(frozen=True)
class TaskSize:
    """A downstream task as its evaluation costs it: labelled train images, val and test images."""

    name: str
    labelled: int
    val: int
    test: int


@dataclass(frozen=True)
class PlannedUnit:
    """One pre-train + evaluate unit as the plan sees it."""

    selector: str
    ratio: float
    seed: int
    steps: int  # its pre-training's optimiser steps (0: scratch)
    start: int  # the step its pre-training starts from: 0, a checkpoint's, or ``steps`` when cached
    trains: str | None  # which pre-training it runs (None: none); units that share one name the same
    tasks: int
    tasks_cached: int
    seconds: float  # estimated, on one worker, as if it ran first
    budget: float = 1.0  # the share of the protocol's steps its pre-training runs


@dataclass(frozen=True)
class Plan:
    protocol: Protocol
    pool_frames: int
    on_disk: bool  # False: the synthetic DataDEL is generated first
    tasks: tuple[TaskSize, ...]
    units: tuple[PlannedUnit, ...]
    select_stages: int
    select_cached: int
    before: tuple[tuple[str, float], ...]  # work done in this process before the units: (what, seconds)
    after: float  # results, tables, plots
    workers: int
    units_seconds: float  # wall time of the units over the workers
    rates: Rates

    @property
    def seconds(self) -> float:
        return sum(s for _, s in self.before) + self.units_seconds + self.after

    def pretraining(self) -> dict[str, tuple[int, int]]:
        """Each distinct pre-training run: (steps, start step)."""
        out: dict[str, tuple[int, int]] = {}
        for u in self.units:
            if u.trains is not None:
                out.setdefault(u.trains, (u.steps, u.start))
        return out

    def unit_seconds(self) -> dict[tuple[str, float, int, float], float]:
        """Each unit's estimated seconds, by (selector, ratio, seed, budget): the weights of a progress bar."""
        return {(u.selector, u.ratio, u.seed, u.budget): u.seconds for u in self.units}


def duration(seconds: float) -> str:
    """``45 s``, ``3 min 20 s``, ``2 h 5 min``, ``259 days``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"
    if s < 4 * 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s / 86400:,.0f} days"


def task_sizes_of(frame: Any, names: Iterable[str], labels: int) -> tuple[TaskSize, ...]:
    rows = frame[frame["role"] == "task"]
    out = []
    for name in names:
        split = rows.loc[rows["task"] == name, "split"].value_counts()
        train = int(split.get("train", 0))
        out.append(TaskSize(name, min(labels, train) if labels else train, int(split.get("val", 0)),
                            int(split.get("test", 0))))
    return tuple(out)


def synthetic_sizes(protocol: Protocol, names: Iterable[str]) -> tuple[int, tuple[TaskSize, ...], float]:
    """Pool frames, task sizes and megapixels of a synthetic DataDEL not yet generated, from its scale."""
    from delbench.data.synth.generate import get_scale
    from delbench.data.synth.tasks import SPLIT_FRACTIONS, TASKS, task_shape

    scale = get_scale(protocol.data.scale)
    share = dict(SPLIT_FRACTIONS)
    n = scale.task_images
    train = round(share["train"] * n)
    labels = protocol.finetune.labels
    sizes = tuple(TaskSize(t, min(labels, train) if labels else train, round(share["val"] * n), round(share["test"] * n))
                  for t in names)
    pixels = scale.pool_frames * scale.pool_px ** 2
    pixels += sum(2 * n * h * w for h, w in (task_shape(spec, scale.task_factor) for spec in TASKS))
    return scale.pool_frames, sizes, pixels / 1e6


def evaluation_seconds(protocol: Protocol, task: TaskSize, rates: Rates) -> float:
    """One task's fine-tuning, selection on val and test, from the rates (which were timed on a random
    task of ``rates.fit_labelled`` labelled and ``rates.fit_val`` val images, evaluated once)."""
    ft = protocol.finetune
    evals = -(-ft.steps // ft.eval_every)
    batch = min(ft.batch_size, max(1, task.labelled)) / rates.fit_batch  # a step's cost follows its batch
    seconds = (rates.task_setup + ft.steps * rates.finetune_step * batch
               + (evals * task.val - rates.fit_val) * rates.eval_image + task.test * rates.predict_image)
    if ft.mode == "probe":
        # features of the labelled images under four flips and of val, once; the head then reads them
        seconds += (4 * (task.labelled - rates.fit_labelled) + task.val - rates.fit_val) * rates.forward_image
    return max(seconds, rates.task_setup)


def schedule(units: list[PlannedUnit], workers: int, start: float) -> float:
    """Wall time of ``units`` over ``workers``, each taken by the next free worker in order. A unit whose
    pre-training another unit runs waits for that one (the stage lock), then reuses it."""
    free = [start] * max(1, workers)
    finished: dict[str, float] = {}
    end = 0.0
    for u in units:
        i = min(range(len(free)), key=free.__getitem__)
        begin = free[i]
        if u.trains is not None and u.trains in finished and u.seconds == 0.0:
            done = max(begin, finished[u.trains])
        else:
            done = begin + u.seconds
            if u.trains is not None:
                finished.setdefault(u.trains, done)
        free[i] = done
        end = max(end, done)
    return end




def plan_study(config: CompareConfig, checked: Checked, rates: Rates | None = None, *, plots: bool = False) -> Plan:
    """The plan of a checked study, and its estimate; ``rates`` measured now unless given. ``plots``:
    the run draws plots and galleries after the units."""
    from delbench.compare.cached import fresh, holdings
    from delbench.compare.calibrate import calibrate, decode_seconds
    from delbench.compare.runner import synthetic_root
    from delbench.data.manifest import manifest_path, pool_rows, read_manifest, task_rows

    protocol = config.protocol
    root = Path(config.data) if config.data is not None else synthetic_root(config)
    on_disk = manifest_path(root).is_file()
    wanted = list(checked.tasks) if checked.tasks else None
    if on_disk:
        from delbench.evaluate.stage import resolve_tasks

        frame = read_manifest(root, check_paths=False)
        names = resolve_tasks(frame, protocol, wanted, root)
        tasks = task_sizes_of(frame, names, protocol.finetune.labels)
        held = holdings(config, checked, root, frame, names)
        pool = pool_rows(frame)
        n_pool, mpix = len(pool), 0.0
        pool_files = [root / p for p in _spread(pool["path"].astype(str).tolist())]
        task_files = [root / p for p in _spread(task_rows(frame)["path"].astype(str).tolist())]
    else:
        from delbench.data.synth.tasks import TASKS

        names = wanted or list(protocol.tasks.names) or [t.name for t in TASKS if t.name not in protocol.tasks.exclude]
        n_pool, tasks, mpix = synthetic_sizes(protocol, names)
        held = fresh(config, checked)
        pool_files, task_files = [], []
    if rates is None:
        rates = calibrate(protocol, pool_files)
    task_decode = decode_seconds(task_files, protocol.network().image_size)
    steps = protocol.pretrain_steps(n_pool)
    workers = max(1, min(config.jobs, len(held.units)))
    slower = rates.slowdown(workers)

    before: list[tuple[str, float]] = []
    if not on_disk:
        from delbench.data.synth.generate import get_scale

        procs = 1 if get_scale(protocol.data.scale).pool_frames < 1000 else max(1, min(4, os.cpu_count() or 1))
        before.append(("generating the synthetic DataDEL", mpix * SYNTH_S_PER_MPIX / procs))
    alone = rates.slowdown(1)  # this process, before the workers start
    if held.arrays_missing:
        before.append((f"decoding {n_pool:,} pool images", len(held.arrays_missing) * n_pool * rates.decode_image * alone))
    if held.task_images_missing:
        before.append((f"decoding {held.task_images_missing:,} task images", held.task_images_missing * task_decode * alone))
    ready: set[str] = set()  # pre-training runs done before the units (by the embed stage)
    if not held.embedded:
        embed = 0.0
        if held.embed_run is not None:
            embed += (steps - held.embed_start) * rates.pretrain_step
            ready.add(held.embed_run)
        if protocol.embed.embedder == "ssl":
            embed += ssl_seconds(protocol, rates)
        if protocol.embed.embedder not in ("thumb", "phash"):  # those two run no network
            embed += n_pool * rates.forward_image
        before.append((f"embedding the pool ({protocol.embed.embedder})", embed * alone))

    per_task = sum(evaluation_seconds(protocol, t, rates) for t in tasks) / max(1, len(tasks))
    units: list[PlannedUnit] = []
    claimed: set[str] = set()  # runs an earlier unit does: a later unit of the same run waits, then reuses it
    for u in held.units:
        seconds = 0.0
        unit_steps = protocol.budget_steps(n_pool, u.budget)  # each budget its own runs
        if u.pretrain is None or u.pretrain not in claimed:
            if u.pretrain is not None:
                claimed.add(u.pretrain)
                if u.pretrain not in ready:
                    seconds += (unit_steps - u.start) * rates.pretrain_step
            seconds += (len(tasks) - u.tasks_cached) * per_task
        units.append(PlannedUnit(u.selector, u.ratio, u.seed, unit_steps if u.pretrain is not None else 0, u.start,
                                 u.pretrain, len(tasks), u.tasks_cached, seconds * slower, u.budget))
    startup = rates.worker_start if workers > 1 and any(u.seconds for u in units) else 0.0
    units_seconds = schedule(units, workers, startup)
    cells = len(config.selectors) * len(checked.ratios) * len(checked.budgets)  # each budget draws its own
    after = RENDER_S + (PLOT_S_PER_CELL * cells if plots else 0.0)
    return Plan(protocol, n_pool, on_disk, tasks, tuple(units), held.select_stages, held.select_cached, tuple(before),
                after, workers, units_seconds, rates)


def _spread(items: list[str], n: int = 12) -> list[str]:
    """``n`` items spread over the list, so a sample covers every source of a merged root."""
    if len(items) <= n:
        return items
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


def ssl_seconds(protocol: Protocol, rates: Rates) -> float:
    """A rough price of the ``ssl`` embedder's training: each step a forward and backward pass (about
    three forwards) over two views of a batch, each view priced as one forward of the protocol's
    network scaled by pixel count (the calibration times no other network)."""
    from delbench.embed.settings import embed_image_size, ssl_settings
    from delbench.embed.ssl import BATCH

    pixels = (embed_image_size(protocol) / protocol.pretrain.image_size) ** 2
    return ssl_settings(protocol)["ssl_steps"] * 3 * 2 * BATCH * pixels * rates.forward_image
