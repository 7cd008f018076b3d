"""``prototypes``: self-supervised prototype pruning (Sorscher et al. 2022, "Beyond neural scaling laws").

1. Spherical k-means (faiss) on the L2-normalised embeddings (``delbench.select.similarity``).
2. Each item's difficulty is its cosine distance ``1 - cos(x, c)`` to its nearest centroid: items
   near a prototype are easy (the model has many like them), items far from every prototype hard.
3. Keep the hardest round(R*N) items (the paper's choice when data is abundant), or with ``easy`` the
   easiest (its choice when data is scarce: at small R the hard items are mostly noise).

Every ratio is a prefix of one removal order (ties by a seeded order), so the count is exact and
``select_many`` answers all ratios from one clustering. A removed item's reason says why it went:
``prototypes:easy`` (too close to its prototype, when hard items are kept) or ``prototypes:hard``
(too far, with ``easy``).
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from delbench import hookimpl
from delbench.selection import Selection, SelectionRequest, SelectsMany, check_ratio, target_count


class Prototypes(SelectsMany):
    """SSL prototypes: k-means, then keep the items farthest from their centroid (or nearest, easy=true)."""

    name = "prototypes"

    def __init__(self, k: int | None = None, niter: int = 20, easy: bool = False) -> None:
        from delbench.select.similarity import ClusterOptions

        self.cluster = ClusterOptions("prototypes", k, niter)
        self.easy = bool(easy)

    def distances(self, request: SelectionRequest) -> tuple[np.ndarray, int]:
        """Each item's cosine distance to its nearest centroid, and the number of centroids."""
        from delbench.progress import scaled
        from delbench.select.similarity import assign

        x = request.embeddings
        self.cluster.check_k(request.n)
        request.progress(0.0, "k-means")
        centroids = self.cluster.centroids(x, request.seed)
        _, sims = assign(x, centroids, progress=scaled(request.progress, 0.6, 1.0))
        return 1.0 - sims.astype(np.float64), int(centroids.shape[0])

    def select_many(self, request: SelectionRequest, ratios: Iterable[float]) -> dict[float, Selection]:
        from delbench.select.similarity import removal_order

        ratios = [check_ratio(r) for r in ratios]
        n = request.n
        dist, k = self.distances(request)
        # Removed first: the farthest when easy items are kept, else the nearest.
        order = removal_order(dist if self.easy else -dist, request.seed)
        mode, reason = ("easy", "prototypes:hard") if self.easy else ("hard", "prototypes:easy")
        out = {}
        for r in ratios:
            keep = target_count(r, n)
            removed, kept = order[: n - keep], order[n - keep :]
            bound = dist[kept].max() if self.easy else dist[kept].min()
            info = {"ratio": r, "k": k, "niter": self.cluster.niter, "keep": mode,
                    "distance": "cosine (1 - cos to nearest centroid)",
                    # kept items lie on this side of it: at most (easy) or at least (hard) this far
                    "distance_threshold": float(bound) if removed.size else None}
            out[r] = Selection(indices=kept, reasons={reason: removed}, info=info)
        request.progress(1.0, "done")
        return out


@hookimpl
def delbench_register_selectors(register):
    register(Prototypes)
