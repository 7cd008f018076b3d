from __future__ import annotations

import numpy as np
import pytest

from delbench.errors import DelbenchError
from delbench.plugin.manager import get_plugins
from delbench.selection import SelectionRequest, run_selector


def meddel(**params):
    return get_plugins().selectors.get("meddel").create(**params)


def request(x, ratio, seed=0):
    return SelectionRequest(ratio=ratio, seed=seed, embeddings=x)


def test_removes_planted_duplicates_and_outliers(planted) -> None:
    n = len(planted.x)
    budget = len(planted.copies) + len(planted.outliers)
    sel = meddel(k=planted.k).select(request(planted.x, (n - budget) / n))
    kept = set(sel.indices.tolist())
    assert not kept & set(planted.outliers.tolist()), "a planted outlier was kept"
    assert sorted(sel.reasons["outlier"].tolist()) == planted.outliers.tolist()
    for copy, original in planted.copies.items():
        assert (copy in kept) != (original in kept), f"pair ({original}, {copy}) not deduplicated"
    assert sel.info["removed_outlier"] == len(planted.outliers)
    assert sel.info["removed_duplicate"] == len(planted.copies)
    assert sel.info["epsilon_used"] == 0.9 and not sel.info["epsilon_relaxed"]
    # Unrelated items sit near cosine 0.6, planted copies above 0.99: eta lands between.
    assert 0.5 < sel.info["eta"] < 0.99


def test_relaxes_epsilon_when_outliers_exceed_the_budget(planted) -> None:
    sel = meddel(k=planted.k).select(request(planted.x, 1.0))
    assert len(sel.indices) == len(planted.x)
    assert sel.info["epsilon_relaxed"] and sel.info["epsilon_used"] > 0.9
    assert sel.info["removed_outlier"] == 0 and sel.info["eta"] == 1.0
    n = len(planted.x)
    half = meddel(k=planted.k).select(request(planted.x, (n - 3) / n))
    assert half.info["removed_outlier"] == 3 and half.info["epsilon_relaxed"]
    # The three most outlying go first; the kept ones are all closer than epsilon_used.
    assert set(half.reasons["outlier"].tolist()) < set(planted.outliers.tolist())


def test_without_outlier_step_equals_dedup_only(planted) -> None:
    for ratio in (0.3, 0.8):
        a = meddel(k=planted.k, epsilon=2.0).select(request(planted.x, ratio, seed=4))
        b = get_plugins().selectors.get("dedup-only").create(k=planted.k).select(request(planted.x, ratio, seed=4))
        assert np.array_equal(np.sort(a.indices), np.sort(b.indices))


def test_select_many_gives_every_ratio_from_one_pass(planted) -> None:
    ratios = [0.005, 0.05, 0.1, 0.2, 0.33, 0.5, 1.0]
    answers = run_selector(meddel(k=planted.k), request(planted.x, 0.005), ratios=ratios)
    sizes = [len(answers[r].indices) for r in ratios]
    assert sizes == [max(1, round(r * len(planted.x))) for r in ratios]
    # One removal order: a smaller subset is contained in every larger one.
    for small, large in zip(ratios, ratios[1:]):
        assert np.isin(answers[small].indices, answers[large].indices).all()
    # Very small budgets remove cluster representatives too, and say so.
    assert answers[0.005].reasons.get("budget") is not None


def test_bad_params() -> None:
    with pytest.raises(DelbenchError, match="epsilon"):
        meddel(epsilon=3)
    with pytest.raises(DelbenchError, match="k="):
        meddel(k=0)


def test_other_seed_same_data_still_dedups(planted_factory) -> None:
    p = planted_factory(seed=1)
    n = len(p.x)
    sel = meddel(k=p.k).select(request(p.x, (n - len(p.copies) - len(p.outliers)) / n, seed=9))
    kept = set(sel.indices.tolist())
    assert all((c in kept) != (o in kept) for c, o in p.copies.items())
