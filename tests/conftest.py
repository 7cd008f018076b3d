from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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


# --- the suite's real run of the `ci` protocol, shared --------------------------------------------

@pytest.fixture(scope="session")
def ci_regress(tmp_path_factory):
    """``delbench regress --protocol ci`` against the committed baseline, into a fresh cache: the one
    place the suite trains the ``ci`` protocol. Returns (CliRunner result, run directory, cache); later
    ``ci`` compares into that cache reuse its stages."""
    from click.testing import CliRunner

    from delbench.cli import cli

    base = tmp_path_factory.mktemp("ci")
    baseline = Path(__file__).resolve().parents[1] / "baselines" / "ci.json"
    result = CliRunner().invoke(cli, ["regress", "--protocol", "ci", "--baseline", str(baseline),
                                      "--out", str(base / "run"), "--cache", str(base / "cache")])
    return result, base / "run", base / "cache"


@dataclass
class CiRuns:
    """Two ``compare meddel random --protocol ci`` runs, seed 0 and seed 1, in ``base/runs``."""

    base: Path
    cache: Path
    seed0: Path
    seed1: Path
    seed0_output: str


@pytest.fixture(scope="session")
def ci_runs(ci_regress, tmp_path_factory) -> CiRuns:
    """``make demo``'s command under the ``ci`` protocol, one seed per run and made the way a user
    does (from the working directory, ``--out runs/...``); every stage comes from ``ci_regress``'s cache."""
    from click.testing import CliRunner

    from delbench.cli import cli

    _, _, cache = ci_regress
    base = tmp_path_factory.mktemp("ci-runs")
    outputs = {}
    here = os.getcwd()
    os.chdir(base)
    try:
        for seed, more in ((0, []), (1, ["--no-plots"])):
            result = CliRunner().invoke(cli, ["compare", "meddel", "random", "--protocol", "ci", "--seeds", str(seed),
                                              "--out", f"runs/seed{seed}", "--cache", str(cache), *more])
            assert result.exit_code == 0, result.output
            outputs[seed] = result.output
    finally:
        os.chdir(here)
    return CiRuns(base, cache, base / "runs" / "seed0", base / "runs" / "seed1", outputs[0])
