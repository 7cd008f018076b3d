"""Galleries for the HTML report: per selector and ratio, a sample of the removed images grouped by
removal reason and a sample of the kept ones, as small embedded thumbnails whose hover text says why
each was removed (or that it was kept)."""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from delbench.report.html import data_uri, slug
from delbench.select.subset import subset_paths
from delbench.store.rundir import RunDir

NOT_SELECTED = "not selected"  # removed by a selector that gives no reasons


@dataclass(frozen=True)
class Thumb:
    uri: str
    title: str
    kind: str  # "kept" or "removed"


@dataclass(frozen=True)
class Group:
    label: str
    count: int
    items: list[Thumb]


@dataclass(frozen=True)
class Gallery:
    id: str
    selector: str
    ratio: str
    seed: int
    kept: int
    pool: int
    groups: list[Group]


class Thumbnails:
    """Pool images as JPEG data URIs, each encoded once however many galleries show it."""

    def __init__(self, root: Path, pool: pd.DataFrame, size: int = 96) -> None:
        self.root, self.pool, self.size = root, pool, size
        self._done: dict[int, str] = {}

    def uri(self, index: int) -> str:
        if index not in self._done:
            from PIL import Image

            with Image.open(self.root / str(self.pool["path"].iloc[index])) as im:
                small = im.convert("RGB")
                small.thumbnail((self.size, self.size))
                buf = io.BytesIO()
                small.save(buf, format="JPEG", quality=85)
            self._done[index] = data_uri(buf.getvalue(), "image/jpeg")
        return self._done[index]

    def title(self, index: int, what: str) -> str:
        row = self.pool.iloc[index]
        parts = [what, f"id {row['id']}"]
        if "gt_quality" in self.pool.columns and pd.notna(row["gt_quality"]):
            parts.append(f"ground truth: {row['gt_quality']}")
        return " · ".join(parts)


def _groups(kept: np.ndarray, reasons: pd.DataFrame, n: int) -> list[tuple[str, str, np.ndarray]]:
    removed = np.setdiff1d(np.arange(n), kept)
    out = [(f"removed: {reason}", str(reason), np.sort(g["index"].to_numpy(dtype=np.int64)))
           for reason, g in reasons.groupby("reason", sort=True)]
    unexplained = np.setdiff1d(removed, reasons["index"].to_numpy(dtype=np.int64)) if len(reasons) else removed
    if unexplained.size:
        out.append((f"removed: {NOT_SELECTED}", NOT_SELECTED, unexplained))
    out.append(("kept", "", np.asarray(kept, dtype=np.int64)))
    return [g for g in out if g[2].size]


def gallery(thumbs: Thumbnails, selector: str, ratio: float, seed: int, kept: np.ndarray,
            reasons: pd.DataFrame, per_group: int = 12) -> Gallery:
    rng = np.random.default_rng(seed)
    groups = []
    for label, reason, idx in _groups(kept, reasons, len(thumbs.pool)):
        pick = np.sort(rng.choice(idx, size=min(per_group, idx.size), replace=False))
        kind = "removed" if reason else "kept"
        what = f"removed: {reason}" if reason else "kept"
        groups.append(Group(label, int(idx.size), [Thumb(thumbs.uri(int(i)), thumbs.title(int(i), what), kind) for i in pick]))
    return Gallery(f"gallery-{slug(selector)}-r{ratio:g}", selector, f"{ratio:g}", seed, int(np.asarray(kept).size),
                   len(thumbs.pool), groups)


def run_galleries(run_dir: Path, info: dict[str, Any], pool: pd.DataFrame, root: Path) -> list[Gallery]:
    """One gallery per selector and retained ratio below 1, from the first seed's subsets."""
    thumbs = Thumbnails(root, pool)
    seed = info["seeds"][0]
    out = []
    for sel in info["selectors"]:
        for ratio in sorted(r for r in info["ratios"] if r < 1.0):
            npy = RunDir(run_dir).subset(sel, seed, ratio)
            if not npy.is_file():
                continue
            reasons_path = subset_paths(npy)[2]
            reasons = pd.read_parquet(reasons_path) if reasons_path.is_file() else pd.DataFrame({"index": [], "reason": []})
            out.append(gallery(thumbs, sel, ratio, seed, np.load(npy), reasons))
    return out
