"""``meddel``: the paper's Algorithm 1 — cluster, drop outliers, drop within-cluster duplicates.

1. Spherical k-means (faiss) on the L2-normalised embeddings (``delbench.select.similarity``).
2. Outliers: an item whose distance to its own centroid exceeds ``epsilon`` is removed. The paper
   says only "distance to the centroid"; on L2-normalised embeddings we use the cosine distance
   ``1 - cos(x, c)`` (in [0, 2]; the paper's epsilon = 0.9 then means "less than 0.1 cosine to its
   centroid"). Euclidean distance would be ``sqrt(2 * cosine distance)``, so the two orderings agree
   and only the scale of epsilon differs.
3. Duplicates: inside a cluster, of a pair with cosine > eta the item farther from the centroid is
   removed. Equivalently, an item goes when its max cosine to any item of its cluster nearer the
   centroid exceeds eta — that score is computed once per item. After a screen (``quality>meddel``)
   the worse item of the pair by the screen's badness is removed, the farther one only among equals:
   a blurred frame sits nearer the mean of its cluster than its sharp neighbour, so the paper's rule
   alone keeps the blurred one.
4. Target ratio: eta is a quantile of the scores (epsilon fixed), so every ratio comes from one pass
   and the kept count is exactly round(R*N), ties broken by a seeded order. If epsilon alone removes
   more than the budget allows, epsilon is relaxed (the least-outlying outliers are kept) and the
   epsilon actually used is recorded. The paper's "while t < max_iterations" loop is this single
   calibrated pass: rerunning it at a fixed eta changes nothing once the scores are fixed.

``epsilon_quantile = q`` (0 = off, the paper's setting) replaces the fixed epsilon by a share: the
round(q*N) items farthest from their centroid are the outliers, whatever epsilon says. On
embeddings where no item is 0.9 from its centroid (most of them: k-means centroids of L2-normalised
vectors sit close to their members) the paper's epsilon removes nothing and MedDEL equals
``dedup-only``; a run where that happens, or where epsilon is relaxed, says so in
``info["warnings"]``, which ``delbench select`` and ``compare`` print.
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
                 train_per_centroid: int = 64, epsilon_quantile: float = 0.0) -> None:
        if not 0.0 <= float(epsilon) <= 2.0:
            raise DelbenchError(
                f"meddel: epsilon={epsilon!r} is a cosine distance and must lie in [0, 2] (default 0.9)"
            )
        if not 0.0 <= float(epsilon_quantile) < 1.0:
            raise DelbenchError(
                f"meddel: epsilon_quantile={epsilon_quantile!r} is the share of items removed as outliers and must "
                "lie in [0, 1) (0 = use epsilon; e.g. 0.05 removes the 5% farthest from their centroid)"
            )
        self.epsilon = float(epsilon)
        self.epsilon_quantile = float(epsilon_quantile)
        from delbench.select.similarity import ClusterOptions

        self.cluster = ClusterOptions("meddel", k, niter, nredo, train_per_centroid)

    def select_many(self, request: SelectionRequest, ratios: Iterable[float]) -> dict[float, Selection]:
        """One clustering + similarity pass, then every ratio as a prefix of one removal order."""
        from delbench.select.similarity import removal_order

        ratios = [check_ratio(r) for r in ratios]
        n = request.n
        scores = self.cluster.scores(request)
        dist = 1.0 - scores.centroid_sim.astype(np.float64)
        epsilon = self.epsilon
        if self.epsilon_quantile > 0:
            outlier = np.zeros(n, dtype=bool)
            outlier[removal_order(dist, request.seed)[: int(round(self.epsilon_quantile * n))]] = True
            # the distance that plays epsilon's part: just below the nearest outlier
            epsilon = float(np.nextafter(dist[outlier].min(), -np.inf)) if outlier.any() else self.epsilon
        else:
            outlier = dist > epsilon
        # Outliers go first (most outlying first), then non-outliers by duplicate score: a prefix of
        # this order is the removed set for any budget.
        primary = np.where(outlier, 10.0 + dist, scores.dup_score.astype(np.float64))
        order = removal_order(primary, request.seed)
        n_out = int(outlier.sum())
        base = {"k": scores.k, "niter": self.cluster.niter, "epsilon": epsilon, "distance": "cosine (1 - cos to centroid)",
                "epsilon_quantile": self.epsilon_quantile, "outliers_at_epsilon": n_out,
                "max_centroid_distance": float(dist.max()) if n else 0.0,
                "duplicate_kept": scores.duplicate_kept}
        return {r: self._answer(r, n, order, outlier, dist, scores.dup_score, n_out, base) for r in ratios}

    def _answer(self, ratio: float, n: int, order: np.ndarray, outlier: np.ndarray, dist: np.ndarray,
                dup: np.ndarray, n_out: int, base: dict[str, Any]) -> Selection:
        epsilon = base["epsilon"]
        keep_count = target_count(ratio, n)
        removed, kept = order[: n - keep_count], order[n - keep_count :]
        is_out = outlier[removed]
        out_idx = removed[is_out]
        rest = removed[~is_out]
        dup_idx = rest[np.isfinite(dup[rest])]
        budget_idx = rest[~np.isfinite(dup[rest])]
        kept_out = outlier[kept]
        eps_used = float(dist[kept].max()) if kept_out.any() else epsilon
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
        warnings = _warnings(ratio, epsilon, self.epsilon_quantile, n_out, int(out_idx.size), eps_used, base)
        if warnings:
            info["warnings"] = warnings
        reasons = {"outlier": out_idx, "duplicate": dup_idx}
        if budget_idx.size:
            reasons["budget"] = budget_idx
        return Selection(indices=kept, reasons=reasons, info=info)


def _warnings(ratio: float, epsilon: float, quantile: float, n_out: int, removed_out: int, eps_used: float,
              base: dict[str, Any]) -> list[str]:
    """One line for each way the outlier step did less than asked; none when R = 1 (nothing goes)."""
    if ratio >= 1.0:
        return []
    if n_out == 0:
        how = f"epsilon_quantile={quantile:g}" if quantile > 0 else f"epsilon={epsilon:g}"
        return [f"meddel R={ratio:g}: {how} removes no outlier (the farthest item is {base['max_centroid_distance']:.3f} "
                "from its centroid), so this subset equals dedup-only's; set a lower epsilon or epsilon_quantile=0.05"]
    if removed_out < n_out:
        return [f"meddel R={ratio:g}: epsilon relaxed from {epsilon:.3f} to {eps_used:.3f}: the budget removes only "
                f"{removed_out} of the {n_out} outliers (the most outlying) and no duplicate"]
    return []


@hookimpl
def delbench_register_selectors(register):
    register(MedDEL)
