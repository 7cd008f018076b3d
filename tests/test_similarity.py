from __future__ import annotations

import numpy as np
import pytest

from delbench.errors import DelbenchError
from delbench.select.similarity import (
    ClusterOptions,
    assign,
    cluster_scores,
    default_k,
    removal_order,
    spherical_kmeans,
    within_cluster_scores,
)
from delbench.testing import make_embeddings


def brute_force_scores(x: np.ndarray, labels: np.ndarray, sims: np.ndarray) -> np.ndarray:
    """O(n^2) reference: max cosine to any same-cluster item ranked nearer the centroid (ties by index)."""
    n = len(x)
    out = np.full(n, -np.inf, dtype=np.float64)
    for i in range(n):
        for j in range(n):
            if labels[j] != labels[i] or j == i:
                continue
            earlier = sims[j] > sims[i] or (sims[j] == sims[i] and j < i)
            if earlier:
                out[i] = max(out[i], float(x[i].astype(np.float64) @ x[j].astype(np.float64)))
    return out


@pytest.mark.parametrize("block,col_block,gather", [(256, 8192, 32768), (5, 7, 32768), (4, 3, 3), (1, 1, 2)])
def test_within_cluster_scores_match_brute_force(block: int, col_block: int, gather: int) -> None:
    x = make_embeddings(n=90, d=16, clusters=4, seed=1)
    labels = np.random.default_rng(0).integers(0, 3, size=len(x))
    sims = np.random.default_rng(1).random(len(x)).astype(np.float32)
    sims[:10] = sims[10:20]  # ties in rank are broken by index
    got = within_cluster_scores(x, labels, sims, block=block, col_block=col_block, max_gather_rows=gather)
    want = brute_force_scores(x, labels, sims)
    assert np.array_equal(np.isinf(got), np.isinf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], atol=1e-5)
    # One -inf per non-empty cluster: its nearest item has no earlier neighbour.
    assert np.isinf(got).sum() == len(np.unique(labels))


def test_cluster_scores_deterministic_and_consistent() -> None:
    x = make_embeddings(n=400, d=24, clusters=8, seed=2)
    a = cluster_scores(x, ClusterOptions(k=8), seed=5)
    b = cluster_scores(x, ClusterOptions(k=8), seed=5)
    assert a.k == 8
    for name in ("labels", "centroid_sim", "dup_score"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    want = brute_force_scores(x, a.labels, a.centroid_sim)
    finite = np.isfinite(want)
    np.testing.assert_allclose(a.dup_score[finite], want[finite], atol=1e-5)


def test_kmeans_centroids_are_unit_norm_and_assignment_is_nearest() -> None:
    x = make_embeddings(n=300, d=16, clusters=5, seed=3)
    c = spherical_kmeans(x, 5, seed=0)
    assert c.shape == (5, 16)
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0, atol=1e-5)
    labels, sims = assign(x, c, block=37)
    full = x @ c.T
    assert np.array_equal(labels, full.argmax(axis=1))
    np.testing.assert_allclose(sims, full.max(axis=1), atol=1e-6)


def test_default_k_and_bad_k() -> None:
    assert default_k(1) == 1
    assert default_k(10_000) == 100
    assert default_k(10**8) == 1000
    x = make_embeddings(n=20, d=8, clusters=2)
    with pytest.raises(DelbenchError, match="k=21"):
        spherical_kmeans(x, 21)


def test_removal_order_breaks_ties_by_seed() -> None:
    scores = np.array([0.5, 0.9, 0.5, 0.5, -np.inf, 0.9], dtype=np.float32)
    a = removal_order(scores, 1)
    assert set(a[:2]) == {1, 5} and a[-1] == 4
    assert np.array_equal(a, removal_order(scores, 1))
    orders = {tuple(removal_order(scores, s)) for s in range(10)}
    assert len(orders) > 1
