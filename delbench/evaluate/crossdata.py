"""Cross-dataset generalisation (the paper's Fig. 6): fine-tune on task A (val-selected on A), test
on the test split of every task. The fine-tuned weights come from ``evaluate``'s cache, so the
diagonal equals the per-task evaluation and nothing is fine-tuned twice."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from delbench.store.atomic import write_json
from delbench.store.cache import build_stage, claim_stage, config_hash
from delbench.data.manifest import read_manifest
from delbench.progress import Progress


def cross_dataset(root: Path, protocol: Any, cache_dir: Path, *, checkpoint: Path | None, seed: int,
                  tasks: list[str] | None = None, progress: Progress | None = None) -> Any:
    """DataFrame with columns train_task, test_task, miou, miou_dataset, dice (one row per pair)."""
    import pandas as pd

    from delbench.evaluate.stage import evaluate, finetuned_dir, resolve_tasks, stage_config

    root, cache_dir = Path(root), Path(cache_dir)
    frame = read_manifest(root)
    names = resolve_tasks(frame, protocol, tasks, root)
    evaluate(root, protocol, cache_dir, checkpoint=checkpoint, seed=seed, tasks=names, progress=progress)
    rows = []
    for a in names:
        src = finetuned_dir(root, protocol, cache_dir, checkpoint=checkpoint, task=a, seed=seed)
        config = {"stage": "crossdata", "train": stage_config(root, protocol, checkpoint, a, seed), "tests": names}
        out = cache_dir / "crossdata" / config_hash(config)
        with claim_stage(out) as todo:
            if todo:
                _test_all(root, protocol, cache_dir, frame, src, names, out, config)
        rows.extend(json.loads((out / "rows.json").read_text()))
    return pd.DataFrame(rows, columns=["train_task", "test_task", "miou", "miou_dataset", "dice"])


def _test_all(root: Path, protocol: Any, cache_dir: Path, frame: Any, src: Path, names: list[str],
              out: Path, config: dict[str, Any]) -> None:
    from delbench.nets.checkpoint import load_weights
    from delbench.evaluate.measure import measure
    from delbench.nets.models import build_seg_net
    from delbench.nets.runtime import setup

    dev, _ = setup(protocol.pretrain.device)
    network = protocol.network()
    net = build_seg_net(network, out_channels=1, head=protocol.finetune.head,
                        standardize=protocol.finetune.standardize, levels=protocol.finetune.probe_levels)
    net.load_state_dict(load_weights(src / "finetuned.safetensors"))
    net.to(dev)
    train_task = json.loads((src / "result.json").read_text())["task"]
    rows = []
    for b in names:
        scores, _ = measure(net, root, frame, b, "test", network.image_size, cache_dir, dev)
        rows.append({"train_task": train_task, "test_task": b, **scores})
    with build_stage(out, config) as tmp:
        write_json(tmp / "rows.json", rows)
