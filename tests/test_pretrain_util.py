"""A tiny fake dataset root (pool + two polyp-like tasks) and a tiny protocol for fast training tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from delbench.protocol import Protocol, load_protocol


def make_root(root: Path, n_pool: int = 24, per_split: tuple[int, int, int] = (6, 3, 3), size: int = 32,
              tasks: tuple[str, ...] = ("alpha", "beta"), seed: int = 0) -> Path:
    import pandas as pd
    from PIL import Image

    from delbench.store.atomic import sha256_file
    from delbench.data.manifest import write_manifest

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    rows = []

    def scene(with_polyp: bool) -> tuple[np.ndarray, np.ndarray]:
        base = rng.uniform(90, 200, 3)
        img = base + 25 * np.sin(xx[..., None] / rng.uniform(3, 8) + rng.uniform(0, 6, 3))
        mask = np.zeros((size, size), np.uint8)
        if with_polyp:
            cy, cx, r = rng.uniform(8, size - 8), rng.uniform(8, size - 8), rng.uniform(4, 8)
            mask = (((yy - cy) ** 2 + (xx - cx) ** 2) < r * r).astype(np.uint8)
            img[mask > 0] = img[mask > 0] * 0.6 + np.array([200, 120, 110]) * 0.4
        return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8), mask

    def add(rel: str, img: np.ndarray, **kw: object) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / rel)
        rows.append({"id": rel, "path": rel, "sha256": sha256_file(root / rel), "width": size, "height": size,
                     "source": "fake", "center": "c0", **kw})

    for i in range(n_pool):
        img, _ = scene(rng.random() < 0.5)
        add(f"pool/{i:04d}.png", img, role="pool", video=f"v{i // 6}", frame=i % 6, gt_quality="clean")
    for task in tasks:
        for split, n in zip(("train", "val", "test"), per_split):
            for i in range(n):
                img, mask = scene(True)
                rel = f"{task}/{split}/{i:03d}.png"
                add(rel, img, role="task", task=task, split=split)
                mrel = f"{task}/{split}/{i:03d}_mask.png"
                Image.fromarray(mask * 255).save(root / mrel)
                rows[-1].update(mask_path=mrel, mask_sha256=sha256_file(root / mrel))
    write_manifest(root, pd.DataFrame(rows))
    return root


def tiny_protocol(**overrides: object) -> Protocol:
    """The ci protocol shrunk to a few seconds: 32 px, width 4, a handful of steps."""
    base = {
        "pretrain.image_size": 32, "pretrain.width": 4, "pretrain.batch_size": 4, "pretrain.epochs_at_full": 1.0,
        "pretrain.checkpoint_every": 2, "pretrain.mask_patch": 4, "pretrain.intermediate": [0.5],
        "finetune.steps": 6, "finetune.eval_every": 3, "finetune.batch_size": 4, "finetune.labels": 0,
        "embed.image_size": 32, "embed.embedder": "thumb", "tasks.names": [],
    }
    base.update(overrides)
    return load_protocol("ci").with_overrides(base)
