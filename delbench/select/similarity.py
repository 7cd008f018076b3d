"""Cluster-then-compare tools shared by similarity-based selectors (``meddel``, ``dedup-only``) and
available to third-party plugins.

Everything works on L2-normalised float32 embeddings, so an inner product is a cosine similarity.

* :func:`spherical_kmeans` — faiss spherical k-means, trained on a seeded subsample.
* :func:`assign` — each item's nearest centroid and its cosine to it, in bounded blocks.
* :func:`within_cluster_scores` — for each item, its max cosine to any item of its own cluster that
  is ranked before it: nearer the centroid (the SemDeDup score), or, given a pipeline's ``badness``,
  better by it first (so of two near-duplicates the worse one scores and goes). Computed with
  blocked GEMMs per cluster over the lower triangle in 1024-row panels, so the work is between
  sum(n_c^2) * D / 2 and sum(n_c^2) * D multiply-adds and the memory a few tiles.
* :func:`cluster_scores` — all three in one call, with the k-means settings of a
  :class:`ClusterOptions`.

Memory stays bounded by the embedding matrix plus O(N) vectors, the k-means training sample and a
few GEMM tiles: nothing here copies the whole matrix.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from delbench.errors import DelbenchError
from delbench.progress import Progress, no_progress, scaled

# Within-cluster GEMM tiles: panels of 1024 rows against up to 8192 columns (32 MiB of float32).
# Smaller panels follow the lower triangle more closely (fewer FLOPs) but ran 2.5x slower on 2 cores:
# BLAS needs calls this large to run near peak, so a cluster of <= 1024 items is one square GEMM.
ROW_PANEL = 1024
BLOCK = 8192
# Clusters up to this many rows are gathered once; larger ones are gathered tile by tile.
MAX_GATHER_ROWS = 32768
# k-means trains on about this many points per centroid. faiss's own default is 256, but training
# cost is linear in it and deduplication needs only coarse clusters that keep near-duplicates together.
TRAIN_PER_CENTROID = 64
K_MAX = 1000


@dataclass(frozen=True)
class ClusterScores:
    """Per-item results of one clustering + within-cluster similarity pass.

    ``labels`` [N] int64 cluster of each item; ``centroid_sim`` [N] float32 cosine to its centroid;
    ``dup_score`` [N] float32 max cosine to any item of the same cluster ranked before it (nearer the
    centroid, or better by a pipeline's badness first; -inf for each cluster's first item); ``k`` the
    number of centroids; ``duplicate_kept`` says which member of a near-duplicate pair ranks first,
    as a subset's ``info`` records it.
    """

    labels: np.ndarray
    centroid_sim: np.ndarray
    dup_score: np.ndarray
    k: int
    duplicate_kept: str = "the nearer the centroid"


def default_k(n: int) -> int:
    """sqrt(N) clipped to [1, 1000]: balances assignment cost (N*k) against pairwise cost (N^2/k)."""
    return int(min(max(1, round(math.sqrt(n))), K_MAX, n))


def _cpu_has_avx2() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split()
                    return "avx2" in flags and "fma" in flags
    except OSError:
        pass
    return False


def import_faiss():
    """Import faiss so that its bundled OpenBLAS uses AVX2 kernels where the CPU has them.

    The OpenBLAS shipped inside faiss-cpu wheels predates some current Xeons and falls back to its
    generic (SSE3) kernels on them, which makes k-means 3-4x slower than the same GEMM in numpy.
    OpenBLAS reads ``OPENBLAS_CORETYPE`` once, when it loads; it is set only for the import (and only
    when the user has not set it), so numpy and child processes are unaffected.
    """
    import sys

    if "faiss" in sys.modules or "OPENBLAS_CORETYPE" in os.environ or not _cpu_has_avx2():
        import faiss

        return faiss
    os.environ["OPENBLAS_CORETYPE"] = "Haswell"
    try:
        import faiss
    finally:
        os.environ.pop("OPENBLAS_CORETYPE", None)
    return faiss


def set_threads(threads: int | None = None) -> int:
    """Set faiss's OpenMP threads to ``threads`` (default: the CPUs this process may use)."""
    faiss = import_faiss()

    if threads is None:
        try:
            threads = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - non-Linux
            threads = os.cpu_count() or 1
    faiss.omp_set_num_threads(int(threads))
    return int(threads)


