"""How fast this machine runs a protocol's pieces of work, measured in a second or two before a study.

A measurement rather than a recorded table: the same protocol runs at 14 steps/s on an idle core and
at half that beside another job, and no table knows which machine, or which load, a study meets.
Each rate times the code the stages run (the protocol's own networks at its image size and batch,
AdamW steps, forward passes, image decoding) on random data in memory: nothing is written.

The rates are for one single-threaded process, as each worker is (``DELBENCH_THREADS``); the plan
(``delbench.compare.cost``) turns them into a wall time over the study's workers. On a machine shared
with other work, what a worker gets depends on how many processes compete for the CPUs, so on a CPU
the rates are CPU seconds (what the work costs, however busy the machine was while it was timed),
and the calibration counts the other runnable threads while it runs (Linux's ``/proc``), each by its
priority: two workers beside two busy processes of the same priority on two cores get half a core
each, and take twice the CPU seconds in wall time; beside two ``nice -n 19`` jobs they get almost
the whole cores.
"""
from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from delbench.protocol import Protocol

MIN_SECONDS = 0.5  # each rate is timed over at least this long (or MAX_REPEATS repeats)
MAX_REPEATS = 40
DECODE_SAMPLE = 12  # pool images decoded to time decoding
FIT_LABELLED, FIT_VAL = 16, 10  # images of the random task the downstream loop is timed on
FIT_STEPS = (4, 24, 4)  # a short and a long run of it, and the evaluation interval of a third run
# A network whose first pre-training step takes longer (a ViT-B on a CPU) is timed once per piece of
# work, on few images: a calibration of minutes would cost more than the estimate is worth.
HEAVY_STEP_S = 1.0
HEAVY_FIT_STEPS = (1, 3, 1)
# Seconds a spawned worker takes to import torch, the stages and segmentation_models_pytorch when the
# parent cannot time its own import (torch was already loaded): 4.5 s on 2 busy CPU cores.
WORKER_START_S = 4.5
# Seconds to write one megapixel of the synthetic DataDEL (render, PNG-encode, hash), one process:
# `delbench data synth` at the ci and smoke scales on 2 CPU cores (docs/protocols.md).
SYNTH_S_PER_MPIX = 2.0


@dataclass(frozen=True)
class Rates:
    """Seconds per piece of work in one single-threaded process on this machine: CPU seconds on a CPU
    (``slowdown`` turns them into wall seconds), wall seconds on a GPU."""

    pretrain_step: float  # one optimiser step of the protocol's pre-training, data preparation included
    forward_image: float  # what a probe reads (``features``) of one image; also the embedding pass
    predict_image: float  # the whole segmentation network on one image (val and test predictions)
    finetune_step: float  # one step of the downstream loop: the head on cached features when probing
    task_setup: float  # the rest of one task: building the network, one evaluation, its features excluded
    eval_image: float  # one evaluation on val (every ``eval_every`` steps), per val image
    decode_image: float  # decoding and resizing one pool image (0 when no pool is on disk yet)
    worker_start: float  # a worker process starting: Python, torch and the stages imported
    device: str = "cpu"
    others: float = 0.0  # other runnable threads seen while calibrating, weighted by priority against ours
    # each of them as a weight (the reading nearest the mean): a thread runs on one CPU at most, so
    # a heavier one takes a whole CPU and no more
    other_weights: tuple[float, ...] = ()
    cpus: int = 1
    # the random task the downstream rates were timed on: labelled and val images, and the batch
    fit_labelled: int = FIT_LABELLED
    fit_val: int = FIT_VAL
    fit_batch: int = FIT_LABELLED

    def share(self, processes: int) -> float:
        """The share of a CPU each of ``processes`` busy processes of ours gets beside the others:
        the CPUs shared in proportion to the weights, no thread getting more than one CPU."""
        weights = self.other_weights or (1.0,) * round(self.others)
        return fair_share(self.cpus, processes, weights)

    def slowdown(self, processes: int) -> float:
        """Wall seconds per second of a rate, for each of ``processes`` of ours running at once."""
        return 1.0 / self.share(processes) if self.device == "cpu" else 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cpu_count() -> int:
    """The CPUs this process may run on."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# CFS gives a task of nice n a weight of 1024 / 1.25**n: a nice-19 job beside a nice-0 one gets 1.4%
# of a CPU, so it hardly slows a study down and must not count as a whole competitor.
NICE_STEP = 1.25


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _group(proc: str, pid: str) -> tuple[str, int] | None:
    """``pid``'s autogroup and its nice (``/autogroup-286 nice 19``), None without autogroups."""
    text = _read(f"{proc}/{pid}/autogroup")
    parts = text.split() if text else []
    return (parts[0], int(parts[-1])) if len(parts) >= 3 and parts[-2] == "nice" else None


