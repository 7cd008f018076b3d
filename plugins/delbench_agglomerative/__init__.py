"""``agglomerative``: near-duplicate groups by agglomerative clustering; keep one item per group.

1. The embeddings are L2-normalised and clustered bottom-up (scipy's hierarchical clustering, average
   linkage on cosine distance by default): the two closest groups merge, again and again, until
   exactly round(R*N) groups are left.
2. Each group keeps one item: the member with the highest cosine to the group's mean direction.
   The others are removed with the reason ``duplicate``.

Where the budget matches the number of distinct images, a group is an image with its near-copies, so
this is the last stage that keeps one of each (``quality>agglomerative``). Unlike k-center greedy
(``coreset``), which keeps both members of a pair lying farther apart than its covering radius, and
SemDeDup (``dedup-only``), which compares items only within a k-means cluster, every merge here is
decided over the whole pool (or part, below) by distance alone.

Large pools: the pairwise distances of N items take N^2/2 floats, so a pool of more than ``2 *
block`` items is first split by spherical k-means (faiss, seeded) into parts of about ``block``
items, again inside any part still larger than that. Each part is clustered on its own, and the
merges of all parts are applied in one order, lowest distance first, until round(R*N) groups are
left: every part is cut at the same height, as one clustering of the whole pool would be wherever
no group spans two parts.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from delbench import hookimpl
from delbench.errors import DelbenchError
from delbench.selection import Selection, SelectionRequest, SelectsMany, check_ratio, target_count

LINKAGES = ("average", "complete", "single", "weighted")  # the ones whose merge heights never decrease


def _unit(x: np.ndarray) -> np.ndarray:
    """``x`` as L2-normalised float32 rows; ``x`` itself (no copy) when it already is."""
    x = np.asarray(x, dtype=np.float32)
    # in row blocks: np.linalg.norm would square the whole matrix at once
    norms = np.concatenate([np.sqrt(np.einsum("ij,ij->i", x[s : s + 65536], x[s : s + 65536]))
                            for s in range(0, x.shape[0], 65536)])[:, None] if x.shape[0] else np.ones((0, 1), np.float32)
    if np.all(np.abs(norms - 1) < 1e-4):
        return x
    return x / np.maximum(norms, np.float32(1e-12))


def partition(x: np.ndarray, block: int, seed: int) -> list[np.ndarray]:
    """Row indices of ``x`` split into parts of at most ``2 * block`` rows by spherical k-means,
    applied again inside any part still too large."""
    from delbench.select.similarity import assign, spherical_kmeans

    parts, todo = [], [np.arange(x.shape[0])]
    while todo:
        rows = todo.pop()
        if rows.size <= 2 * block:
            parts.append(rows)
            continue
        k = -(-rows.size // block)
        sub = x if rows.size == x.shape[0] else np.ascontiguousarray(x[rows])  # no copy of the whole pool
        labels, _ = assign(sub, spherical_kmeans(sub, k, seed=seed))
        split = [rows[labels == c] for c in range(k) if (labels == c).any()]
        if max(p.size for p in split) > 0.9 * rows.size:  # many identical items: k-means cannot split them, order can
            split = np.array_split(rows, k)
        todo.extend(split)
    return sorted(parts, key=lambda p: int(p[0]))


def _merges(x: np.ndarray, parts: list[np.ndarray], method: str, progress) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every part's merges as global leaf pairs, in one order, lowest height first: (a [M], b [M],
    height [M]). Merge j joins the group holding leaf a[j] with the group holding leaf b[j]."""
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

    a_all, b_all, h_all = [], [], []
    for i, rows in enumerate(parts):
        if rows.size >= 2:
            part = x[rows].astype(np.float64)
            dist = part @ part.T  # one matrix product: scipy's pdist does not use BLAS
            np.subtract(1.0, dist, out=dist)
            np.maximum(dist, 0.0, out=dist)
            np.fill_diagonal(dist, 0.0)
            z = linkage(squareform(dist, checks=False), method=method)
            del dist
            n = rows.size
            # a leaf standing for each merged group, so a merge can be named by two leaves
            leaf = np.empty(2 * n - 1, dtype=np.int64)
            leaf[:n] = np.arange(n)
            left, right = z[:, 0].astype(np.int64), z[:, 1].astype(np.int64)
            for j in range(n - 1):
                leaf[n + j] = leaf[left[j]]
            a_all.append(rows[leaf[left]])
            b_all.append(rows[leaf[right]])
            h_all.append(np.maximum.accumulate(np.maximum(z[:, 2], 0.0)))
        progress((i + 1) / len(parts), "agglomerative: clustering")
    if not a_all:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0)
    a, b, h = np.concatenate(a_all), np.concatenate(b_all), np.concatenate(h_all)
    order = np.argsort(h, kind="stable")  # ties keep each part's own order, so each part cuts a prefix
    return a[order], b[order], h[order]


