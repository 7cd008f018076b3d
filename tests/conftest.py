from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest



@dataclass
class Planted:
    """Clustered unit vectors with planted exact/near duplicates (copy -> original) and far outliers."""

    x: np.ndarray
    copies: dict[int, int]
    outliers: np.ndarray
    clusters: int
    # Fewer centroids than natural groups: each centroid is then worth more on a real group than on a
    # handful of stray points, so k-means does not park one on the outliers and hide them from epsilon.
    k: int = 4


def make_planted(seed: int = 0, clusters: int = 8, per_cluster: int = 40, d: int = 64,
                 n_exact: int = 12, n_near: int = 12, n_outliers: int = 4) -> Planted:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    # Spread so that unrelated items of a cluster sit near cosine 0.85 and 0.92 to their centroid.
    base = np.repeat(centres, per_cluster, axis=0) + 0.06 * rng.standard_normal((clusters * per_cluster, d))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    src = rng.choice(len(base), size=n_exact + n_near, replace=False)
    dups = base[src].copy()
    dups[n_exact:] += 0.003 * rng.standard_normal((n_near, d))
    dups /= np.linalg.norm(dups, axis=1, keepdims=True)
    # Outliers: directions orthogonal to every centre, so no centroid is within cosine 0.1 of them.
    raw = rng.standard_normal((n_outliers, d))
    q, _ = np.linalg.qr(centres.T)
    raw -= (raw @ q) @ q.T
    raw /= np.linalg.norm(raw, axis=1, keepdims=True)
    x = np.vstack([base, dups, raw]).astype(np.float32)
    n_base = len(base)
    copies = {n_base + i: int(s) for i, s in enumerate(src)}
    outliers = np.arange(n_base + len(dups), len(x))
    x.flags.writeable = False
    return Planted(x=x, copies=copies, outliers=outliers, clusters=clusters)


@pytest.fixture
def planted() -> Planted:
    return make_planted()


@pytest.fixture
def planted_factory():
    return make_planted
