"""The ``prototypes`` selector: it keeps the items farthest from their k-means prototype (nearest with
``easy``), names why the others went, and keeps the selector contract."""
from __future__ import annotations

import numpy as np
import pytest

from delbench.errors import DelbenchError
from delbench.selection import SelectionRequest, run_selector, target_count
from delbench.testing import check_selector, registered_selector
from delbench_prototypes import Prototypes


def far_and_near(seed: int = 0, groups: int = 6, per: int = 50, far: int = 10, d: int = 32):
    """Tight groups plus ``far`` items that belong to a group but sit well away from its centre."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((groups, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    tight = np.repeat(centres, per, axis=0) + 0.03 * rng.standard_normal((groups * per, d))
    loose = centres[np.arange(far) % groups] + 0.12 * rng.standard_normal((far, d))
    x = np.vstack([tight, loose])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x = x.astype(np.float32)
    x.flags.writeable = False
    return x, np.arange(groups * per, groups * per + far)


def request(x: np.ndarray, ratio: float, seed: int = 0) -> SelectionRequest:
    return SelectionRequest(ratio=ratio, seed=seed, embeddings=x)


def test_keeps_the_farthest_items() -> None:
    x, far = far_and_near()
    sel = Prototypes(k=6).select(request(x, len(far) / len(x)))
    assert sorted(sel.indices.tolist()) == far.tolist()
    assert set(sel.reasons) == {"prototypes:easy"}
    assert not np.isin(far, sel.reasons["prototypes:easy"]).any()


def test_easy_keeps_the_nearest_items() -> None:
    x, far = far_and_near()
    sel = Prototypes(k=6, easy=True).select(request(x, 0.5))
    assert not np.isin(far, sel.indices).any()
    assert set(sel.reasons) == {"prototypes:hard"}
    assert np.isin(far, sel.reasons["prototypes:hard"]).all()


@pytest.mark.parametrize("easy", [False, True])
def test_threshold_separates_kept_from_removed(easy: bool) -> None:
    x, _ = far_and_near(seed=1)
    sel = Prototypes(k=6, easy=easy)
    dist, k = sel.distances(request(x, 0.3))
    answers = run_selector(sel, request(x, 0.3), ratios=[0.1, 0.3, 0.7])
    for r, a in answers.items():
        assert a.indices.size == target_count(r, len(x)) and a.info["k"] == k == 6
        t = a.info["distance_threshold"]
        (removed,) = a.reasons.values()
        if easy:
            assert dist[a.indices].max() == pytest.approx(t) and dist[removed].min() >= t - 1e-12
        else:
            assert dist[a.indices].min() == pytest.approx(t) and dist[removed].max() <= t + 1e-12
    # every ratio is a prefix of one order: a larger budget keeps a superset
    assert np.isin(answers[0.1].indices, answers[0.3].indices).all()
    assert np.isin(answers[0.3].indices, answers[0.7].indices).all()


def test_deterministic_by_seed() -> None:
    x, _ = far_and_near(seed=2)
    a = Prototypes().select(request(x, 0.2, seed=5)).indices
    b = Prototypes().select(request(x, 0.2, seed=5)).indices
    assert np.array_equal(np.sort(a), np.sort(b))


def test_bad_parameters_are_one_line_naming_them() -> None:
    x, _ = far_and_near()
    cases = [(lambda: Prototypes(k=0), "k="), (lambda: Prototypes(niter=0), "niter="),
             (lambda: Prototypes(k=len(x) + 1).select(request(x, 0.5)), "k=")]
    with registered_selector(Prototypes, replace=True) as entry:
        cases += [(lambda: entry.create(k=2.5), "k=2.5"), (lambda: entry.create(easy="maybe"), "easy=")]
        for make, words in cases:
            with pytest.raises(DelbenchError, match=words) as err:
                make()
            assert "\n" not in str(err.value)


def test_contract() -> None:
    with registered_selector(Prototypes, replace=True):  # the installed entry point, or this copy
        check_selector("prototypes")
        check_selector("prototypes", params={"easy": True, "k": 5}, ratios=(0.1, 0.9))

