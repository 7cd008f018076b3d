from __future__ import annotations

import itertools

import numpy as np
import pytest

from delbench.errors import DelbenchError
from delbench.plugin.manager import get_plugins
from delbench.selection import SelectionRequest
from delbench.testing import make_embeddings


def coreset(**params):
    return get_plugins().selectors.get("coreset").create(**params)


def radius(x: np.ndarray, centres) -> float:
    d = np.linalg.norm(x[:, None, :].astype(np.float64) - x[None, list(centres), :], axis=2)
    return float(d.min(axis=1).max())


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [2, 3, 4])
def test_within_twice_the_brute_force_optimum(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((12, 3)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    best = min(radius(x, c) for c in itertools.combinations(range(12), k))
    for s in range(4):
        sel = coreset().select(SelectionRequest(ratio=k / 12, seed=s, embeddings=x))
        assert len(sel.indices) == k
        r = radius(x, sel.indices)
        assert r <= 2 * best + 1e-6, f"greedy radius {r} > 2 x optimum {best}"
        assert sel.info["covering_radius"] == pytest.approx(r, abs=1e-4)


def test_radius_decreases_as_ratio_grows() -> None:
    x = make_embeddings(n=500, d=24, seed=4)
    radii = [coreset().select(SelectionRequest(ratio=r, seed=0, embeddings=x)).info["covering_radius"]
             for r in (0.02, 0.05, 0.2, 0.5)]
    assert all(a >= b for a, b in zip(radii, radii[1:])), radii
    assert radii[-1] < radii[0]
    assert coreset().select(SelectionRequest(ratio=1.0, seed=0, embeddings=x)).info["covering_radius"] == 0.0


def test_never_repeats_among_exact_duplicates() -> None:
    x = np.tile(np.eye(4, dtype=np.float32)[:1], (10, 1))
    sel = coreset().select(SelectionRequest(ratio=0.7, seed=0, embeddings=x))
    assert len(np.unique(sel.indices)) == 7


def test_approximate_mode_says_so() -> None:
    x = make_embeddings(n=400, d=64, seed=5)
    exact = coreset().select(SelectionRequest(ratio=0.1, seed=0, embeddings=x))
    approx = coreset(approx_dim=16).select(SelectionRequest(ratio=0.1, seed=0, embeddings=x))
    assert approx.info["mode"] == "random-projection" and approx.info["approx_dim"] == 16
    assert approx.info["covering_radius"] == pytest.approx(radius(x, approx.indices), abs=1e-4)
    assert exact.info["mode"] == "exact"
    assert approx.info["covering_radius"] < 2.5 * exact.info["covering_radius"]
    with pytest.raises(DelbenchError, match="approx_dim"):
        coreset(approx_dim=-1)
