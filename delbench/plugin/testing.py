"""Helpers for testing selectors, delbench's own and third-party ones alike.

A plugin package runs delbench's contract checks on its selector with::

    from delbench.testing import check_selector

    def test_contract():
        check_selector("my-selector")

and gets small synthetic inputs as pytest fixtures by adding ``pytest_plugins = ["delbench.testing"]``
to its top-level ``conftest.py``: ``delbench_embeddings``, ``delbench_pool``, ``delbench_request``
and ``delbench_register`` (registers a throwaway selector for the duration of one test).
"""
from __future__ import annotations

import contextlib
import json
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from delbench.errors import DelbenchError
from delbench.select.contract import Selection, SelectionRequest, run_selector, validate_selection

# The public helpers, each documented with its signature in docs/writing-a-selector.md (tested); the
# pytest fixtures join them below when pytest is importable.
__all__ = [
    "CONTRACT_RATIOS", "CONTRACT_SEED", "check_selector", "registered_selector", "make_request", "make_embeddings",
    "make_pool", "make_image_loader",
]

CONTRACT_RATIOS: tuple[float, ...] = (0.05, 0.2, 0.5, 1.0)
CONTRACT_SEED = 3


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


def make_pool(n: int, seed: int = 0, centers: int = 4, frames_per_video: int = 20) -> Any:
    """A pool manifest frame (the columns selectors may use) for ``n`` synthetic items."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    video = np.arange(n) // frames_per_video
    center = rng.integers(0, centers, size=video.max() + 1)[video]
    # ground truth as the synthetic DataDEL records it: runs of 4 frames form a near-duplicate group,
    # about 30% of the groups are disruptive
    group = np.arange(n) // 4
    kinds = np.array(["clean", "blur", "dark", "blank"])
    quality = kinds[np.where(rng.random(group.max() + 1) < 0.7, 0, rng.integers(1, len(kinds), group.max() + 1))][group]
    return pd.DataFrame(
        {
            "id": [f"pool-{i:06d}" for i in range(n)],
            "path": [f"pool/{i:06d}.png" for i in range(n)],
            "center": [f"C{c}" for c in center],
            "video": [f"V{v:04d}" for v in video],
            "frame": np.arange(n) % frames_per_video,
            "role": "pool",
            "gt_quality": quality,
            "gt_group": group,
        }
    )


def make_image_loader(n: int, seed: int = 0, size: int = 32) -> Callable[[Sequence[int]], Iterator[np.ndarray]]:
    """A ``load_images`` callable giving deterministic HxWx3 uint8 images for pool indices ``0..n-1``."""

    def load(indices: Sequence[int]) -> Iterator[np.ndarray]:
        for i in indices:
            if not 0 <= int(i) < n:
                raise IndexError(f"pool index {int(i)} outside [0, {n})")
            rng = np.random.default_rng([seed, int(i)])
            yield rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)

    return load


def make_request(ratio: float, seed: int = 0, n: int = 600, d: int = 32, data_seed: int = 0) -> SelectionRequest:
    """A complete request (embeddings, pool rows and an image loader) over ``n`` synthetic items."""
    emb = make_embeddings(n=n, d=d, seed=data_seed)
    return SelectionRequest(
        ratio=ratio, seed=seed, embeddings=emb, pool=make_pool(n, seed=data_seed), load_images=make_image_loader(n, data_seed)
    )


@contextlib.contextmanager
def registered_selector(factory: Callable[..., Any], name: str | None = None, description: str | None = None, *,
                        replace: bool = False) -> Iterator[Any]:
    """Register ``factory`` as a selector for the duration of the block; yields its registry entry.

    The selector is added through a throwaway plugin, exactly as an installed package would add it,
    and removed afterwards, so ``check_selector(name)`` and ``delbench`` functions see it meanwhile.
    A name an installed selector already has is a clash, unless ``replace=True``: then ``factory``
    shadows the installed selector inside the block (say, a working copy of it) and the installed
    one is back afterwards.
    """
    from delbench.plugin.hookspecs import hookimpl
    from delbench.plugin.manager import temporary_plugin

    selector_name = name or getattr(factory, "name", None)
    if not selector_name:
        raise ValueError(f"{factory!r} has no `name` attribute; pass name=")

    class _ThrowawayPlugin:
        @hookimpl
        def delbench_register_selectors(self, register: Callable[..., None]) -> None:
            register(factory, name=selector_name, description=description)

    with temporary_plugin(_ThrowawayPlugin(), name=f"test-{selector_name}", replace=replace) as plugins:
        yield plugins.selectors.get(selector_name)


def check_selector(name: str, params: dict[str, Any] | None = None, ratios: Sequence[float] = CONTRACT_RATIOS, n: int = 600) -> None:
    """Run the selector contract on the registered selector ``name``; raise on a breach.

    Checked, at every ratio: the answer passes the harness's validation (a ``Selection`` of unique
    integer pool indices, count within 1% of round(R*N)); items given a removal reason are in the
    pool and not kept; ``info`` is JSON-serialisable (it goes into ``subset.json``); the embeddings are
    untouched; a fresh instance with the same seed returns the same subset. A ``select_many``, if
    defined, must agree with ``select``. Harness validation failures raise ``DelbenchError`` with the
    harness's own message; the other checks raise ``AssertionError``.
    """
    from delbench.plugin.manager import get_plugins

    selectors = get_plugins().selectors
    if name not in selectors:
        # The registry's message lists what is available; say why this one may be missing.
        try:
            selectors.get(name)
        except DelbenchError as exc:
            raise DelbenchError(f"{exc} (is its package installed? `pip install -e .` in the package directory)") from None
    entry = selectors.get(name)
    selector = entry.create(**(params or {}))
    got = getattr(selector, "name", None)
    assert got == name, f"selector {name!r}: its instance has name {got!r}; set `name = {name!r}` on the class"
    answers: dict[float, Selection] = {}
    for ratio in ratios:
        request = make_request(ratio, seed=CONTRACT_SEED, n=n)
        before = np.array(request.embeddings, copy=True)
        answer = selector.select(request)
        assert isinstance(answer, Selection), f"{name}.select returned {type(answer).__name__}, not Selection"
        checked = validate_selection(name, answer, ratio, n)
        assert np.array_equal(before, request.embeddings), f"{name} modified the embeddings"
        _check_reasons(name, checked, ratio, n)
        _check_info(name, checked, ratio)
        fresh = entry.create(**(params or {})).select(make_request(ratio, seed=CONTRACT_SEED, n=n))
        again = validate_selection(name, fresh, ratio, n)
        assert np.array_equal(checked.indices, again.indices), (
            f"{name} is not deterministic: two runs with seed {CONTRACT_SEED} at ratio {ratio} kept different "
            "items (draw randomness from request.rng())"
        )
        answers[ratio] = checked
    if hasattr(selector, "select_many") and len(ratios) > 1:
        many = run_selector(selector, make_request(ratios[0], seed=CONTRACT_SEED, n=n), ratios=list(ratios))
        for ratio in ratios:
            assert np.array_equal(many[ratio].indices, answers[ratio].indices), (
                f"{name}: select_many and select disagree at ratio {ratio}"
            )


def _check_reasons(name: str, checked: Selection, ratio: float, n: int) -> None:
    for reason, removed in checked.reasons.items():
        assert not removed.size or (removed.min() >= 0 and removed.max() < n), (
            f"{name}: reasons[{reason!r}] holds an index outside the pool [0, {n}) at ratio {ratio}"
        )
        assert np.unique(removed).size == removed.size, f"{name}: reasons[{reason!r}] repeats an index at ratio {ratio}"
        assert not np.isin(removed, checked.indices).any(), (
            f"{name}: items given reason {reason!r} are also kept at ratio {ratio}"
        )


def _check_info(name: str, checked: Selection, ratio: float) -> None:
    from delbench.store.atomic import json_default

    try:
        json.dumps(checked.info, default=json_default)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{name}: info at ratio {ratio} is not JSON-serialisable ({exc})") from None


# pytest is a test-time dependency only: importing delbench.plugin.testing must work without it.
try:
    import pytest
except ImportError:  # pragma: no cover - environments without pytest get the plain functions only
    pytest = None  # type: ignore[assignment]

if pytest is not None:
    __all__ += ["delbench_embeddings", "delbench_pool", "delbench_request", "delbench_register"]

    @pytest.fixture
    def delbench_embeddings() -> np.ndarray:
        """600 x 32 read-only clustered embeddings with near-duplicates (``make_embeddings()``)."""
        return make_embeddings()

    @pytest.fixture
    def delbench_pool() -> Any:
        """The pool manifest rows matching ``delbench_embeddings`` (``make_pool(600)``)."""
        return make_pool(600)

    @pytest.fixture
    def delbench_request() -> SelectionRequest:
        """A ratio-0.2, seed-0 request over 600 items with embeddings, pool rows and images."""
        return make_request(0.2)

    @pytest.fixture
    def delbench_register() -> Iterator[Callable[..., Any]]:
        """``register(factory, name=None, replace=False)`` adds a throwaway selector, removed when the test
        ends (``registered_selector`` for one test)."""
        with contextlib.ExitStack() as stack:

            def register(factory: Callable[..., Any], name: str | None = None, description: str | None = None, *,
                         replace: bool = False) -> Any:
                return stack.enter_context(registered_selector(factory, name, description, replace=replace))

            yield register
