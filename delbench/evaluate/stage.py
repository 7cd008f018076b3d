"""Downstream evaluation: fine-tune an encoder on each task (val-selected), report test metrics.

Each (checkpoint, task, seed, fine-tune config) is its own cached stage under
``<cache>/evaluate/<hash>/`` holding ``result.json`` and the selected ``finetuned.safetensors`` (which
the cross-dataset matrix reuses). ``checkpoint=None`` is the ``scratch`` reference.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from delbench.store.atomic import sha256_file, write_json
from delbench.store.cache import build_stage, claim_stage, config_hash
from delbench.data.manifest import manifest_path, manifest_sha256, read_manifest
from delbench.errors import DelbenchError
from delbench.progress import Progress
from delbench.references import SCRATCH

CODE_VERSION = 3  # 2: miou over test images with a polyp; miou_all, empty_share added; 3: standardised probe


def all_tasks(frame: Any) -> list[str]:
    rows = frame[frame["role"] == "task"]
    return sorted(str(t) for t in rows["task"].dropna().unique())


def resolve_tasks(frame: Any, protocol: Any, tasks: list[str] | None, root: Path) -> list[str]:
    present = all_tasks(frame)
    wanted = list(tasks) if tasks else (list(protocol.tasks.names) or [t for t in present if t not in protocol.tasks.exclude])
    missing = [t for t in wanted if t not in present]
    if missing:
        raise DelbenchError(f"task {missing[0]!r} not in {manifest_path(root)} (available: {', '.join(present)})")
    if not wanted:
        raise DelbenchError(f"{manifest_path(root)} has no task rows to evaluate on")
    return wanted


def checkpoint_key(checkpoint: Path | None) -> str:
    if checkpoint is None:
        return SCRATCH
    if not Path(checkpoint).is_file():
        raise DelbenchError(f"checkpoint {checkpoint} not found: run `delbench pretrain` first or pass '{SCRATCH}'")
    return sha256_file(checkpoint)[:16]


def stage_config(root: Path, protocol: Any, checkpoint: Path | None, task: str, seed: int) -> dict[str, Any]:
    return {
        "stage": "evaluate", "code": CODE_VERSION, "manifest": manifest_sha256(root),
        "checkpoint": checkpoint_key(checkpoint),
        # the pre-training recipe is captured by the checkpoint hash
        "net": asdict(protocol.network()),
        "finetune": asdict(protocol.finetune), "task": task, "seed": int(seed),
    }


def evaluate(root: Path, protocol: Any, cache_dir: Path, *, checkpoint: Path | None, seed: int,
             tasks: list[str] | None = None, progress: Progress | None = None) -> list[dict[str, Any]]:
    """One dict per task: task, miou, miou_all, miou_dataset, dice, empty_share (test), val_miou, seconds,
    and provenance."""
    root, cache_dir = Path(root), Path(cache_dir)
    frame = read_manifest(root)
    names = resolve_tasks(frame, protocol, tasks, root)
    results = []
    for i, task in enumerate(names):
        out = finetuned_dir(root, protocol, cache_dir, checkpoint=checkpoint, task=task, seed=seed)
        with claim_stage(out) as todo:
            if todo:
                def sub(f: float, msg: str, i: int = i) -> None:
                    if progress:
                        progress((i + f) / len(names), msg)

                _run_one(root, protocol, cache_dir, frame, out, checkpoint=checkpoint, task=task, seed=seed, progress=sub)
        results.append(json.loads((out / "result.json").read_text()))
        if progress:
            progress((i + 1) / len(names), f"{task} test mIoU {results[-1]['miou']:.3f}")
    return results


def finetuned_dir(root: Path, protocol: Any, cache_dir: Path, *, checkpoint: Path | None, task: str, seed: int) -> Path:
    return Path(cache_dir) / "evaluate" / config_hash(stage_config(Path(root), protocol, checkpoint, task, seed))


def _run_one(root: Path, protocol: Any, cache_dir: Path, frame: Any, out: Path, *, checkpoint: Path | None,
             task: str, seed: int, progress: Progress | None) -> None:
    import time

    from delbench.nets.checkpoint import load_weights, save_weights
    from delbench.evaluate.finetune import finetune
    from delbench.evaluate.measure import measure
    from delbench.nets.runtime import setup

    dev, _ = setup(protocol.pretrain.device)
    config = stage_config(root, protocol, checkpoint, task, seed)
    t0 = time.perf_counter()
    state = load_weights(Path(checkpoint)) if checkpoint is not None else None
    net, record = finetune(root, protocol, cache_dir, frame, task=task, state=state, seed=seed, dev=dev,
                           progress=progress)
    test, n_test = measure(net, root, frame, task, "test", protocol.network().image_size, cache_dir, dev)
    result = {
        "task": task, **test, **record, "seconds": time.perf_counter() - t0, "seed": int(seed),
        "checkpoint": SCRATCH if checkpoint is None else str(checkpoint), "test_images": n_test,
        "protocol": protocol.name, "protocol_version": protocol.version,
    }
    with build_stage(out, config) as tmp:
        save_weights(tmp / "finetuned.safetensors", net.state_dict())
        write_json(tmp / "result.json", result)
