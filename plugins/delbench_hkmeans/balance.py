"""Balanced hierarchical sampling (Vo et al. 2024) over a ``tree.Hierarchy``.

The budget is split as evenly as the clusters allow over the top-level clusters: each gets
``min(size, cap)`` items with the cap as high as the budget affords, the few items left over going
one each to seeded clusters above the cap. A cluster smaller than its share gives all its items and
the rest is shared by the larger ones. Each cluster's budget is split the same way over its
sub-clusters, down to level 1, where the items are taken in a fixed per-item order: seeded random
(``r``) or nearest the centroid first (``c``).
"""
from __future__ import annotations

import numpy as np

from .tree import Hierarchy, rank_in_cluster


def waterfill(sizes: np.ndarray, budget: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Per-group counts summing to ``budget`` (at most ``sizes.sum()``), each at most its size and as
    equal as the sizes allow; and the cap (the largest count every group above it gets)."""
    sizes = sizes.astype(np.int64)
    if budget >= sizes.sum():
        return sizes.copy(), int(sizes.max(initial=0))
    lo, hi = 0, int(sizes.max())  # largest cap whose total fits: sum(min(sizes, lo)) <= budget
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if np.minimum(sizes, mid).sum() <= budget:
            lo = mid
        else:
            hi = mid
    out = np.minimum(sizes, lo)
    left = budget - int(out.sum())
    if left:  # fewer than the groups above the cap, or the cap would have been higher
        out[rng.choice(np.flatnonzero(sizes > lo), size=left, replace=False)] += 1
    return out, lo


def pick_order(h: Hierarchy, strategy: str, seed: int) -> np.ndarray:
    """Each item's place in its level-1 cluster's picking order (0 = taken first): seeded random
    (``r``) or nearest the centroid first, ties by index (``c``); one order for every budget."""
    key = h.sims if strategy == "c" else np.random.default_rng([seed, 2]).random(h.labels.size)
    return rank_in_cluster(h.labels, key)


def allocate(h: Hierarchy, budget: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Items to take from each level-1 cluster, ``budget`` in all, balanced top-down; and the cap of
    the top level (no top-level cluster gives more than one item over it)."""
    sizes = [np.bincount(h.labels, minlength=h.ks[0]).astype(np.int64)]
    for level, parent in enumerate(h.parents):
        sizes.append(np.bincount(parent, weights=sizes[-1], minlength=h.ks[level + 1]).astype(np.int64))
    above, cap = waterfill(sizes[-1], budget, rng)
    for level in range(len(h.parents) - 1, -1, -1):
        parent, child_sizes = h.parents[level], sizes[level]
        members = np.argsort(parent, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(parent, minlength=above.size))])
        child = np.zeros_like(child_sizes)
        for p in np.flatnonzero(above):
            kids = members[bounds[p] : bounds[p + 1]]
            child[kids] = waterfill(child_sizes[kids], int(above[p]), rng)[0]
        above = child
    return above, cap
