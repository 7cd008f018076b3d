"""The ``agglomerative`` selector: at the ratio of the distinct items it keeps one item of every
near-duplicate group, the most central one; large pools cut every part at one height; it keeps the
selector contract."""
from __future__ import annotations

import numpy as np
import pytest

from delbench.errors import DelbenchError
from delbench.selection import SelectionRequest, run_selector, target_count
from delbench.testing import check_selector, registered_selector
from delbench_agglomerative import Agglomerative, groups_after


def copies(seed: int = 0, groups: int = 40, d: int = 32, spread: float = 0.02):
    """``groups`` distinct unit vectors, each with 0-3 near-copies; returns (x, group label of each row)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((groups, d))
    sizes = rng.integers(1, 5, groups)
    label = np.repeat(np.arange(groups), sizes)
    x = centres[label] + spread * rng.standard_normal((label.size, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    perm = rng.permutation(label.size)
    x = x[perm].astype(np.float32)
    x.flags.writeable = False
    return x, label[perm]


def request(x: np.ndarray, ratio: float, seed: int = 0) -> SelectionRequest:
    return SelectionRequest(ratio=ratio, seed=seed, embeddings=x)


@pytest.mark.parametrize("block", [4096, 16])
def test_keeps_one_item_of_every_group(block: int) -> None:
    x, label = copies()
    groups = int(label.max()) + 1
    sel = Agglomerative(block=block).select(request(x, groups / len(x)))
    assert sel.indices.size == groups
    assert sorted(label[sel.indices].tolist()) == list(range(groups))
    assert np.array_equal(np.sort(np.concatenate([sel.indices, sel.reasons["duplicate"]])), np.arange(len(x)))
    if block == 16:
        assert sel.info["parts"] > 1


def test_keeps_the_most_central_member() -> None:
    """Three copies on an arc: the middle one is nearest the group's mean direction."""
    t = np.deg2rad([0.0, 2.0, 4.0])
    arc = np.stack([np.cos(t), np.sin(t), np.zeros(3)], axis=1)
    far = np.array([[0.0, 0.0, 1.0]])
    x = np.vstack([arc[[0, 2, 1]], far]).astype(np.float32)
    sel = Agglomerative().select(request(x, 0.5))
    assert sel.indices.tolist() == [2, 3]


def test_parts_are_cut_at_one_height() -> None:
    """One part is a single image copied 100 times, the other 100 distinct images. Cut at one height,
    a budget of 101 groups keeps one copy and every distinct image, not half of each part."""
    from delbench.progress import no_progress
    from delbench_agglomerative import _merges, representatives

    rng = np.random.default_rng(1)
    base = np.zeros(16)
    base[0] = 1.0
    x = np.vstack([base + 0.001 * rng.standard_normal((100, 16)), rng.standard_normal((100, 16))])
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    a, b, h = _merges(x, [np.arange(100, 200), np.arange(100)], "average", no_progress)  # distinct part first
    assert a.size == 198 and np.all(np.diff(h) >= 0)
    kept = representatives(x, groups_after(200, a, b, 200 - 101))
    assert np.isin(np.arange(100, 200), kept).all()
    assert np.isin(np.arange(100), kept).sum() == 1


def test_every_ratio_meets_its_budget_even_with_ties() -> None:
    x, _ = copies(seed=2)
    x = np.vstack([x, x[:10], x[:10]])  # exact copies: zero distances, many equal heights
    answers = run_selector(Agglomerative(), request(x, 0.3), ratios=[0.01, 0.1, 0.3, 0.5, 0.99, 1.0])
    for r, a in answers.items():
        assert a.indices.size == target_count(r, len(x)), r
        assert np.unique(a.indices).size == a.indices.size
    assert answers[1.0].reasons == {}


def test_fewer_groups_than_parts_keeps_the_budget() -> None:
    x, _ = copies(seed=3, groups=60)
    sel = Agglomerative(block=8).select(request(x, 2 / len(x)))
    assert sel.indices.size == 2 and sel.info["parts"] > 2
    assert set(sel.reasons) == {"duplicate", "budget"}


def test_a_pool_of_copies_is_still_split_into_parts() -> None:
    """k-means cannot split identical items; the parts then follow the pool's order."""
    from delbench_agglomerative import partition

    x = np.zeros((300, 8), dtype=np.float32)
    x[:, 0] = 1.0
    x[-3:] = np.eye(8, dtype=np.float32)[1:4]
    parts = partition(x, 8, seed=0)
    assert max(p.size for p in parts) <= 16
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(300))
    sel = Agglomerative(block=8).select(request(x, 4 / 300))
    assert sel.indices.size == 4


def test_groups_after_counts_merges() -> None:
    a, b = np.array([0, 2, 0]), np.array([1, 3, 2])
    assert len(set(groups_after(4, a, b, 0).tolist())) == 4
    two = groups_after(4, a, b, 2)
    assert two[0] == two[1] != two[2] == two[3]
    assert len(set(groups_after(4, a, b, 3).tolist())) == 1


def test_seeded_and_deterministic() -> None:
    x, _ = copies(seed=4, groups=80)
    one = Agglomerative(block=16).select(request(x, 0.4, seed=5))
    two = Agglomerative(block=16).select(request(x, 0.4, seed=5))
    assert np.array_equal(one.indices, two.indices)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(DelbenchError, match="linkage"):
        Agglomerative(linkage="ward")
    with pytest.raises(DelbenchError, match="block"):
        Agglomerative(block=1)


def test_contract() -> None:
    with registered_selector(Agglomerative, replace=True):
        check_selector("agglomerative")
        check_selector("agglomerative", params={"linkage": "complete", "block": 8})