def spherical_kmeans(
    x: np.ndarray,
    k: int | None = None,
    *,
    seed: int = 0,
    niter: int = 20,
    nredo: int = 1,
    train_per_centroid: int = TRAIN_PER_CENTROID,
    threads: int | None = None,
) -> np.ndarray:
    """Train spherical k-means (faiss) on L2-normalised ``x``; return unit-norm centroids [k, D] float32.

    Training uses a seeded subsample of at most ``k * train_per_centroid`` rows, so its cost and memory
    do not grow with N; assign every item afterwards with :func:`assign`. ``nredo`` > 1 trains that
    many times from different random starts and keeps the best objective.
    """
    faiss = import_faiss()

    n, d = x.shape
    k = default_k(n) if k is None else int(k)
    if not 1 <= k <= n:
        raise DelbenchError(f"k-means: k={k} must be between 1 and the number of items ({n}); lower k")
    set_threads(threads)
    rng = np.random.default_rng(seed)
    n_train = min(n, k * max(1, int(train_per_centroid)))
    rows = np.sort(rng.choice(n, size=n_train, replace=False)) if n_train < n else np.arange(n)
    sample = np.ascontiguousarray(x[rows], dtype=np.float32)  # fancy indexing: a private, writable copy
    km = faiss.Kmeans(
        d, k, niter=int(niter), nredo=max(1, int(nredo)), seed=int(seed) % (2**31), spherical=True, verbose=False,
        max_points_per_centroid=n_train, min_points_per_centroid=1,
    )
    km.train(sample)
    return np.ascontiguousarray(km.centroids, dtype=np.float32)


