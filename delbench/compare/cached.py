"""What the cache already holds of a study, read by the stages' own keys before any of them runs.

A key is computed only from inputs that exist: the subsets of a select stage that has not run are
unknown, so the pre-training runs they define are counted as to do; a pre-training that has not
finished has no weights, so its evaluations are too. Reading never creates, locks or writes anything.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from delbench.compare.plan import Checked, CompareConfig
from delbench.references import FULL, SCRATCH
from delbench.store.cache import is_done


@dataclass(frozen=True)
class UnitState:
    """One unit of the study and what of it is cached."""

    selector: str
    ratio: float
    seed: int
    pretrain: str | None  # the pre-training stage it needs (a path, or a name while its subset is unknown)
    start: int  # the step that pre-training would start from (``steps`` when it is cached)
    tasks_cached: int
    budget: float = 1.0


@dataclass(frozen=True)
class Holdings:
    units: tuple[UnitState, ...]
    embedded: bool
    select_stages: int
    select_cached: int
    arrays_missing: tuple[int, ...]  # image sizes whose pool array is not decoded yet
    task_images_missing: int = 0  # task images and masks not decoded yet at the network's size
    embed_run: str | None = None  # the pre-training the ``pool`` embedder needs (full, the protocol's first seed)
    embed_start: int = 0  # the step it would start from


def checkpoint_step(work: Path) -> int:
    """The step of the newest complete training checkpoint in ``work`` (0: none)."""
    from delbench.nets.checkpoint import latest

    last = latest(work) if work.is_dir() else None
    return int(json.loads(last.with_suffix(".json").read_text())["step"]) if last is not None else 0


def holdings(config: CompareConfig, checked: Checked, root: Path, frame: Any, tasks: list[str]) -> Holdings:
    """The study's units in the order ``compare`` submits them, each with what the cache holds."""
    from delbench.compare.runner import select_dir, select_key
    from delbench.data.manifest import manifest_path, pool_rows, task_rows
    from delbench.embed.settings import embed_image_size
    from delbench.embed.stage import embeddings_path
    from delbench.evaluate.stage import finetuned_dir
    from delbench.nets.arrays import array_path
    from delbench.pretrain.stage import stage_dir, work_dir
    from delbench.select.subset import read_subset
    from delbench.store.atomic import sha256_file

    protocol, cache = config.protocol, config.cache_dir()
    stages = cache / "stages"
    pool = pool_rows(frame)
    n_pool = len(pool)

    # a cluster unit pre-trains as one DDP run of gpus_per_unit ranks, and the world size is in its key
    world = protocol.resources.gpus_per_unit if config.executor.kind != "local" else 1

    def pretrain_state(subset: np.ndarray | None, seed: int, budget: float = 1.0) -> tuple[str, int, Path | None]:
        where = stage_dir(root, protocol, stages, subset, seed, world, budget)
        if is_done(where):
            return str(where), protocol.budget_steps(n_pool, budget), where / "weights.safetensors"
        return str(where), checkpoint_step(work_dir(where)), None

    def evaluated(checkpoint: Path | None, seed: int) -> int:
        return sum(is_done(finetuned_dir(root, protocol, stages, checkpoint=checkpoint, task=t, seed=seed)) for t in tasks)

    weights: Path | None = None
    known = True
    embedder = protocol.embed.embedder
    embed_run, embed_start = None, 0
    if embedder == "pool":
        embed_run, embed_start, weights = pretrain_state(None, protocol.seeds[0])
        known = weights is not None
    elif embedder.startswith("timm:") and protocol.embed.weights:
        weights = Path(protocol.embed.weights)
    embeddings = embeddings_path(root, protocol, stages, weights) if known else None
    embedded = embeddings is not None and is_done(embeddings.parent)

    subsets: dict[tuple[str, int], dict[float, np.ndarray]] = {}
    select_cached = 0
    if embedded:
        assert embeddings is not None
        emb_sha, pool_sha = sha256_file(embeddings), sha256_file(manifest_path(root))
        for sel in config.selectors:
            implementation = checked.entries[sel].implementation()
            for seed in checked.seeds:
                key = select_key(sel, implementation, checked.params.get(sel, {}), emb_sha, seed, checked.ratios, pool_sha)
                where = select_dir(cache, key)
                if is_done(where):
                    select_cached += 1
                    subsets[sel, seed] = {r: read_subset(where / f"r{r:g}.npy")[0] for r in checked.ratios}

    # in the order delbench.compare.runner.select_all makes the units: budget by budget, then the references
    units = []
    for b in checked.budgets:
        for sel in config.selectors:
            for seed in checked.seeds:
                for r in checked.ratios:
                    idx = subsets.get((sel, seed), {}).get(r)
                    whole = idx.size == n_pool if idx is not None else r == 1.0
                    if idx is None and not whole:
                        units.append(UnitState(sel, float(r), seed, f"{sel} R={r:g}{_at(b)} seed {seed}", 0, 0, b))
                        continue
                    name, start, ckpt = pretrain_state(None if whole else idx, seed, b)
                    units.append(UnitState(sel, float(r), seed, name, start, evaluated(ckpt, seed) if ckpt else 0, b))
    for seed in checked.seeds:
        for b in checked.budgets:
            name, start, ckpt = pretrain_state(None, seed, b)
            units.append(UnitState(FULL, 1.0, seed, name, start, evaluated(ckpt, seed) if ckpt else 0, b))
        units.append(UnitState(SCRATCH, 0.0, seed, None, 0, evaluated(None, seed)))

    sizes = {protocol.pretrain.image_size}
    if not embedded:
        sizes.add(embed_image_size(protocol))
    missing = tuple(sorted(s for s in sizes if not array_path(pool, s, stages).is_file()))
    size = protocol.network().image_size
    undecoded = 0
    for task in tasks:
        for split in ("train", "val", "test"):
            rows = task_rows(frame, task, split)
            undecoded += sum(len(rows) for column in ("path", "mask_path")
                             if len(rows) and not array_path(rows, size, stages, column=column).is_file())
    return Holdings(tuple(units), embedded, len(config.selectors) * len(checked.seeds), select_cached, missing, undecoded,
                    embed_run, embed_start)


def fresh(config: CompareConfig, checked: Checked) -> Holdings:
    """The units of a study on data not generated yet: nothing of it can be cached."""
    units = []
    for b in checked.budgets:
        for sel in config.selectors:
            for seed in checked.seeds:
                units += [UnitState(sel, float(r), seed, f"{FULL}{_at(b)} seed {seed}" if r == 1.0
                                    else f"{sel} R={r:g}{_at(b)} seed {seed}", 0, 0, b) for r in checked.ratios]
    for seed in checked.seeds:
        units += [UnitState(FULL, 1.0, seed, f"{FULL}{_at(b)} seed {seed}", 0, 0, b) for b in checked.budgets]
        units.append(UnitState(SCRATCH, 0.0, seed, None, 0, 0))
    from delbench.embed.settings import embed_image_size

    protocol = config.protocol
    sizes = {protocol.pretrain.image_size, embed_image_size(protocol)}
    embed_run = f"{FULL} seed {protocol.seeds[0]}" if protocol.embed.embedder == "pool" else None
    return Holdings(tuple(units), False, len(config.selectors) * len(checked.seeds), 0, tuple(sorted(sizes)),
                    embed_run=embed_run)


def _at(budget: float) -> str:
    """How a pre-training not known yet is named at a budget (runs of two budgets are two runs)."""
    return "" if budget == 1.0 else f" budget {budget:g}"
