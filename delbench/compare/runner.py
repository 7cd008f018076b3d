"""``delbench compare``: data -> embed -> (select -> pretrain -> evaluate -> score) per selector x
ratio x seed, sharing what is shared (the embeddings, the ``full`` and ``scratch`` references, any
identical subset), every stage cached by the hash of its inputs so a rerun only does what is missing."""
from __future__ import annotations

import shutil
import time
from dataclasses import asdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable

import numpy as np

from delbench.atomic import sha256_file
from delbench.cache import build_stage, config_hash, is_done
from delbench.compare.plan import CompareConfig, Unit
from delbench.data.manifest import pool_rows, read_manifest
from delbench.errors import DelbenchError
from delbench.subset import read_subset, subset_paths

Progress = Callable[[str, float], None]


def ensure_data(config: CompareConfig, protocol: Any, progress: Progress) -> Path:
    """The dataset root: ``--data``, or the synthetic default generated once into the cache."""
    if config.data is not None:
        root = Path(config.data)
        if not (root / "manifest.parquet").is_file():
            raise DelbenchError(f"--data {root}: no manifest.parquet there; create it with `delbench data import`")
        return root
    from delbench.data.synth import generate
    from delbench.data.synth.generate import SYNTH_VERSION, get_scale

    # the scale's settings and the generator version name the root, so a changed scale is regenerated
    spec = config_hash({"scale": asdict(get_scale(protocol.data.scale)), "version": SYNTH_VERSION}, 8)
    root = config.cache_dir() / "data" / f"synthetic-{protocol.data.scale}-seed{protocol.data.seed}-{spec}"
    if not (root / "manifest.parquet").is_file():
        progress(f"generating synthetic DataDEL ({protocol.data.scale})", 0.0)
        generate(root, scale=protocol.data.scale, seed=protocol.data.seed)
    return root


def select_key(selector: str, implementation: dict[str, str], params: dict[str, Any], embeddings_sha: str,
               seed: int, ratios: tuple[float, ...]) -> dict[str, Any]:
    """The select stage's cache key. ``implementation`` (``Entry.implementation()``) is part of it: the
    same name from another plugin, another version or an edited source must not get the old subsets."""
    return {"selector": selector, "implementation": implementation, "params": params, "embeddings": embeddings_sha,
            "seed": seed, "ratios": list(ratios)}


def select_all(config: CompareConfig, root: Path, embeddings: Path, ratios: tuple[float, ...],
               seeds: tuple[int, ...], run_dir: Path, progress: Progress) -> list[Unit]:
    """Run every selector once per seed for all ratios (one pass where it can), cached; copy the
    subsets into the run directory, and return the pre-train units they define."""
    from delbench.plugins import get_plugins
    from delbench.select_stage import run_select

    pool = pool_rows(read_manifest(root))
    sizes = np.array([(root / p).stat().st_size for p in pool["path"]], dtype=np.int64)
    emb_sha = sha256_file(embeddings)
    registry = get_plugins().selectors
    units = []
    for sel in config.selectors:
        implementation = registry.get(sel).implementation()  # once per selector: it hashes source files
        for seed in seeds:
            params = config.params.get(sel, {})
            key = select_key(sel, implementation, params, emb_sha, seed, ratios)
            stage = config.cache_dir() / "stages" / "select" / config_hash(key)
            if not is_done(stage):
                progress(f"select {sel} seed {seed}", 0.0)
                with build_stage(stage, key) as tmp:
                    run_select(sel, embeddings=embeddings, ratios=ratios, seed=seed, params=params,
                               outputs=[tmp / f"r{r:g}.npy" for r in ratios], pool_manifest=root / "manifest.parquet",
                               progress=lambda f, m, s=sel: progress(f"select {s} {m}", f))
            dest = run_dir / "subsets" / sel / f"seed{seed}"
            dest.mkdir(parents=True, exist_ok=True)
            for r in ratios:
                for src in subset_paths(stage / f"r{r:g}.npy"):
                    if src.exists():
                        shutil.copyfile(src, dest / src.name)
                idx, meta = read_subset(stage / f"r{r:g}.npy")
                full = idx.size == len(pool)
                units.append(Unit(sel, float(r), float(meta["ratio_achieved"]), seed, None if full else dest / f"r{r:g}.npy",
                                  True, float(meta["seconds"]), int(sizes[idx].sum())))
    total = int(sizes.sum())
    for seed in seeds:
        units.append(Unit("full", 1.0, 1.0, seed, None, True, 0.0, total))
        units.append(Unit("scratch", 0.0, 0.0, seed, None, False, 0.0, 0))
    return units


