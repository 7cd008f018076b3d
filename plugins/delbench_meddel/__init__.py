"""``meddel``: the paper's Algorithm 1 — cluster, drop outliers, drop within-cluster duplicates.

1. Spherical k-means (faiss) on the L2-normalised embeddings (``delbench.select.similarity``).
2. Outliers: an item whose distance to its own centroid exceeds ``epsilon`` is removed. The paper
   says only "distance to the centroid"; on L2-normalised embeddings we use the cosine distance
   ``1 - cos(x, c)`` (in [0, 2]; the paper's epsilon = 0.9 then means "less than 0.1 cosine to its
   centroid"). Euclidean distance would be ``sqrt(2 * cosine distance)``, so the two orderings agree
   and only the scale of epsilon differs.
3. Duplicates: inside a cluster, of a pair with cosine > eta the item farther from the centroid is
   removed. Equivalently, an item goes when its max cosine to any item of its cluster nearer the
   centroid exceeds eta — that score is computed once per item.
4. Target ratio: eta is a quantile of the scores (epsilon fixed), so every ratio comes from one pass
   and the kept count is exactly round(R*N), ties broken by a seeded order. If epsilon alone removes
   more than the budget allows, epsilon is relaxed (the least-outlying outliers are kept) and the
   epsilon actually used is recorded. The paper's "while t < max_iterations" loop is this single
   calibrated pass: rerunning it at a fixed eta changes nothing once the scores are fixed.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from delbench import hookimpl
from delbench.errors import DelbenchError
from delbench.selection import Selection, SelectionRequest, SelectsMany, check_ratio, target_count


def _finite_or_none(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


class MedDEL(SelectsMany):
    """Algorithm 1 of the paper: k-means, epsilon outlier removal, eta duplicate removal calibrated to R."""

    name = "meddel"

    def __init__(self, epsilon: float = 0.9, k: int | None = None, niter: int = 20, nredo: int = 1,
                 train_per_centroid: int = 64) -> None:
        if not 0.0 <= float(epsilon) <= 2.0:
            raise DelbenchError(
                f"meddel: epsilon={epsilon!r} is a cosine distance and must lie in [0, 2] (default 0.9)"
            )
        self.epsilon = float(epsilon)
        from delbench.select.similarity import ClusterOptions

        self.cluster = ClusterOptions("meddel", k, niter, nredo, train_per_centroid)

    def select_many(self, request: SelectionRequest, ratios: Iterable[float]) -> dict[float, Selection]:
        """One clustering + similarity pass, then every ratio as a prefix of one removal order."""
        from delbench.select.similarity import removal_order

        ratios = [check_ratio(r) for r in ratios]
        n = request.n
        scores = self.cluster.scores(request)
        dist = 1.0 - scores.centroid_sim.astype(np.float64)
        outlier = dist > self.epsilon
        # Outliers go first (most outlying first), then non-outliers by duplicate score: a prefix of
        # this order is the removed set for any budget.
        primary = np.where(outlier, 10.0 + dist, scores.dup_score.astype(np.float64))
        order = removal_order(primary, request.seed)
        n_out = int(outlier.sum())
        base = {"k": scores.k, "niter": self.cluster.niter, "epsilon": self.epsilon, "distance": "cosine (1 - cos to centroid)",
                "outliers_at_epsilon": n_out}
        return {r: self._answer(r, n, order, outlier, dist, scores.dup_score, n_out, base) for r in ratios}

    def _answer(self, ratio: float, n: int, order: np.ndarray, outlier: np.ndarray, dist: np.ndarray,
                dup: np.ndarray, n_out: int, base: dict[str, Any]) -> Selection:
        keep_count = target_count(ratio, n)
        removed, kept = order[: n - keep_count], order[n - keep_count :]
        is_out = outlier[removed]
        out_idx = removed[is_out]
        rest = removed[~is_out]
        dup_idx = rest[np.isfinite(dup[rest])]
        budget_idx = rest[~np.isfinite(dup[rest])]
        kept_out = outlier[kept]
        eps_used = float(dist[kept].max()) if kept_out.any() else self.epsilon
        if dup_idx.size or budget_idx.size:
            kept_scores = dup[kept]
            eta = _finite_or_none(kept_scores.max()) if kept_scores.size else None
        else:
            eta = 1.0
        info = {
            **base,
            "ratio": ratio,
            "eta": eta,
            "epsilon_used": eps_used,
            "epsilon_relaxed": bool(kept_out.any()),
            "removed_outlier": int(out_idx.size),
            "removed_duplicate": int(dup_idx.size),
            "removed_budget": int(budget_idx.size),
        }
        reasons = {"outlier": out_idx, "duplicate": dup_idx}
        if budget_idx.size:
            reasons["budget"] = budget_idx
        return Selection(indices=kept, reasons=reasons, info=info)


@hookimpl
def delbench_register_selectors(register):
    register(MedDEL)
