"""``dedup-only``: SemDeDup (Abbas et al. 2023) — semantic deduplication with no outlier step.

Spherical k-means on the L2-normalised embeddings; inside each cluster items are ordered by cosine to
the centroid (nearest first); an item is removed when its max cosine similarity to any earlier item of
its cluster exceeds the threshold (SemDeDup's ``1 - eps``). The first item of each cluster has no
earlier item and stays unless the budget is smaller than the number of clusters (then reason
``budget``). The threshold is calibrated to the target ratio as a quantile of the per-item scores, so
every ratio comes from one pass; ties are broken by a seeded order so the kept count is exact.

After a screen (``quality>dedup-only``) a cluster's items are ordered by the screen's badness first
and by cosine to the centroid among equals, so of two near-duplicates the worse frame goes.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from delbench import hookimpl
from delbench.selection import Selection, SelectionRequest, SelectsMany, check_ratio, target_count


class SemDeDup(SelectsMany):
    """SemDeDup: drop items too similar to an item nearer their cluster centroid; threshold calibrated to R."""

    name = "dedup-only"

    def __init__(self, k: int | None = None, niter: int = 20, nredo: int = 1, train_per_centroid: int = 64) -> None:
        from delbench.select.similarity import ClusterOptions

        self.cluster = ClusterOptions("dedup-only", k, niter, nredo, train_per_centroid)

    def select_many(self, request: SelectionRequest, ratios: Iterable[float]) -> dict[float, Selection]:
        """One clustering + similarity pass; each ratio removes a prefix of the score-ordered items."""
        from delbench.select.similarity import removal_order

        ratios = [check_ratio(r) for r in ratios]
        n = request.n
        scores = self.cluster.scores(request)
        dup = scores.dup_score
        order = removal_order(dup, request.seed)
        out = {}
        for r in ratios:
            keep_count = target_count(r, n)
            removed, kept = order[: n - keep_count], order[n - keep_count :]
            finite = np.isfinite(dup[removed])
            top = dup[kept].max() if kept.size else -np.inf
            threshold = float(top) if removed.size and np.isfinite(top) else (1.0 if not removed.size else None)
            reasons = {"duplicate": removed[finite]}
            if (~finite).any():
                reasons["budget"] = removed[~finite]
            info = {
                "k": scores.k,
                "duplicate_kept": scores.duplicate_kept,
                "niter": self.cluster.niter,
                "ratio": r,
                "threshold": threshold,
                "eps": None if threshold is None else 1.0 - threshold,
                "removed_duplicate": int(finite.sum()),
                "removed_budget": int((~finite).sum()),
            }
            out[r] = Selection(indices=kept, reasons=reasons, info=info)
        return out


@hookimpl
def delbench_register_selectors(register):
    register(SemDeDup)
