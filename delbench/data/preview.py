"""A labelled contact sheet of a dataset root: pool frames by quality, one video run, task images with
their masks outlined. Works for any root; the quality rows need the synthetic ``gt_quality`` column."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from delbench.data.decode import read_mask, read_rgb
from delbench.errors import DelbenchError


def _pick(rows: Any, k: int) -> Any:
    """``k`` rows spread evenly over ``rows`` (deterministic, not the first k of one video)."""
    if len(rows) <= k:
        return rows
    step = len(rows) / k
    return rows.iloc[[int(i * step) for i in range(k)]]


def _read(reader: Callable[[Path], Any], root: Path, rel: str) -> Any:
    from delbench.data.decode import BadFile

    try:
        return reader(root / rel)
    except BadFile as exc:
        raise DelbenchError(f"{root / rel}: {exc}; run `delbench data verify {root}`") from None


def preview(root: str | Path, out: str | Path, columns: int = 8, thumb: float = 1.15) -> Path:
    """Draw the grid for the root at ``root`` into the PNG ``out`` and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from delbench.store.atomic import atomic_path
    from delbench.data.manifest import pool_rows, read_manifest, task_rows

    root = Path(root)
    frame = read_manifest(root)
    pool = pool_rows(frame)
    tasks = task_rows(frame)
    sections: list[tuple[str, Any, bool]] = []
    if "gt_quality" in pool.columns and pool["gt_quality"].notna().any():
        order = ["clean"] + sorted(q for q in pool["gt_quality"].dropna().unique() if q != "clean")
        for q in order:
            rows = pool[pool["gt_quality"] == q]
            if q == "clean" and "gt_polyp" in pool.columns:
                with_polyp = rows[rows["gt_polyp"].fillna(False).astype(bool)]
                sections.append(("clean", _pick(rows[~rows.index.isin(with_polyp.index)], columns), False))
                if len(with_polyp):
                    sections.append(("clean, polyp", _pick(with_polyp, columns), False))
                continue
            sections.append((q, _pick(rows, columns), False))
    elif len(pool):
        sections.append(("pool", _pick(pool, columns), False))
    if len(pool) and pool["video"].notna().any():
        first = pool[pool["video"] == pool["video"].dropna().iloc[len(pool["video"].dropna()) // 3]]
        sections.append((f"video {first['video'].iloc[0]}", first.head(columns), False))
    for name in sorted(tasks["task"].dropna().unique()):
        sections.append((f"task {name}", _pick(tasks[tasks["task"] == name], columns), True))
    if not sections:
        raise DelbenchError(f"{root}: the manifest has no rows to preview")

    fig, axes = plt.subplots(len(sections), columns, figsize=(columns * thumb, len(sections) * thumb), squeeze=False)
    for r, (label, rows, masked) in enumerate(sections):
        for c in range(columns):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            if c >= len(rows):
                continue
            row = rows.iloc[c]
            img = _read(read_rgb, root, row["path"])
            ax.imshow(img, interpolation="bilinear")
            if masked and isinstance(row.get("mask_path"), str):
                mask = _read(read_mask, root, row["mask_path"])
                if mask.max() > 0:
                    ax.contour(mask > 127, levels=[0.5], colors=["#39ff14"], linewidths=0.8)
        axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(f"{root.name}: {len(pool)} pool frames, {len(tasks)} task images", fontsize=9)
    fig.subplots_adjust(left=0.14, right=0.995, top=0.97, bottom=0.005, wspace=0.04, hspace=0.06)
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=64)
    plt.close(fig)
    return out