def groups_after(n: int, a: np.ndarray, b: np.ndarray, merges: int) -> np.ndarray:
    """Group label of each of ``n`` items after the first ``merges`` merges: the connected components
    of the graph whose edges are those merges."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = coo_matrix((np.ones(merges, dtype=np.int8), (a[:merges], b[:merges])), shape=(n, n))
    return connected_components(edges, directed=False)[1].astype(np.int64)


def representatives(x: np.ndarray, labels: np.ndarray, block: int = 65536) -> np.ndarray:
    """The member of each group with the highest cosine to the group's mean direction (ties: lowest
    index), in index order."""
    from scipy.sparse import csr_matrix

    n = x.shape[0]
    _, inverse = np.unique(labels, return_inverse=True)
    g = int(inverse.max()) + 1
    # float32 weights: float64 ones would make scipy convert the whole matrix to float64 first
    means = _unit(csr_matrix((np.ones(n, dtype=np.float32), (inverse, np.arange(n))), shape=(g, n)) @ x)
    sims = np.concatenate([np.einsum("ij,ij->i", x[s : s + block], means[inverse[s : s + block]])
                           for s in range(0, n, block)])
    order = np.lexsort((np.arange(n), -sims, inverse))
    first = np.ones(n, dtype=bool)
    first[1:] = inverse[order[1:]] != inverse[order[:-1]]
    return np.sort(order[first])


class Agglomerative(SelectsMany):
    """Agglomerative clustering into round(R*N) near-duplicate groups; keep each group's most central member."""

    name = "agglomerative"

    def __init__(self, linkage: str = "average", block: int = 4096) -> None:
        if linkage not in LINKAGES:
            raise DelbenchError(f"agglomerative: linkage={linkage!r} is not one of {', '.join(LINKAGES)}")
        if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or int(block) < 2:
            raise DelbenchError(f"agglomerative: block={block!r} is the part size for large pools; use an integer >= 2")
        self.linkage, self.block = linkage, int(block)

    def select_many(self, request: SelectionRequest, ratios: Iterable[float]) -> dict[float, Selection]:
        ratios = [check_ratio(r) for r in ratios]
        n = request.n
        x = _unit(request.embeddings)
        parts = partition(x, self.block, request.seed)
        a, b, h = _merges(x, parts, self.linkage, request.progress)
        out = {}
        for r in ratios:
            keep = target_count(r, n)
            merges = min(n - keep, a.size)
            kept = representatives(x, groups_after(n, a, b, merges)) if merges else np.arange(n)
            reasons = {"duplicate": np.setdiff1d(np.arange(n), kept)}
            if kept.size > keep:  # fewer groups than parts: keep the most central representatives
                centre = _unit(x[kept].sum(axis=0, keepdims=True))[0]
                rank = np.lexsort((kept, -(x[kept] @ centre)))
                reasons["budget"] = np.sort(kept[rank[keep:]])
                kept = np.sort(kept[rank[:keep]])
            info = {"ratio": r, "linkage": self.linkage, "distance": "cosine", "groups": int(keep),
                    "parts": len(parts), "block": self.block,
                    # the largest distance at which two groups were merged into one
                    "cut_distance": float(h[merges - 1]) if merges else None}
            out[r] = Selection(indices=kept, reasons={k: v for k, v in reasons.items() if v.size}, info=info)
        request.progress(1.0, "done")
        return out


@hookimpl
def delbench_register_selectors(register):
    register(Agglomerative)