def assign(x: np.ndarray, centroids: np.ndarray, *, block: int = 16384,
           progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid (by cosine) of every row of ``x`` and the cosine to it, computed in row blocks."""
    n = x.shape[0]
    labels = np.empty(n, dtype=np.int64)
    sims = np.empty(n, dtype=np.float32)
    ct = np.ascontiguousarray(centroids.T)
    for start in range(0, n, block):
        s = x[start : start + block] @ ct
        best = np.argmax(s, axis=1)
        labels[start : start + len(s)] = best
        sims[start : start + len(s)] = s[np.arange(len(s)), best]
        if progress is not None:
            progress(min(1.0, (start + len(s)) / n), "assign")
    return labels, sims


def cluster_order(labels: np.ndarray, centroid_sim: np.ndarray,
                  badness: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Items grouped by cluster, nearest the centroid first (ties by index), or, given ``badness``,
    the least bad first and nearest the centroid among equals; and cluster boundaries."""
    keys = [-centroid_sim.astype(np.float64), labels]
    if badness is not None:
        keys.insert(1, np.asarray(badness, dtype=np.float64))
    order = np.lexsort(keys)
    counts = np.bincount(labels, minlength=int(labels.max()) + 1 if labels.size else 0)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    return order, bounds


def _panel_max(rows: np.ndarray, cols_of: Callable[[int, int], np.ndarray], a: int, b: int,
               col_block: int) -> np.ndarray:
    """Row-wise max of rows[a:b] . cols[j] over strictly earlier j < i, in column chunks."""
    best = np.full(b - a, -np.inf, dtype=np.float32)
    for c0 in range(0, b, col_block):
        c1 = min(c0 + col_block, b)
        s = rows @ cols_of(c0, c1).T
        if c1 > a:
            # Only strictly earlier items count: the item itself and later ones are masked out.
            s[np.arange(c0, c1)[None, :] >= np.arange(a, b)[:, None]] = -np.inf
        np.maximum(best, s.max(axis=1), out=best)
    return best


def within_cluster_scores(
    x: np.ndarray,
    labels: np.ndarray,
    centroid_sim: np.ndarray,
    *,
    block: int = ROW_PANEL,
    col_block: int = BLOCK,
    max_gather_rows: int = MAX_GATHER_ROWS,
    progress: Progress | None = None,
    badness: np.ndarray | None = None,
) -> np.ndarray:
    """For each item, max cosine to any item of its own cluster ranked before it.

    Ranking is by ``centroid_sim`` descending, ties by index; given ``badness`` (a pipeline's screen
    scores, higher worse), by badness ascending first. Each cluster's first item scores -inf (it has
    no earlier item). A panel of ``block`` rows is multiplied only against the rows
    before its end, so the GEMMs cover the lower triangle in steps of ``block`` rows, with tiles of
    at most ``block`` x ``col_block`` floats.
    """
    n = x.shape[0]
    score = np.full(n, -np.inf, dtype=np.float32)
    if n == 0:
        return score
    order, bounds = cluster_order(labels, centroid_sim, badness)
    total = float(np.sum(np.diff(bounds).astype(np.float64) ** 2)) or 1.0
    done = 0.0
    for c in range(len(bounds) - 1):
        members = order[bounds[c] : bounds[c + 1]]
        m = len(members)
        if m < 2:
            continue
        gathered = x[members] if m <= max_gather_rows else None

        def rows_of(a: int, b: int) -> np.ndarray:
            return gathered[a:b] if gathered is not None else x[members[a:b]]

        out = np.full(m, -np.inf, dtype=np.float32)
        # The first row never has an earlier item, so panels start at row 1.
        for a in range(1, m, block):
            b = min(a + block, m)
            out[a:b] = _panel_max(rows_of(a, b), rows_of, a, b, col_block)
        score[members] = out
        done += float(m) ** 2
        if progress is not None:
            progress(done / total, "within-cluster similarity")
    return score


def cluster_scores(
    x: np.ndarray,
    options: ClusterOptions | None = None,
    *,
    seed: int = 0,
    threads: int | None = None,
    progress: Progress | None = None,
    badness: np.ndarray | None = None,
) -> ClusterScores:
    """Spherical k-means (``options``, default ``ClusterOptions()``), assignment and within-cluster
    scores in one pass (see module docstring); ``badness`` ranks the items of a cluster first."""
    options = options or ClusterOptions()
    report = progress or no_progress
    if x.ndim != 2 or x.shape[0] == 0:
        raise DelbenchError(f"embeddings of shape {x.shape}: expected a non-empty [N, D] matrix")
    report(0.0, "k-means")
    centroids = options.centroids(x, seed, threads)
    report(0.3, "assign")
    labels, sims = assign(x, centroids, progress=scaled(progress, 0.3, 0.5))
    report(0.5, "within-cluster similarity")
    dup = within_cluster_scores(x, labels, sims, progress=scaled(progress, 0.5, 1.0), badness=badness)
    report(1.0, "scored")
    kept = "the nearer the centroid"
    if badness is not None:
        kept = "the better by the screen's badness, then the nearer the centroid"
    return ClusterScores(labels=labels, centroid_sim=sims, dup_score=dup, k=int(centroids.shape[0]),
                         duplicate_kept=kept)


def removal_order(primary: np.ndarray, seed: int) -> np.ndarray:
    """Indices sorted by ``primary`` descending, ties broken by a seeded permutation (deterministic).

    A selector removes the first N - round(R*N) of this order, so every ratio comes from one sort and
    the kept count is exact.
    """
    tie = np.random.default_rng(seed).permutation(primary.shape[0])
    return np.lexsort((tie, -primary.astype(np.float64)))


@dataclass(frozen=True)
class ClusterOptions:
    """The k-means settings of a cluster-based selector, checked once; ``owner`` names the selector
    in error messages. ``k`` None is :func:`default_k`."""

    owner: str = "k-means"
    k: int | None = None
    niter: int = 20
    nredo: int = 1
    train_per_centroid: int = TRAIN_PER_CENTROID

    def __post_init__(self) -> None:
        if self.k is not None and int(self.k) < 1:
            raise DelbenchError(f"{self.owner}: k={self.k!r} must be a positive number of clusters (or omitted for sqrt(N))")
        if int(self.niter) < 1:
            raise DelbenchError(f"{self.owner}: niter={self.niter!r} must be at least 1 k-means iteration")
        if int(self.nredo) < 1 or int(self.train_per_centroid) < 1:
            raise DelbenchError(f"{self.owner}: nredo and train_per_centroid must be >= 1")

    def centroids(self, x: np.ndarray, seed: int, threads: int | None = None) -> np.ndarray:
        """:func:`spherical_kmeans` of ``x`` with these settings."""
        return spherical_kmeans(x, None if self.k is None else int(self.k), seed=seed, niter=int(self.niter),
                                nredo=int(self.nredo), train_per_centroid=int(self.train_per_centroid), threads=threads)

    def check_k(self, n: int) -> None:
        """Refuse a ``k`` above the pool size ``n``, naming the selector."""
        if self.k is not None and int(self.k) > n:
            # clipping k silently would run (and record) a different method than the one asked for
            raise DelbenchError(f"{self.owner}: k={self.k!r} clusters exceeds the pool size ({n} items); "
                                f"give k <= {n} or omit it for sqrt(N)")

    def scores(self, request: Any) -> ClusterScores:
        """The cluster scores of a ``SelectionRequest``'s embeddings, seeded and reporting progress as it
        asks; a pipeline's ``request.badness`` ranks the items of a cluster."""
        embeddings = request.embeddings
        self.check_k(embeddings.shape[0])
        return cluster_scores(embeddings, self, seed=request.seed, progress=request.progress,
                              badness=getattr(request, "badness", None))