def fair_share(cpus: int, ours: int, weights: tuple[float, ...] | list[float]) -> float:
    """The share of a CPU each of ``ours`` threads of weight 1 gets beside threads of ``weights`` on
    ``cpus`` CPUs: CPU time is shared in proportion to weight, but no thread runs on two CPUs at
    once, so what a heavy thread cannot use goes to the others (water-filling)."""
    if ours + len(weights) <= cpus:
        return 1.0
    lo, hi = 0.0, 1.0 / min([1.0, *[w for w in weights if w > 0]])
    for _ in range(60):  # the level at which the capped shares add up to the CPUs
        level = (lo + hi) / 2
        used = ours * min(1.0, level) + sum(min(1.0, w * level) for w in weights)
        lo, hi = (level, hi) if used < cpus else (lo, level)
    return min(1.0, lo)


def runnable(proc: str = "/proc", me: int | None = None) -> float | None:
    """The other threads running or ready to run on this machine now, each weighted by its share of a
    CPU against this process (``competitors``; None: unknown, no ``/proc``)."""
    found = competitors(proc, me)
    return None if found is None else float(sum(found))


def competitors(proc: str = "/proc", me: int | None = None) -> list[float] | None:
    """The weight of each other thread running or ready to run on this machine now against this
    process (1 for the same priority; None: unknown, no ``/proc``). With autogroups
    (Linux's default on desktops and shells) the CPU is shared between sessions first, by the nice of
    each session's group, so a thread of another session counts by its group's nice."""
    import os

    pid = str(os.getpid() if me is None else me)
    grouped = (_read(f"{proc}/sys/kernel/sched_autogroup_enabled") or "0").strip() == "1"
    my_group = _group(proc, pid) if grouped else None
    mine = _read(f"{proc}/{pid}/stat")
    if mine is None:
        return None
    my_nice = int(mine[mine.rindex(")") + 2:].split()[16])
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit() and p != pid]
    except OSError:
        return None
    found: list[float] = []
    for other in pids:
        try:
            tids = os.listdir(f"{proc}/{other}/task")
        except OSError:
            continue
        group = _group(proc, other) if my_group is not None else None
        for tid in tids:
            stat = _read(f"{proc}/{other}/task/{tid}/stat")
            if not stat:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] != "R":
                continue
            if group is not None and my_group is not None and group[0] != my_group[0]:
                relative = group[1] - my_group[1]  # another session: its group's weight against ours
            else:
                relative = int(fields[16]) - my_nice
            found.append(NICE_STEP ** -relative)
    return found


_samples: list[list[float]] = []


_clock = time.process_time  # CPU seconds on a CPU; ``calibrate`` switches to wall time on a GPU


def _timed(fn: Callable[[], Any], sync: Callable[[], None], warm: bool = True) -> float:
    """Seconds per call of ``fn``: one warm-up call (unless ``warm`` is False), then calls until
    ``MIN_SECONDS`` of wall time have passed (or ``MAX_REPEATS`` calls)."""
    if warm:
        fn()
        sync()
    n, spent, wall = 0, 0.0, time.perf_counter()
    while True:
        start = _clock()
        fn()
        sync()
        spent += _clock() - start
        n += 1
        seen = competitors()  # after the clock stops: reading /proc is not the work's cost
        if seen is not None:
            _samples.append(seen)
        if time.perf_counter() - wall >= MIN_SECONDS or n >= MAX_REPEATS:
            return spent / n


