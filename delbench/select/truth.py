"""How well a subset matches a pool's planted ground truth: the distinct originals it kept, the
near-duplicate groups it resolved to one member, and the junk it removed.

A pool with ground truth (``delbench data plant``, or the synthetic DataDEL) records ``gt_quality``
(``clean`` or the disruption) and ``gt_group`` (a clean original and its near-duplicates share one).
The ideal subset keeps exactly one member of every clean group and nothing else, so it exists at
one ratio only, ``ideal_ratio`` = clean groups / N. At that ratio:

- ``originals_kept``: the share of clean groups with at least one member kept (each distinct image
  is still there);
- ``groups_resolved``: of the clean groups with copies, the share with exactly one member kept;
- ``junk_removed``: the share of non-clean items removed, also per disruption type.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from delbench.errors import DelbenchError

CLEAN = "clean"
NEEDS = ("gt_quality", "gt_group")


def _check(pool: Any, where: str) -> None:
    missing = [c for c in NEEDS if c not in pool.columns]
    if missing:
        raise DelbenchError(f"{where} has no {missing[0]} column: scoring needs planted ground truth "
                            "(make a root with `delbench data plant` or use the synthetic DataDEL)")


def ideal_ratio(pool: Any, where: str = "the pool") -> float:
    """The one ratio at which a subset can hold every distinct clean image once and nothing else."""
    _check(pool, where)
    clean = pool["gt_quality"].astype(str).to_numpy() == CLEAN
    return len(np.unique(pool["gt_group"].astype(str).to_numpy()[clean])) / max(1, len(pool))


def truth_scores(pool: Any, kept: np.ndarray, where: str = "the pool") -> dict[str, Any]:
    """The scores of keeping pool rows ``kept`` (indices into ``pool``, in its order)."""
    _check(pool, where)
    n = len(pool)
    mask = np.zeros(n, dtype=bool)
    mask[np.asarray(kept, dtype=np.int64)] = True
    quality = pool["gt_quality"].astype(str).to_numpy()
    group = pool["gt_group"].astype(str).to_numpy()
    clean = quality == CLEAN
    labels, inverse = np.unique(group[clean], return_inverse=True)
    members = np.bincount(inverse, minlength=len(labels))
    kept_per = np.bincount(inverse, weights=mask[clean], minlength=len(labels))
    copies = members > 1
    junk = ~clean
    by_type = {q: float((~mask[quality == q]).mean()) for q in sorted(set(quality[junk]))}
    return {
        "n": n, "kept": int(mask.sum()), "ratio": float(mask.mean()), "ideal_ratio": len(labels) / max(1, n),
        "originals": int(len(labels)), "originals_kept": float((kept_per > 0).mean()) if len(labels) else float("nan"),
        "groups": int(copies.sum()),
        "groups_resolved": float((kept_per[copies] == 1).mean()) if copies.any() else float("nan"),
        "junk": int(junk.sum()), "junk_removed": float((~mask[junk]).mean()) if junk.any() else float("nan"),
        "junk_removed_by_type": by_type,
    }


def subset_truth(subset: str | Path, root: str | Path) -> dict[str, Any]:
    """``truth_scores`` of a subset file against the ground truth of ``root``'s pool (matched by id)."""
    import pandas as pd

    from delbench.data.manifest import pool_rows, read_manifest
    from delbench.select.show import subset_items

    rows, _ = subset_items(subset, root)
    pool = pool_rows(read_manifest(Path(root))).reset_index(drop=True)
    _check(pool, f"the pool of {root}")
    where = pd.Index(pool["id"].astype(str)).get_indexer(rows["id"].astype(str))
    ordered = pool.iloc[where].reset_index(drop=True)
    return truth_scores(ordered, np.flatnonzero(rows["status"].to_numpy() == "kept"), f"the pool of {root}")
