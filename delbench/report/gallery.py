"""What a selector removed: a gallery of removed vs kept pool images grouped by removal reason (the
paper's Fig. 5), and on synthetic data a table of what it removed by ground-truth type."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from delbench.report.plots import pyplot, save


def gallery(root: Path, pool: pd.DataFrame, kept: np.ndarray, reasons: pd.DataFrame, title: str,
            stem: Path, per_row: int = 8, seed: int = 0) -> list[Path]:
    """One row of sample images per removal reason, then a row of kept images."""
    from delbench.data.decode import read_rgb

    rng = np.random.default_rng(seed)
    groups = [(f"removed: {r}", g["index"].to_numpy()) for r, g in reasons.groupby("reason", sort=True)]
    groups.append(("kept", np.asarray(kept)))
    groups = [(label, idx) for label, idx in groups if len(idx)]
    plt = pyplot()
    fig, axes = plt.subplots(len(groups), per_row, figsize=(per_row * 1.1, len(groups) * 1.25), squeeze=False)
    for row, (label, idx) in zip(axes, groups):
        pick = np.sort(rng.choice(idx, size=min(per_row, len(idx)), replace=False))
        for ax in row:
            ax.axis("off")
        for ax, i in zip(row, pick):
            ax.imshow(read_rgb(root / pool["path"].iloc[int(i)]))
        row[0].set_title(f"{label} ({len(idx)})", loc="left", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    paths = save(fig, stem)
    plt.close(fig)
    return paths


def removal_by_truth(pool: pd.DataFrame, kept: np.ndarray) -> dict[str, float]:
    """Share of each ground-truth quality type removed, share of frames in near-duplicate groups removed,
    and share of near-duplicate groups left with no kept frame at all (coverage lost)."""
    removed = np.ones(len(pool), dtype=bool)
    removed[np.asarray(kept, dtype=np.int64)] = False
    out: dict[str, float] = {}
    if "gt_quality" in pool.columns:
        for q, idx in pool.groupby("gt_quality", sort=True).indices.items():
            out[str(q)] = float(removed[idx].mean())
    if "gt_group" in pool.columns:
        groups = pool["gt_group"].to_numpy()
        sizes = pd.Series(groups).map(pd.Series(groups).value_counts()).to_numpy()
        in_dup = sizes > 1
        kept_per_group = pd.Series(~removed).groupby(groups).sum()
        out["near-dup groups emptied"] = float((kept_per_group == 0).mean())
        out["frames in near-dup groups"] = float(removed[in_dup].mean()) if in_dup.any() else float("nan")
    return out