def calibrate(protocol: Protocol, pool_files: list[Path] | None = None) -> Rates:
    """Time the protocol's pieces of work on this machine; ``pool_files``, when given, are a few pool
    images to time decoding on."""
    fresh = "torch" not in sys.modules
    t0 = time.perf_counter()
    # what a worker imports before its first unit ends: torch, the stages, the losses' library
    import segmentation_models_pytorch  # noqa: F401
    import torch

    import delbench.evaluate.finetune  # noqa: F401
    import delbench.pretrain.stage  # noqa: F401
    from delbench.nets.arrays import to_tensor
    from delbench.nets.models import IMAGENET_MEAN, IMAGENET_STD, build_seg_net
    from delbench.pretrain.objectives import build_pretrainer
    from delbench.nets.runtime import autocast, flip_augment, setup, step_generator

    worker_start = time.perf_counter() - t0 if fresh else WORKER_START_S
    _samples.clear()
    pt, ft, network = protocol.pretrain, protocol.finetune, protocol.network()
    dev, _ = setup(pt.device)
    global _clock
    _clock = time.process_time if dev.type == "cpu" else time.perf_counter
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    rng = np.random.default_rng(0)
    size = network.image_size
    images = rng.integers(0, 255, (max(pt.batch_size, 64), size, size, 3), dtype=np.uint8)
    threads = torch.get_num_threads()
    rng_state = torch.get_rng_state()  # the calibration draws from torch's generator: leave it as found
    try:
        model = build_pretrainer(pt).to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=pt.lr, betas=tuple(pt.betas))
        count = iter(range(1 << 30))

        def pretrain_step() -> None:
            gen = step_generator(0, next(count), 0)
            x = to_tensor(images[: pt.batch_size], IMAGENET_MEAN, IMAGENET_STD)
            x, _ = flip_augment(x, gen)
            with autocast(dev):
                loss = model(x.to(dev), gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        start = _clock()
        pretrain_step()  # the warm-up, timed to tell a heavy network
        sync()
        heavy = _clock() - start > HEAVY_STEP_S
        pretrain = _timed(pretrain_step, sync, warm=False)

        net = build_seg_net(network, out_channels=1, head=ft.head, standardize=ft.standardize,
                        levels=ft.probe_levels).to(dev)
        net.eval()
        batch = to_tensor(images[:4 if heavy else 64], IMAGENET_MEAN, IMAGENET_STD).to(dev)
        probing = ft.mode == "probe" and hasattr(net, "features")
        with torch.no_grad():
            forward = _timed(lambda: net.features(batch) if probing else net(batch), sync) / len(batch)
            predict = _timed(lambda: net(batch), sync) / len(batch)
        downstream = _downstream(protocol, dev, images, rng, sync, heavy)
        if not heavy:
            # a second round, a few seconds later: a moment's spike of other work (or of the machine
            # under this one) is not the rate of a run of minutes
            pretrain = min(pretrain, _timed(pretrain_step, sync))
    finally:
        torch.set_rng_state(rng_state)
        torch.set_num_threads(threads)
    others, weights = competing()
    return Rates(pretrain_step=pretrain, forward_image=forward, predict_image=predict, **downstream,
                 decode_image=decode_seconds(pool_files or [], size),
                 worker_start=worker_start, device=dev.type, others=others, other_weights=weights,
                 cpus=cpu_count())


def competing() -> tuple[float, tuple[float, ...]]:
    """Other threads that were running or ready to run while the calibration ran, weighted by their
    priority against this process (``runnable``). Its own share of a CPU would not tell: over a second
    or two the scheduler favours a process that has just woken, so a short calibration gets a whole
    CPU that a long unit does not."""
    if not _samples:
        return 0.0, ()
    totals = [sum(w) for w in _samples]
    mean = float(np.mean(totals))
    nearest = _samples[int(np.argmin([abs(t - mean) for t in totals]))]
    return mean, tuple(sorted(nearest, reverse=True))


def _downstream(protocol: Protocol, dev: Any, images: np.ndarray, rng: np.random.Generator,
                sync: Callable[[], None], heavy: bool) -> dict[str, float]:
    """The fine-tuning loop the evaluate stage runs (``delbench.evaluate.finetune.fit``), timed at two
    lengths and two evaluation intervals on random images: seconds per step, per evaluation on val
    (per val image), and the rest (building the network, the probe's features, one evaluation)."""
    from delbench.evaluate.finetune import fit

    labelled, n_val = (4, 2) if heavy else (FIT_LABELLED, FIT_VAL)
    size = protocol.network().image_size
    pick = rng.integers(0, len(images), labelled + n_val)
    masks = (rng.random((labelled + n_val, size, size)) < 0.2).astype(np.uint8)
    train, val = (images[pick[:labelled]], masks[:labelled]), (images[pick[labelled:]], masks[labelled:])

    def run(steps: int, every: int) -> float:
        p = protocol.with_overrides({"finetune.steps": steps, "finetune.eval_every": every, "finetune.labels": 0})
        start = _clock()
        fit(p, train, val, task="calibration", state=None, seed=0, dev=dev)
        sync()
        seen = competitors()
        if seen is not None:
            _samples.append(seen)
        return _clock() - start

    short, long, every = HEAVY_FIT_STEPS if heavy else FIT_STEPS
    run(1, 1)  # first-call costs (lazy initialisation, the losses' library) are the worker start's
    once = run(short, short)
    longer = run(long, long)
    evaluated = run(long, every)
    step = max(0.0, (longer - once) / (long - short))
    evaluation = max(0.0, (evaluated - longer) / (long // every - 1))
    return {"finetune_step": step, "eval_image": evaluation / n_val,
            "task_setup": max(0.0, once - short * step - evaluation), "fit_labelled": labelled, "fit_val": n_val,
            "fit_batch": min(protocol.finetune.batch_size, labelled)}



def decode_seconds(files: list[Path], size: int) -> float:
    """CPU seconds to decode and resize one of ``files`` (their median), 0 without files."""
    from delbench.data.decode import BadFile, resized_rgb

    times = []
    for path in files[:DECODE_SAMPLE]:
        start = time.process_time()
        try:
            resized_rgb(path, size)
        except BadFile:
            continue  # the stage that decodes it reports it; a plan only needs a rate
        times.append(time.process_time() - start)
    return float(np.median(times)) if times else 0.0
