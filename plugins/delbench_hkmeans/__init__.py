"""``hkmeans``: automatic data curation for self-supervised learning (Vo et al. 2024, "Automatic Data
Curation for Self-Supervised Learning: A Clustering-Based Approach"; reference implementation
facebookresearch/ssl-data-curation).

1. Hierarchical k-means with resampling (``tree``): level 1 clusters the items, each level above
   clusters the centroids of the level below, and every level runs ``resampling_steps`` resampling
   steps that spread its centroids evenly over the data instead of piling them where it is dense.
2. Balanced hierarchical sampling (``balance``): round(R*N) items split as evenly as possible over
   the top-level clusters, each cluster's share split likewise over its sub-clusters, down to
   level 1, where items are taken at random (``strategy="r"``, seeded) or nearest the centroid first
   (``"c"``). A large group of near-duplicates is one cluster high up, so it gets one share, not a
   share in proportion to its size.

Defaults, chosen for CPU cost (the paper's runs use GPUs and far more clusters): level 1 has
``min(sqrt(N), 1000, N // 4)`` clusters, each level above about the square root of the level
below's; each level resamples half its average cluster size around each centroid (the paper's
rule), and k-means trains on at most 64 points a centroid. The hierarchy is built once for all
ratios; only the sampling runs per ratio. Every removed item's reason is ``hkmeans:balance``: its
cluster had more items than its balanced share.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Literal

import numpy as np

from delbench import hookimpl
from delbench.errors import DelbenchError
from delbench.selection import Selection, SelectionRequest, SelectsMany, check_ratio, target_count

MAX_LEVELS = 8


def per_level(value: Any, levels: int, name: str, example: str) -> list[int | None]:
    """A per-level list of positive integers from an int, a comma string or a list; missing levels
    (from the top) are None, for the default."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return [None] * levels
    parts = value.split(",") if isinstance(value, str) else value if isinstance(value, (list, tuple)) else [value]
    hint = f"hkmeans: {name}={value!r} must be positive integers, one per level from level 1 (e.g. {example})"
    try:
        out = [int(str(p).strip()) for p in parts]
    except ValueError:
        raise DelbenchError(hint) from None
    if any(v < 1 for v in out):
        raise DelbenchError(hint)
    if len(out) > levels:
        raise DelbenchError(f"{hint}; it gives {len(out)} values for levels={levels}")
    return out + [None] * (levels - len(out))


def level_sizes(n: int, given_k: list[int | None], given_size: list[int | None]) -> tuple[list[int], list[int]]:
    """Clusters and resampling sample size at every level for a pool of ``n``, defaults filled in."""
    from delbench.select.similarity import default_k

    ks: list[int] = []
    sizes: list[int] = []
    for level, (k, size) in enumerate(zip(given_k, given_size)):
        below = n if level == 0 else ks[-1]
        if k is None:
            k = min(default_k(n), max(1, n // 4)) if level == 0 else max(1, round(math.sqrt(below)))
        elif k > below:
            what = f"{n} items" if level == 0 else f"{below} clusters of level {level}"
            raise DelbenchError(f"hkmeans: k gives level {level + 1} {k} clusters, more than the {what} it clusters; "
                                f"lower it or omit it for the default")
        ks.append(int(k))
        sizes.append(int(size) if size is not None else max(1, round(below / k / 2)))
    return ks, sizes


class HKMeans(SelectsMany):
    """Data curation by hierarchical k-means with resampling, then sampling balanced over the clusters."""

    name = "hkmeans"

    def __init__(self, levels: int = 2, k: list[int] | int | None = None, resampling_steps: int = 5,
                 sample_size: list[int] | int | None = None, strategy: Literal["r", "c"] = "r",
                 niter: int = 20) -> None:
        if not 1 <= int(levels) <= MAX_LEVELS:
            raise DelbenchError(f"hkmeans: levels={levels!r} must be between 1 and {MAX_LEVELS} (default 2)")
        if int(resampling_steps) < 0:
            raise DelbenchError(f"hkmeans: resampling_steps={resampling_steps!r} must be 0 (none) or more (default 5)")
        if strategy not in ("r", "c"):
            raise DelbenchError(f"hkmeans: strategy={strategy!r} must be r (random in each cluster) "
                                "or c (nearest the centroid first)")
        if int(niter) < 1:
            raise DelbenchError(f"hkmeans: niter={niter!r} must be at least 1 k-means iteration")
        self.levels, self.steps, self.strategy, self.niter = int(levels), int(resampling_steps), strategy, int(niter)
        self.k = per_level(k, self.levels, "k", "k=300,20")
        self.sample_size = per_level(sample_size, self.levels, "sample_size", "sample_size=150,8")

    def select_many(self, request: SelectionRequest, ratios: Iterable[float]) -> dict[float, Selection]:
        """One hierarchy for every ratio; the sampling alone runs per ratio."""
        from .balance import allocate, pick_order
        from .tree import build

        ratios = [check_ratio(r) for r in ratios]
        n = request.n
        ks, sizes = level_sizes(n, self.k, self.sample_size)
        tree = build(request.embeddings, ks, sizes, self.steps, self.niter, request.seed, request.progress)
        rank = pick_order(tree, self.strategy, request.seed)
        base = {"levels": self.levels, "k": tree.ks, "sample_size": tree.sample_sizes,
                "resampling_steps": self.steps, "niter": self.niter, "strategy": self.strategy}
        total = np.bincount(tree.labels, minlength=tree.ks[0])
        out = {}
        for r in ratios:
            # a fresh generator per ratio, so select and select_many draw the same numbers
            take, cap = allocate(tree, target_count(r, n), np.random.default_rng([request.seed, 3]))
            keep = rank < take[tree.labels]
            info = {**base, "ratio": r, "top_cap": cap, "clusters_used": int((take > 0).sum()),
                    "clusters_whole": int(((take == total) & (total > 0)).sum())}
            out[r] = Selection(indices=np.flatnonzero(keep), reasons={"hkmeans:balance": np.flatnonzero(~keep)},
                               info=info)
        request.progress(1.0, "done")
        return out


@hookimpl
def delbench_register_selectors(register):
    register(HKMeans)
