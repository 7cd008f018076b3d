from __future__ import annotations

import numpy as np
import pytest

from delbench.plugin.manager import get_plugins, load_plugins
from delbench.testing import check_selector, make_request

SELECTORS = load_plugins().selectors.names()


def test_builtins_registered() -> None:
    assert {"random", "meddel", "dedup-only", "coreset"} <= set(SELECTORS)


@pytest.mark.parametrize("name", SELECTORS)
def test_contract(name: str) -> None:
    check_selector(name)


def test_random_seeds_differ() -> None:
    sel = get_plugins().selectors.get("random").create()
    a = sel.select(make_request(0.2, seed=1)).indices
    b = sel.select(make_request(0.2, seed=2)).indices
    assert not np.array_equal(np.sort(a), np.sort(b))


def test_random_stratified_keeps_each_centre_share() -> None:
    sel = get_plugins().selectors.get("random").create(stratify="center")
    req = make_request(0.2, seed=1)
    kept = np.asarray(sel.select(req).indices)
    centre = req.pool["center"].to_numpy()
    for c in np.unique(centre):
        share = (centre == c).sum() * 0.2
        assert abs((centre[kept] == c).sum() - share) <= 1, c
