from __future__ import annotations

import numpy as np

from delbench.plugin.manager import get_plugins
from delbench.selection import SelectionRequest


def dedup(**params):
    return get_plugins().selectors.get("dedup-only").create(**params)


def test_removes_planted_duplicates_keeps_outliers(planted) -> None:
    n = len(planted.x)
    sel = dedup(k=planted.k).select(SelectionRequest(ratio=(n - len(planted.copies)) / n, seed=0, embeddings=planted.x))
    kept = set(sel.indices.tolist())
    assert set(planted.outliers.tolist()) <= kept, "dedup-only has no outlier step but dropped an outlier"
    for copy, original in planted.copies.items():
        assert (copy in kept) != (original in kept), f"pair ({original}, {copy}) not deduplicated"
    assert sorted(sel.reasons["duplicate"].tolist()) == sorted(set(range(n)) - kept)
    assert 0.5 < sel.info["threshold"] < 0.99
    assert abs(sel.info["eps"] - (1 - sel.info["threshold"])) < 1e-12


def test_first_item_of_each_cluster_stays_until_budget_forces_it(planted) -> None:
    sel = dedup(k=planted.k).select(SelectionRequest(ratio=0.005, seed=0, embeddings=planted.x))
    assert len(sel.indices) == round(0.005 * len(planted.x))
    assert sel.info["removed_budget"] > 0 and sel.info["threshold"] is None
    full = dedup(k=planted.k).select(SelectionRequest(ratio=1.0, seed=0, embeddings=planted.x))
    assert len(full.indices) == len(planted.x) and full.info["threshold"] == 1.0


def test_seed_changes_clustering_not_count(planted) -> None:
    a = dedup().select(SelectionRequest(ratio=0.5, seed=1, embeddings=planted.x))
    b = dedup().select(SelectionRequest(ratio=0.5, seed=2, embeddings=planted.x))
    assert len(a.indices) == len(b.indices) == round(0.5 * len(planted.x))
    assert np.array_equal(np.sort(a.indices), np.sort(dedup().select(SelectionRequest(ratio=0.5, seed=1, embeddings=planted.x)).indices))
