"""What the kept subsets contain: for each selector and ratio, the share of the kept pool images that
comes from each source and each centre, beside the pool's own shares.

A selector can score well while keeping one source almost entirely out (or in); only this table shows
it. ``composition`` is the computation (a long DataFrame, for any renderer), ``to_markdown`` the
Markdown tables, ``write_composition`` the run directory's ``tables/composition.md``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from delbench.store.atomic import atomic_path
from delbench.store.rundir import RunDir

BY = ("source", "center")
COLUMNS = ["selector", "ratio_target", "by", "value", "pool_n", "pool_share", "kept_n", "kept_share", "seeds"]
SLUG = "composition"
NONE = "(none)"
_SUBSET = re.compile(r"^r(?P<ratio>[0-9.e+-]+)\.npy$")


def composition(pool: pd.DataFrame, subsets: Mapping[tuple[str, float, int], np.ndarray],
                by: tuple[str, ...] = BY) -> pd.DataFrame:
    """One row per (selector, ratio_target, by, value): the pool's count and share of ``value``, and
    the kept count and share averaged over seeds (``seeds`` of them). ``subsets`` maps (selector,
    ratio, seed) to kept pool indices. Columns: ``COLUMNS``."""
    rows = []
    groups: dict[tuple[str, float], list[np.ndarray]] = {}
    for (selector, ratio, _seed), idx in sorted(subsets.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        groups.setdefault((selector, float(ratio)), []).append(np.asarray(idx, dtype=np.int64))
    for column in by:
        if column not in pool.columns:
            continue
        labels = pool[column].astype("string").fillna(NONE).to_numpy(dtype=object)
        values = sorted(set(labels))
        pool_n = {v: int((labels == v).sum()) for v in values}
        for (selector, ratio), kept in groups.items():
            counts = [{v: int((labels[idx] == v).sum()) for v in values} for idx in kept]
            sizes = [max(len(idx), 1) for idx in kept]
            for v in values:
                rows.append({
                    "selector": selector, "ratio_target": ratio, "by": column, "value": v,
                    "pool_n": pool_n[v], "pool_share": pool_n[v] / max(len(pool), 1),
                    "kept_n": float(np.mean([c[v] for c in counts])),
                    "kept_share": float(np.mean([c[v] / s for c, s in zip(counts, sizes)])),
                    "seeds": len(kept),
                })
    return pd.DataFrame(rows, columns=COLUMNS)


def run_subsets(run_dir: Path) -> dict[tuple[str, float, int], np.ndarray]:
    """The kept indices of every subset a run directory holds below R = 1, by (selector, ratio, seed)."""
    out = {}
    for path in sorted(Path(run_dir).glob("subsets/*/seed*/r*.npy")):
        m = _SUBSET.match(path.name)
        seed = path.parent.name[len("seed"):]
        if not m or not seed.lstrip("-").isdigit():
            continue
        ratio = float(m.group("ratio"))
        if 0.0 < ratio < 1.0:
            out[(path.parent.parent.name, ratio, int(seed))] = np.load(path)
    return out


def kept_composition(run_dir: str | Path, pool: pd.DataFrame | None = None) -> pd.DataFrame:
    """``composition`` of a run directory's subsets; ``pool`` defaults to the pool rows of the run's
    dataset root (an empty frame when that root is gone)."""
    from delbench.data.manifest import manifest_path, pool_rows, read_manifest

    run_dir = Path(run_dir)
    if pool is None:
        info = RunDir(run_dir).read_info()
        root = Path(info.get("data_root") or "")
        if not (root.name and manifest_path(root).is_file()):
            return pd.DataFrame(columns=COLUMNS)
        pool = pool_rows(read_manifest(root))
    return composition(pool, run_subsets(run_dir))


def to_markdown(frame: pd.DataFrame) -> str:
    """One table per grouping: a ``pool`` row, then one row per selector and ratio; cells are the
    share of kept images (%), averaged over seeds."""
    parts = []
    for column in [c for c in BY if c in set(frame["by"])]:
        part = frame[frame["by"] == column]
        values = sorted(part["value"].unique())
        first = part.drop_duplicates("value").set_index("value")
        title = "source" if column == "source" else "centre"
        lines = [f"### Kept share by {title} (% of kept pool images, mean over seeds)", "",
                 "| selector | R | seeds | " + " | ".join(values) + " |", "|" + "---|" * (len(values) + 3),
                 "| pool | 1 | – | " + " | ".join(f"{100 * first.at[v, 'pool_share']:.1f}" for v in values) + " |"]
        for (selector, ratio), g in part.groupby(["selector", "ratio_target"], sort=True):
            share = g.set_index("value")["kept_share"]
            lines.append(f"| {selector} | {ratio:g} | {int(g['seeds'].iloc[0])} | "
                         + " | ".join(f"{100 * share[v]:.1f}" for v in values) + " |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def write_composition(run_dir: str | Path, pool: pd.DataFrame | None = None) -> Path | None:
    """Write ``tables/composition.md``; None (nothing written) when there is no subset or no pool."""
    frame = kept_composition(run_dir, pool)
    if frame.empty:
        return None
    path = RunDir(run_dir).table(SLUG, "md")
    with atomic_path(path) as tmp:
        tmp.write_text(to_markdown(frame))
    return path


def pointer(run_dir: str | Path) -> str | None:
    """The console summary's line pointing at the table, when there is one."""
    path = RunDir(run_dir).table(SLUG, "md")
    return f"kept subsets by source and centre: {path}" if path.is_file() else None


__all__ = ["composition", "kept_composition", "run_subsets", "to_markdown", "write_composition", "pointer"]