def run_unit(root: str, protocol_ref: str, cache: str, unit: Unit, tasks: list[str] | None,
             cross: bool, progress: Progress | None = None) -> dict[str, Any]:
    """Pre-train (unless scratch) and evaluate one unit; importable top-level so worker processes can run it."""
    from delbench.protocol import load_protocol
    from delbench.train.evaluate import evaluate
    from delbench.train.pretrain import pretrain

    say = progress or (lambda message, fraction: None)
    protocol = load_protocol(protocol_ref)
    stages = Path(cache) / "stages"
    checkpoint, steps, seconds = None, 0, 0.0
    if unit.pretrain:
        subset = np.load(unit.subset) if unit.subset is not None else None
        result = pretrain(Path(root), protocol, stages, subset=subset, seed=unit.seed,
                          progress=lambda f, m="": say(f"pretrain {unit.selector} R={unit.ratio_target:g} s{unit.seed} {m}", f))
        checkpoint, steps, seconds = result.checkpoint, int(result.steps), float(result.seconds)
    rows = evaluate(Path(root), protocol, stages, checkpoint=checkpoint, seed=unit.seed, tasks=tasks,
                    progress=lambda f, m="": say(f"evaluate {unit.selector} R={unit.ratio_target:g} s{unit.seed} {m}", f))
    out: dict[str, Any] = {"rows": rows, "pretrain_steps": steps, "pretrain_seconds": seconds}
    if cross:
        from delbench.train.crossdata import cross_dataset

        out["cross"] = cross_dataset(Path(root), protocol, stages, checkpoint=checkpoint, seed=unit.seed, tasks=tasks).to_dict("records")
    return out


def execute(units: list[Unit], config: CompareConfig, root: Path, tasks: list[str] | None,
            progress: Progress, done: Callable[[Unit], None]) -> dict[Unit, dict[str, Any]]:
    """Run units in-process (jobs=1) or in ``jobs`` worker processes; each trains single-threaded
    (``DELBENCH_THREADS``), so results do not depend on ``jobs``."""
    out: dict[Unit, dict[str, Any]] = {}
    args = (str(root), config.protocol, str(config.cache_dir()))
    if config.jobs <= 1:
        for unit in units:
            out[unit] = run_unit(*args, unit, tasks, config.cross, progress=progress)
            done(unit)
        return out
    import multiprocessing

    with ProcessPoolExecutor(config.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(run_unit, *args, u, tasks, config.cross): u for u in units}
        for fut in as_completed(futures):
            out[futures[fut]] = fut.result()
            done(futures[fut])
    return out


def run_compare(config: CompareConfig, progress: Progress | None = None,
                on_total: Callable[[int], None] | None = None, done: Callable[[Unit], None] | None = None) -> Path:
    """Run the comparison and write the run directory; returns its path."""
    from delbench.compare.results import write_results
    from delbench.plugins import get_plugins
    from delbench.protocol import load_protocol
    from delbench.train.embed import embed_pool

    say = progress or (lambda message, fraction: None)
    registry = get_plugins().selectors
    for sel in config.selectors:
        registry.get(sel)  # an unknown name fails before any work
    protocol = load_protocol(config.protocol)
    ratios = config.ratios or tuple(protocol.select.ratios)
    seeds = config.seeds or tuple(protocol.seeds)
    tasks = list(config.tasks) if config.tasks else None
    run_dir = config.run_dir()
    run_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    root = ensure_data(config, protocol, say)
    say("embedding the pool", 0.0)
    embeddings = embed_pool(root, protocol, config.cache_dir() / "stages",
                            progress=lambda f, m="": say(f"embed {m}", f))
    units = select_all(config, root, embeddings, ratios, seeds, run_dir, say)
    if on_total:
        on_total(len(units))
    outcome = execute(units, config, root, tasks, say, done or (lambda u: None))
    write_results(run_dir, protocol, units, outcome, extra={
        "selectors": list(config.selectors), "ratios": list(ratios), "seeds": list(seeds), "tasks": tasks,
        "params": config.params, "data_root": str(root), "manifest_sha256": sha256_file(root / "manifest.parquet"),
        "embeddings": str(embeddings), "cross": config.cross, "wall_seconds": time.perf_counter() - start,
    })
    return run_dir
