"""Helpers for testing selectors, delbench's own and third-party ones alike.

A plugin package runs delbench's contract checks on its selector with::

    from delbench.testing import check_selector

    def test_contract():
        check_selector("my-selector")
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np

from delbench.selection import Selection, SelectionRequest, run_selector, target_count, validate_selection

CONTRACT_RATIOS: tuple[float, ...] = (0.05, 0.2, 0.5, 1.0)


def make_embeddings(n: int = 600, d: int = 32, clusters: int = 12, seed: int = 0, dup_fraction: float = 0.3) -> np.ndarray:
    """Clustered, L2-normalised float32 embeddings with a share of near-duplicates, read-only."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, d)).astype(np.float32)
    labels = rng.integers(0, clusters, size=n)
    x = centers[labels] + 0.6 * rng.standard_normal((n, d)).astype(np.float32)
    n_dup = int(dup_fraction * n)
    src = rng.integers(0, n - n_dup, size=n_dup)
    x[n - n_dup :] = x[src] + 0.01 * rng.standard_normal((n_dup, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x.flags.writeable = False
    return x


def make_pool(n: int, seed: int = 0, centers: int = 4, frames_per_video: int = 20) -> "Any":
    """A pool manifest frame (the columns selectors may use) for ``n`` synthetic items."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    video = np.arange(n) // frames_per_video
    center = rng.integers(0, centers, size=video.max() + 1)[video]
    return pd.DataFrame(
        {
            "id": [f"pool-{i:06d}" for i in range(n)],
            "path": [f"pool/{i:06d}.png" for i in range(n)],
            "center": [f"C{c}" for c in center],
            "video": [f"V{v:04d}" for v in video],
            "frame": np.arange(n) % frames_per_video,
            "role": "pool",
        }
    )


def make_image_loader(n: int, seed: int = 0, size: int = 32) -> Any:
    """A ``load_images`` callable giving deterministic HxWx3 uint8 images for pool indices."""

    def load(indices: Sequence[int]) -> Iterator[np.ndarray]:
        for i in indices:
            rng = np.random.default_rng([seed, int(i)])
            yield rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)

    return load


def make_request(ratio: float, seed: int = 0, n: int = 600, d: int = 32, data_seed: int = 0) -> SelectionRequest:
    emb = make_embeddings(n=n, d=d, seed=data_seed)
    return SelectionRequest(
        ratio=ratio, seed=seed, embeddings=emb, pool=make_pool(n, seed=data_seed), load_images=make_image_loader(n, data_seed)
    )


def check_selector(name: str, params: dict[str, Any] | None = None, ratios: Sequence[float] = CONTRACT_RATIOS, n: int = 600) -> None:
    """Run the selector contract on the registered selector ``name``; raise AssertionError on a breach.

    Checked: every ratio is honoured (count within 1% of round(R*N)), indices are valid unique
    integers, the same seed gives the same subset, the embeddings are not modified, and a one-pass
    ``select_many`` (if defined) agrees with ``select``.
    """
    from delbench.plugins import get_plugins

    entry = get_plugins().selectors.get(name)
    selector = entry.create(**(params or {}))
    assert getattr(selector, "name", None) == name, f"selector {name!r} instance has name {getattr(selector, 'name', None)!r}"
    for ratio in ratios:
        request = make_request(ratio, seed=3, n=n)
        before = np.array(request.embeddings, copy=True)
        first = selector.select(request)
        assert isinstance(first, Selection), f"{name}.select returned {type(first).__name__}, not Selection"
        checked = validate_selection(name, first, ratio, n)  # raises DelbenchError with the reason
        assert checked.indices.size == target_count(ratio, n) or abs(checked.indices.size - target_count(ratio, n)) <= max(1, 0.01 * target_count(ratio, n))
        assert np.array_equal(before, request.embeddings), f"{name} modified the embeddings"
        again = validate_selection(name, entry.create(**(params or {})).select(make_request(ratio, seed=3, n=n)), ratio, n)
        assert np.array_equal(checked.indices, again.indices), f"{name} is not deterministic for seed 3 at ratio {ratio}"
        for reason, removed in checked.reasons.items():
            assert not np.isin(removed, checked.indices).any(), f"{name}: items marked {reason!r} are also kept"
    if hasattr(selector, "select_many"):
        many = run_selector(selector, make_request(ratios[0], seed=3, n=n), ratios=list(ratios))
        for ratio in ratios:
            single = validate_selection(name, selector.select(make_request(ratio, seed=3, n=n)), ratio, n)
            assert np.array_equal(many[ratio].indices, single.indices), (
                f"{name}: select_many and select disagree at ratio {ratio}"
            )
