"""The ``hkmeans`` selector: balanced sampling over a cluster hierarchy keeps every small cluster and
only a share of a huge near-duplicate one, the budget split is exact and even, and it keeps the
selector contract."""
from __future__ import annotations

import numpy as np
import pytest

from delbench.errors import DelbenchError
from delbench.selection import SelectionRequest, run_selector, target_count
from delbench.testing import check_selector, make_embeddings, registered_selector
from delbench_hkmeans import HKMeans, level_sizes
from delbench_hkmeans.balance import waterfill
from delbench_hkmeans.tree import build


def one_big_many_small(seed: int = 0, big: int = 2000, small: int = 10, per: int = 40, d: int = 32):
    """One huge group of near-duplicates (label 0) and ``small`` separate groups of ``per`` items."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((small + 1, d))
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    parts = [c[0] + 0.02 * rng.standard_normal((big, d))]
    parts += [c[i] + 0.15 * rng.standard_normal((per, d)) for i in range(1, small + 1)]
    x = np.vstack(parts)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x = x.astype(np.float32)
    x.flags.writeable = False
    return x, np.concatenate([np.zeros(big, dtype=int), np.repeat(np.arange(1, small + 1), per)])


def request(x: np.ndarray, ratio: float, seed: int = 0) -> SelectionRequest:
    return SelectionRequest(ratio=ratio, seed=seed, embeddings=x)


@pytest.mark.parametrize("strategy", ["r", "c"])
def test_balances_a_huge_cluster_against_small_ones(strategy: str) -> None:
    x, group = one_big_many_small()
    pool_share = (group == 0).mean()
    for ratio in (0.02, 0.05):
        kept = group[HKMeans(strategy=strategy).select(request(x, ratio)).indices]
        assert (kept == 0).mean() < 0.4 * pool_share, ((kept == 0).mean(), pool_share)
        assert len(set(kept[kept > 0])) >= 8, "small clusters went without"
    # the same budget drawn at random is dominated by the big cluster: the test can tell the two apart
    drawn = group[np.random.default_rng(0).choice(len(x), size=target_count(0.05, len(x)), replace=False)]
    assert (drawn == 0).mean() > 0.7


def big_share(levels: int, steps: int, seed: int) -> float:
    x, group = one_big_many_small(seed=seed)
    kept = group[HKMeans(levels=levels, resampling_steps=steps).select(request(x, 0.05, seed=seed)).indices]
    return float((kept == 0).mean())


def test_a_second_level_gathers_the_dense_clusters() -> None:
    # k-means puts most level-1 centroids in the big cluster, so one level alone gives it most of the
    # budget; level 2 clusters those centroids together and the big cluster gets one share.
    assert big_share(1, 5, 0) > 2 * big_share(2, 5, 0)


def test_resampling_moves_centroids_out_of_the_dense_cluster() -> None:
    seeds = range(8)
    plain = np.mean([big_share(1, 0, s) for s in seeds])
    resampled = np.mean([big_share(1, 5, s) for s in seeds])
    assert resampled < plain - 0.02, (plain, resampled)


def test_waterfill_is_exact_bounded_and_even() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        sizes = rng.integers(0, 30, size=rng.integers(1, 12))
        budget = int(rng.integers(0, sizes.sum() + 1))
        out, cap = waterfill(sizes, budget, rng)
        assert out.sum() == budget and (out <= sizes).all() and (out >= 0).all()
        short = out < sizes  # a group that gave fewer than all its items gave the most anyone did
        if short.any():
            assert out[short].min() >= out.max() - 1 and cap <= out[short].min()
    out, cap = waterfill(np.array([1, 5, 10, 2]), 10, np.random.default_rng(0))
    assert cap == 3 and out.tolist()[::3] == [1, 2] and sorted(out.tolist()[1:3]) == [3, 4]


def test_exact_count_and_one_reason() -> None:
    x = make_embeddings(n=500, d=16, seed=3)
    answers = run_selector(HKMeans(), request(x, 0.1), ratios=[0.01, 0.1, 0.33, 0.9, 1.0])
    for r, a in answers.items():
        assert a.indices.size == target_count(r, 500)
        assert a.reasons["hkmeans:balance"].size == 500 - a.indices.size
    assert answers[1.0].info["clusters_whole"] == answers[1.0].info["k"][0]


def test_nearest_strategy_takes_each_cluster_from_its_centroid_out() -> None:
    x = make_embeddings(n=400, d=16, seed=4)
    sel = HKMeans(strategy="c").select(request(x, 0.2, seed=2))
    ks, sizes = level_sizes(400, [None, None], [None, None])
    tree = build(x, ks, sizes, 5, 20, 2)  # the selector's own hierarchy: same seed, same settings
    kept = np.zeros(400, dtype=bool)
    kept[sel.indices] = True
    for c in np.unique(tree.labels[kept]):
        member = tree.labels == c
        if (member & ~kept).any():
            assert tree.sims[member & kept].min() >= tree.sims[member & ~kept].max()


def test_defaults_follow_the_pool_size() -> None:
    assert level_sizes(100_000, [None, None], [None, None]) == ([316, 18], [158, 9])
    assert level_sizes(600, [None] * 3, [None] * 3) == ([24, 5, 2], [12, 2, 1])
    assert level_sizes(10, [None, None], [None, None])[0] == [2, 1]
    info = HKMeans(k="30,4", sample_size=[5]).select(request(make_embeddings(n=300, d=8), 0.3)).info
    assert info["k"] == [30, 4] and info["sample_size"] == [5, 4]
    no_resampling = HKMeans(sample_size="1,1").select(request(make_embeddings(n=300, d=8), 0.3)).info
    assert no_resampling["sample_size"] == [0, 0]


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_tiny_pools(n: int) -> None:
    x = make_embeddings(n=max(n, 2), d=4)[:n]
    assert HKMeans().select(request(x, 0.5)).indices.size == target_count(0.5, n)


def test_deterministic_by_seed() -> None:
    x, _ = one_big_many_small(seed=2)
    a = HKMeans().select(request(x, 0.05, seed=7)).indices
    b = HKMeans().select(request(x, 0.05, seed=7)).indices
    c = HKMeans().select(request(x, 0.05, seed=8)).indices
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_bad_parameters_are_one_line_naming_them() -> None:
    x = make_embeddings(n=100, d=8)
    cases = [(lambda: HKMeans(levels=0), "levels="), (lambda: HKMeans(levels=9), "levels="),
             (lambda: HKMeans(k="a,b"), "k="), (lambda: HKMeans(k="10,0"), "k="),
             (lambda: HKMeans(k="10,5,2"), "k="), (lambda: HKMeans(sample_size="x"), "sample_size="),
             (lambda: HKMeans(resampling_steps=-1), "resampling_steps="), (lambda: HKMeans(strategy="x"), "strategy="),
             (lambda: HKMeans(niter=0), "niter="),
             (lambda: HKMeans(k=101).select(request(x, 0.5)), "k gives level 1 101 clusters"),
             (lambda: HKMeans(k="10,20").select(request(x, 0.5)), "k gives level 2 20 clusters")]
    with registered_selector(HKMeans, replace=True) as entry:
        cases += [(lambda: entry.create(strategy="random"), "strategy="), (lambda: entry.create(levels=1.5), "levels="),
                  (lambda: entry.create(k=[10, "x"]), "k=")]
        for make, words in cases:
            with pytest.raises(DelbenchError, match=words) as err:
                make()
            assert "\n" not in str(err.value)


def test_contract() -> None:
    with registered_selector(HKMeans, replace=True):  # the installed entry point, or this copy
        check_selector("hkmeans")
        check_selector("hkmeans", params={"levels": 3, "strategy": "c", "k": "40"}, ratios=(0.1, 0.9))
        check_selector("hkmeans", params={"levels": 1, "resampling_steps": 0}, ratios=(0.3,))
