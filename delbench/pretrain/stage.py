"""Pre-training under equal compute: every ratio runs ``epochs_at_full * N_pool / batch`` optimiser
steps on its kept subset (so a 5% subset sees each image 20x as often as the full pool does). A
budget (``compare --budgets``) scales those steps for every ratio alike, with its own learning-rate
schedule over the shorter (or longer) run.

The result lives in ``<cache>/pretrain/<hash>/`` (hash of manifest, subset, pretrain config, seed and
world size): ``weights.safetensors`` (the final weights, segmentation-network names), ``meta.json``
and ``intermediate/step_<n>.safetensors`` for the early-stopping study. While running, training
checkpoints (model + optimiser + RNG) go to ``<hash>.work/`` every ``checkpoint_every`` steps; a
rerun resumes from the newest, and because each step's data and masks depend only on (seed, step,
rank), the resumed run ends with the same weights as an uninterrupted one; ``meta.json`` records
the step it resumed from under ``resumed_from``. A process that finds another one training the same
stage (its lock, ``<hash>.lock``) waits for it and reuses the result.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from delbench.store.cache import build_stage, config_hash, is_done, stage_lock
from delbench.data.manifest import manifest_sha256, pool_rows, read_manifest
from delbench.errors import DelbenchError
from delbench.progress import Progress
from delbench.references import FULL

CODE_VERSION = 1


@dataclass(frozen=True)
class PretrainResult:
    checkpoint: Path
    steps: int
    seconds: float
    intermediate: list[Path] = field(default_factory=list)
    directory: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    reused: bool = False  # found already built (by an earlier run or a process this one waited for)


def _subset_key(subset: np.ndarray | None, n_pool: int) -> str:
    if subset is None:
        return FULL
    arr = np.asarray(subset, dtype=np.int64)
    if arr.ndim != 1 or arr.size == 0 or arr.min() < 0 or arr.max() >= n_pool or np.unique(arr).size != arr.size:
        raise DelbenchError(f"subset must hold unique pool indices in [0, {n_pool}); got {arr.size} items")
    return hashlib.sha256(np.sort(arr).tobytes()).hexdigest()[:16]


def stage_config(root: Path, protocol: Any, subset: np.ndarray | None, seed: int, world: int = 1,
                 budget: float = 1.0) -> dict[str, Any]:
    n_pool = len(pool_rows(read_manifest(root)))
    recipe = asdict(protocol.pretrain)
    # A cap that does not shorten the run leaves it the run it was without one, cached under the
    # same key; one that does, or a budget other than 1, is keyed by the steps it leaves. Budget 1 so
    # keeps the key it had before budgets existed, and two ways to the same steps share one run.
    recipe.pop("max_steps")
    config = {
        "stage": "pretrain", "code": CODE_VERSION, "manifest": manifest_sha256(root),
        "subset": _subset_key(subset, n_pool), "n_pool": n_pool, "pretrain": recipe,
        "seed": int(seed), "world": int(world),
    }
    steps = protocol.budget_steps(n_pool, budget)
    if steps != protocol.uncapped_steps(n_pool):
        config["steps"] = steps
    return config


def stage_dir(root: Path, protocol: Any, cache_dir: Path, subset: np.ndarray | None, seed: int, world: int = 1,
              budget: float = 1.0) -> Path:
    """Where the pre-training of ``subset`` under ``seed`` at ``budget`` is (or will be) cached."""
    return Path(cache_dir) / "pretrain" / config_hash(stage_config(root, protocol, subset, seed, world, budget))


def work_dir(stage: Path) -> Path:
    """The training checkpoints of a stage still being built, beside it."""
    return stage.with_name(stage.name + ".work")


def _result(out: Path, reused: bool = False) -> PretrainResult:
    meta = json.loads((out / "meta.json").read_text())
    inter = sorted((out / "intermediate").glob("step_*.safetensors"))
    return PretrainResult(out / "weights.safetensors", meta["steps"], meta["seconds"], inter, out, meta, reused)


def pretrain(root: Path, protocol: Any, cache_dir: Path, *, subset: np.ndarray | None, seed: int,
             progress: Progress | None = None, stop_after: int | None = None, budget: float = 1.0) -> PretrainResult:
    """Pre-train on ``subset`` (pool indices; ``None`` = 100% of the pool), cached and resumable, for
    ``budget`` times the protocol's steps (``Protocol.budget_steps``).

    ``stop_after`` ends the run after that many total steps without finishing the stage (used to test
    that an interrupted run resumes exactly); the returned result then points at the last checkpoint.
    """
    from delbench.nets.runtime import barrier, setup

    root, cache_dir = Path(root), Path(cache_dir)
    dev, dist = setup(protocol.pretrain.device)
    config = stage_config(root, protocol, subset, seed, dist.world, budget)
    out = Path(cache_dir) / "pretrain" / config_hash(config)
    if is_done(out):
        return _result(out, reused=True)
    # One process trains a stage (and owns its work directory) at a time; another one that wants the
    # same stage waits, then reuses it. Under torchrun only rank 0 takes the lock: the other ranks wait
    # at the barrier until it holds it, so every rank then sees the same answer to is_done.
    with stage_lock(out) if dist.main else contextlib.nullcontext():
        barrier(dist)
        if is_done(out):
            return _result(out, reused=True)
        return _train(root, protocol, cache_dir, subset, seed, config, out, dev, dist, progress, stop_after, budget)


def _train(root: Path, protocol: Any, cache_dir: Path, subset: np.ndarray | None, seed: int, config: dict[str, Any],
           out: Path, dev: Any, dist: Any, progress: Progress | None, stop_after: int | None,
           budget: float = 1.0) -> PretrainResult:
    import torch

    from delbench.nets import checkpoint as ck
    from delbench.nets.arrays import image_array, to_tensor
    from delbench.nets.models import IMAGENET_MEAN, IMAGENET_STD
    from delbench.pretrain.objectives import build_pretrainer
    from delbench.nets.runtime import autocast, barrier, epoch_indices, flip_augment, step_generator
    from delbench.nets.schedule import lr_at, set_lr

    pt = protocol.pretrain
    work = work_dir(out)
    work.mkdir(parents=True, exist_ok=True)

    pool = pool_rows(read_manifest(root))
    items = np.arange(len(pool)) if subset is None else np.sort(np.asarray(subset, dtype=np.int64))
    images = image_array(root, pool, pt.image_size, cache_dir, progress=progress) if dist.main else None
    barrier(dist)
    if images is None:
        images = image_array(root, pool, pt.image_size, cache_dir)
    total = protocol.budget_steps(len(pool), budget)  # the schedule below runs over these steps
    if pt.batch_size % dist.world:
        raise DelbenchError(f"[pretrain] batch_size {pt.batch_size} must be divisible by the {dist.world} processes")
    local = pt.batch_size // dist.world

    torch.manual_seed(seed)
    model = build_pretrainer(pt).to(dev)
    if dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": pt.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=pt.lr, betas=tuple(pt.betas))
    start = 0
    last = ck.latest(work)
    if last is not None:
        start = ck.load_training(last, model, opt)
    meta_path = work / "elapsed.json"
    elapsed = json.loads(meta_path.read_text())["seconds"] if meta_path.is_file() and start else 0.0
    train_model: torch.nn.Module = model
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        train_model = DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None)

    keep_steps = {max(1, int(round(f * total))) for f in pt.intermediate}
    end = total if stop_after is None else min(total, stop_after)
    t0 = time.perf_counter()
    model.train()
    for step in range(start, end):
        set_lr(opt, lr_at(step, total, pt.lr, pt.warmup_frac, pt.min_lr_frac))
        picks = items[epoch_indices(len(items), pt.batch_size, step, seed)]
        mine = np.sort(picks[dist.rank * local:(dist.rank + 1) * local])
        gen = step_generator(seed, step, dist.rank)
        x = to_tensor(images[mine], IMAGENET_MEAN, IMAGENET_STD)
        x, _ = flip_augment(x, gen)
        x = x.to(dev, non_blocking=True)
        if dev.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(dev):
            loss = train_model(x, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done = step + 1
        if not torch.isfinite(loss):
            raise DelbenchError(f"pre-training diverged at step {done} (loss {loss.item()}); lower [pretrain] lr")
        if dist.main and done in keep_steps:
            ck.save_weights(work / "intermediate" / f"step_{done:07d}.safetensors", model.state_dict())
        if dist.main and (done % pt.checkpoint_every == 0 or done == end):
            ck.save_training(work / f"step_{done:07d}", model, opt, done)
            from delbench.store.atomic import write_json

            write_json(meta_path, {"seconds": elapsed + time.perf_counter() - t0})
            for old in sorted(work.glob("step_*.json"))[:-1]:
                old.unlink(missing_ok=True)
                old.with_suffix(".safetensors").unlink(missing_ok=True)
        if progress and (done % 10 == 0 or done == end):
            progress(done / total, f"step {done}/{total} loss {loss.item():.4f}")
    seconds = elapsed + time.perf_counter() - t0
    barrier(dist)
    if end < total:
        return PretrainResult(work / f"step_{end:07d}.safetensors", end, seconds, [], work, {"interrupted": True})
    if dist.main:
        with build_stage(out, config) as tmp:
            ck.save_weights(tmp / "weights.safetensors", _seg_state(model))
            (tmp / "intermediate").mkdir()
            for f in sorted((work / "intermediate").glob("*.safetensors")):
                ck.save_weights(tmp / "intermediate" / f.name, _seg_state_dict(ck.load_weights(f)))
            from delbench.store.atomic import write_json

            write_json(tmp / "meta.json", {
                "steps": total, "seconds": seconds, "n_items": int(items.size), "n_pool": len(pool),
                "seed": seed, "world": dist.world, "device": dev.type, "config": config,
                "images_per_step": pt.batch_size, "final_loss": float(loss.item()) if end > start else None,
                "resumed_from": start,  # the checkpoint step this process continued from (0: from scratch)
            })
        shutil.rmtree(work, ignore_errors=True)
    barrier(dist)
    return _result(out)


def _seg_state(model: Any) -> dict[str, Any]:
    return _seg_state_dict(model.state_dict())


def _seg_state_dict(state: dict[str, Any]) -> dict[str, Any]:
    from delbench.nets.models import transferable

    return transferable(state)
