"""The ground-truth reference selectors: what they keep first, and their refusal without ground truth."""
from __future__ import annotations

import numpy as np
import pytest

from delbench.errors import DelbenchError
from delbench.plugin.manager import get_plugins
from delbench.testing import make_request


def _select(name: str, ratio: float, seed: int = 0):
    request = make_request(ratio, seed=seed, n=600)
    kept = get_plugins().selectors.get(name).create().select(request).indices
    pool = request.pool
    return np.asarray(kept), pool["gt_quality"].to_numpy() == "clean", pool["gt_group"].to_numpy()


def test_oracle_keeps_clean_distinct_frames_first():
    kept, clean, group = _select("oracle", 0.15)
    assert kept.size < len(np.unique(group[clean]))
    assert clean[kept].all()
    assert len(np.unique(group[kept])) == kept.size  # one per group while distinct clean groups remain


def test_oracle_then_further_clean_frames_then_disruptive():
    n_clean = int(_select("oracle", 0.2)[1].sum())
    kept, clean, group = _select("oracle", round(n_clean / 600, 3))
    assert clean[kept].mean() > 0.99  # every clean frame before any disruptive one
    assert len(np.unique(group[clean])) == len(np.unique(group[kept][clean[kept]]))
    kept, clean, _ = _select("oracle", 0.9)
    assert (~clean).sum() - (~clean[kept]).sum() == 60  # only disruptive frames are left out


def test_adversary_keeps_disruptive_frames_then_whole_groups():
    kept, clean, group = _select("adversary", 0.1)
    assert not clean[kept].any()
    n_bad = int((~clean).sum())
    kept, clean, group = _select("adversary", (n_bad + 40) / 600)
    extra = kept[clean[kept]]
    # 40 clean frames in groups of 4: ten whole groups, the fewest possible
    assert len(np.unique(group[extra])) == 10


def test_seeds_change_the_choice_within_a_tier():
    a, *_ = _select("oracle", 0.1, seed=1)
    b, *_ = _select("oracle", 0.1, seed=2)
    assert not np.array_equal(np.sort(a), np.sort(b))


@pytest.mark.parametrize("name", ["oracle", "adversary"])
def test_refuses_a_pool_without_ground_truth(name):
    request = make_request(0.2)
    bare = request.pool.drop(columns=["gt_quality"])
    from dataclasses import replace

    with pytest.raises(DelbenchError, match="no ground truth") as err:
        get_plugins().selectors.get(name).create().select(replace(request, pool=bare))
    assert "\n" not in str(err.value)
    with pytest.raises(DelbenchError, match="no ground truth"):
        get_plugins().selectors.get(name).create().select(replace(request, pool=None))
