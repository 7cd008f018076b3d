"""A screen's badness reaches the later stages of a pipeline, and the deduplicating stages (``meddel``,
``dedup-only``) keep the better of two near-duplicates by it."""
from __future__ import annotations

import numpy as np
import pytest

from delbench.errors import DelbenchError
from delbench.plugin.manager import get_plugins
from delbench.select.similarity import within_cluster_scores
from delbench.selection import Selection, SelectionRequest, SelectsMany, target_count
from delbench.testing import make_request, registered_selector


class Scored(SelectsMany):
    """A screen that removes the items of the lowest ``cut`` first coordinates and scores every item
    by ``-first coordinate * weight`` (lower coordinate = worse)."""

    name = "scored"

    def __init__(self, cut: int = 10, weight: float = 1.0, shape_off: bool = False, nan_at: int = -1) -> None:
        self.cut, self.weight, self.shape_off, self.nan_at = cut, weight, shape_off, nan_at

    def screen(self, request: SelectionRequest) -> Selection:
        first = request.embeddings[:, 0].astype(np.float64)
        badness = -first * self.weight
        if self.nan_at >= 0:
            badness[self.nan_at] = np.nan
        if self.shape_off:
            badness = badness[1:]
        order = np.argsort(first, kind="stable")
        return Selection(indices=np.sort(order[self.cut:]), badness=badness)

    def select_many(self, request, ratios):
        order = np.argsort(request.embeddings[:, 0], kind="stable")
        return {r: Selection(indices=np.sort(order[request.n - target_count(r, request.n):])) for r in ratios}


class Plain(Scored):
    """A second screen that removes nothing and scores every item by its second coordinate."""

    name = "plain"

    def screen(self, request: SelectionRequest) -> Selection:
        return Selection(indices=np.arange(request.n), badness=request.embeddings[:, 1].astype(np.float64) * 5)


class Seen(SelectsMany):
    """The last stage: keeps the first items and records the badness it was given."""

    name = "seen"
    given: list[np.ndarray | None] = []

    def select_many(self, request, ratios):
        type(self).given.append(None if request.badness is None else np.array(request.badness))
        return {r: Selection(indices=np.arange(target_count(r, request.n))) for r in ratios}


@pytest.fixture
def stages(monkeypatch):
    monkeypatch.setattr(Seen, "given", [])
    with registered_selector(Scored), registered_selector(Plain), registered_selector(Seen):
        yield get_plugins().selectors


def test_the_last_stage_gets_the_survivors_badness(stages):
    request = make_request(0.3, n=100)
    stages.get("scored>seen").create().select(request)
    first = request.embeddings[:, 0].astype(np.float64)
    survivors = np.sort(np.argsort(first, kind="stable")[10:])
    (given,) = Seen.given
    assert given is not None and np.array_equal(given, -first[survivors])


def test_badness_is_the_worst_over_the_screens(stages):
    request = make_request(0.3, n=100)
    stages.get("scored>plain>seen").create().select(request)
    first, second = (request.embeddings[:, j].astype(np.float64) for j in (0, 1))
    survivors = np.sort(np.argsort(first, kind="stable")[10:])
    (given,) = Seen.given
    assert np.array_equal(given, np.maximum(-first[survivors], 5 * second[survivors]))


def test_outside_a_pipeline_there_is_no_badness(stages):
    stages.get("seen").create().select(make_request(0.3, n=50))
    assert Seen.given == [None]


@pytest.mark.parametrize("params, message", [
    ({"scored.shape_off": True}, "badness of shape (99,), expected one value for each of the 100 items"),
    ({"scored.nan_at": 7}, "non-finite badness for item 7"),
])
def test_a_bad_badness_is_one_line(stages, params, message):
    with pytest.raises(DelbenchError, match="selector 'scored': screen gave") as err:
        stages.get("scored>seen").create(**params).select(make_request(0.3, n=100))
    assert message in str(err.value) and "\n" not in str(err.value)


def pairs(n_pairs: int = 20, d: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n_pairs`` well-separated near-duplicate pairs. In each pair the *worse* member (badness 1) is a
    shrunk copy pulled toward the pool's mean direction, as a blurred frame is, so it lies nearer the
    cluster centroid; the better member has badness 0. Returns (unit embeddings, badness)."""
    rng = np.random.default_rng(seed)
    good = rng.standard_normal((n_pairs, d))
    good /= np.linalg.norm(good, axis=1, keepdims=True)
    mean = good.mean(axis=0)
    bad = good + 0.08 * mean / np.linalg.norm(mean)
    x = np.concatenate([good, bad]).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, np.concatenate([np.zeros(n_pairs), np.ones(n_pairs)])


def test_within_cluster_scores_rank_by_badness_first():
    x = np.float32([[1, 0], [1, 0], [0, 1]])
    labels = np.zeros(3, dtype=np.int64)
    near_first = within_cluster_scores(x, labels, np.float32([0.9, 0.8, 0.1]))
    assert near_first[0] == -np.inf and near_first[1] == pytest.approx(1.0)  # the farther copy scores
    better_first = within_cluster_scores(x, labels, np.float32([0.9, 0.8, 0.1]), badness=np.array([1.0, 0.0, 0.0]))
    assert better_first[1] == -np.inf and better_first[0] == pytest.approx(1.0)  # the worse copy scores


class Badness(SelectsMany):
    """A screen that removes nothing and reports a fixed badness (set on the class by a test)."""

    name = "fixedbad"
    values: np.ndarray = np.zeros(0)

    def screen(self, request: SelectionRequest) -> Selection:
        return Selection(indices=np.arange(request.n), badness=type(self).values)

    def select_many(self, request, ratios):
        return {r: Selection(indices=np.arange(target_count(r, request.n))) for r in ratios}


@pytest.mark.parametrize("last", ["meddel", "dedup-only"])
def test_dedup_stages_keep_the_better_of_two_near_duplicates(last, monkeypatch):
    x, badness = pairs()
    n_pairs = len(x) // 2
    monkeypatch.setattr(Badness, "values", badness)
    request = SelectionRequest(ratio=0.5, seed=0, embeddings=x)
    own = {"k": 1, **({"epsilon": 2.0} if last == "meddel" else {})}  # one cluster, no outlier step
    params = {f"{last}.{k}": v for k, v in own.items()}
    with registered_selector(Badness):
        plain = get_plugins().selectors.get(last).create(**own).select(request)
        screened = get_plugins().selectors.get(f"fixedbad>{last}").create(**params).select(request)
    # the paper's rule keeps the member nearer the centroid: the worse one of every pair
    assert np.array_equal(np.sort(plain.indices), np.arange(n_pairs, 2 * n_pairs))
    assert np.array_equal(np.sort(screened.indices), np.arange(n_pairs))
    assert screened.info[last]["duplicate_kept"].startswith("the better by the screen's badness")
    assert plain.info["duplicate_kept"] == "the nearer the centroid"

