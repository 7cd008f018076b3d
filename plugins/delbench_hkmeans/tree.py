"""Hierarchical k-means with resampling (Vo et al. 2024), on faiss spherical k-means.

Level 1 clusters the items, level l+1 clusters the centroids of level l. Plain k-means puts more
centroids where the data is dense; each resampling step moves them towards covering the support
evenly: take the ``sample_size`` points nearest each centroid (every cluster then weighs the same),
fit k-means again on that union and reassign every point. Training sets are capped as in
``delbench.select.similarity`` (k x 64 rows, a seeded subsample), so a step costs one k-means on
at most k x 64 rows plus one assignment pass, whatever N.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from delbench.progress import Progress, no_progress, scaled


# Levels above the first cluster at most a thousand centroids, where restarts cost next to nothing; faiss
# starts from random points, so a dense region's many centroids would often stay split over several clusters.
UPPER_NREDO = 10
# ... and on one thread: problems that small gain nothing from more, and on a busy machine every
# OpenMP barrier waits for a descheduled thread (these levels are thousands of tiny parallel loops).
UPPER_THREADS = 1


@dataclass(frozen=True)
class Hierarchy:
    """``labels`` [N] level-1 cluster of each item and ``sims`` [N] its cosine to that centroid;
    ``parents[l]`` maps each cluster of level l+1 to its cluster of level l+2 (levels from 1);
    ``ks`` the clusters per level, ``sample_sizes`` the resampling size used at each level (0: none)."""

    labels: np.ndarray
    sims: np.ndarray
    parents: list[np.ndarray] = field(default_factory=list)
    ks: list[int] = field(default_factory=list)
    sample_sizes: list[int] = field(default_factory=list)


def rank_in_cluster(labels: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Each row's place in its cluster by ``key``, highest first (0), ties by index."""
    from delbench.select.similarity import cluster_order

    order, bounds = cluster_order(labels, key)
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size) - bounds[labels[order]]
    return rank


def fit_level(points: np.ndarray, k: int, steps: int, sample_size: int, niter: int, rng: np.random.Generator,
              progress: Progress = no_progress, nredo: int = 1,
              threads: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centroids [k, D], labels and cosine-to-centroid of ``points`` after k-means and ``steps``
    resampling steps of ``sample_size`` points a cluster (none when it is below 2, as in the paper)."""
    from delbench.select.similarity import TRAIN_PER_CENTROID, assign, spherical_kmeans

    def seed() -> int:
        return int(rng.integers(2**31))

    steps = steps if sample_size >= 2 else 0
    centroids = spherical_kmeans(points, k, seed=seed(), niter=niter, nredo=nredo, threads=threads)
    labels, sims = assign(points, centroids)
    for step in range(steps):
        progress((step + 1) / (steps + 1), "resampling")
        rows = np.flatnonzero(rank_in_cluster(labels, sims) < sample_size)  # the nearest of each cluster
        if rows.size < k:  # emptied clusters leave too few points to fit k centroids
            break
        cap = k * TRAIN_PER_CENTROID
        if rows.size > cap:  # subsample the indices before gathering: the gather is the memory
            rows = np.sort(rng.choice(rows, size=cap, replace=False))
        centroids = spherical_kmeans(np.ascontiguousarray(points[rows]), k, seed=seed(), niter=niter, nredo=nredo,
                                     threads=threads)
        labels, sims = assign(points, centroids)
    return centroids, labels, sims


def build(x: np.ndarray, ks: list[int], sample_sizes: list[int], steps: int, niter: int, seed: int,
          progress: Progress = no_progress) -> Hierarchy:
    """The cluster tree of ``x`` (L2-normalised rows) with ``ks[l]`` clusters at level l+1."""
    rng = np.random.default_rng([seed, 1])
    points, parents = x, []
    labels = sims = np.empty(0)
    share = 0.8  # level 1, on every item, is nearly all of the work
    for level, (k, size) in enumerate(zip(ks, sample_sizes)):
        lo = 0.0 if level == 0 else share + (1 - share) * (level - 1) / max(1, len(ks) - 1)
        hi = share if level == 0 else share + (1 - share) * level / max(1, len(ks) - 1)
        progress(lo, f"k-means level {level + 1}")
        centroids, level_labels, level_sims = fit_level(points, k, steps, size, niter, rng, scaled(progress, lo, hi),
                                                         nredo=1 if level == 0 else UPPER_NREDO,
                                                         threads=None if level == 0 else UPPER_THREADS)
        if level == 0:
            labels, sims = level_labels, level_sims
        else:
            parents.append(level_labels)
        points = centroids
    return Hierarchy(labels, sims, parents, list(ks), [s if s >= 2 and steps else 0 for s in sample_sizes])
