from __future__ import annotations

import numpy as np
import pytest

from delbench.errors import DelbenchError
from delbench.plugin.manager import get_plugins
from delbench.selection import SelectionRequest, run_selector


def meddel(**params):
    return get_plugins().selectors.get("meddel").create(**params)


def request(x, ratio, seed=0):
    return SelectionRequest(ratio=ratio, seed=seed, embeddings=x)


def test_removes_planted_duplicates_and_outliers(planted) -> None:
    n = len(planted.x)
    budget = len(planted.copies) + len(planted.outliers)
    sel = meddel(k=planted.k).select(request(planted.x, (n - budget) / n))
    kept = set(sel.indices.tolist())
    assert not kept & set(planted.outliers.tolist()), "a planted outlier was kept"
    assert sorted(sel.reasons["outlier"].tolist()) == planted.outliers.tolist()
    for copy, original in planted.copies.items():
        assert (copy in kept) != (original in kept), f"pair ({original}, {copy}) not deduplicated"
    assert sel.info["removed_outlier"] == len(planted.outliers)
    assert sel.info["removed_duplicate"] == len(planted.copies)
    assert sel.info["epsilon_used"] == 0.9 and not sel.info["epsilon_relaxed"]
    # Unrelated items sit near cosine 0.6, planted copies above 0.99: eta lands between.
    assert 0.5 < sel.info["eta"] < 0.99


def test_relaxes_epsilon_when_outliers_exceed_the_budget(planted) -> None:
    sel = meddel(k=planted.k).select(request(planted.x, 1.0))
    assert len(sel.indices) == len(planted.x)
    assert sel.info["epsilon_relaxed"] and sel.info["epsilon_used"] > 0.9
    assert sel.info["removed_outlier"] == 0 and sel.info["eta"] == 1.0
    n = len(planted.x)
    half = meddel(k=planted.k).select(request(planted.x, (n - 3) / n))
    assert half.info["removed_outlier"] == 3 and half.info["epsilon_relaxed"]
    # The three most outlying go first; the kept ones are all closer than epsilon_used.
    assert set(half.reasons["outlier"].tolist()) < set(planted.outliers.tolist())


def test_without_outlier_step_equals_dedup_only(planted) -> None:
    for ratio in (0.3, 0.8):
        a = meddel(k=planted.k, epsilon=2.0).select(request(planted.x, ratio, seed=4))
        b = get_plugins().selectors.get("dedup-only").create(k=planted.k).select(request(planted.x, ratio, seed=4))
        assert np.array_equal(np.sort(a.indices), np.sort(b.indices))


def test_select_many_gives_every_ratio_from_one_pass(planted) -> None:
    ratios = [0.005, 0.05, 0.1, 0.2, 0.33, 0.5, 1.0]
    answers = run_selector(meddel(k=planted.k), request(planted.x, 0.005), ratios=ratios)
    sizes = [len(answers[r].indices) for r in ratios]
    assert sizes == [max(1, round(r * len(planted.x))) for r in ratios]
    # One removal order: a smaller subset is contained in every larger one.
    for small, large in zip(ratios, ratios[1:]):
        assert np.isin(answers[small].indices, answers[large].indices).all()
    # Very small budgets remove cluster representatives too, and say so.
    assert answers[0.005].reasons.get("budget") is not None


def test_bad_params() -> None:
    with pytest.raises(DelbenchError, match="epsilon"):
        meddel(epsilon=3)
    with pytest.raises(DelbenchError, match="k="):
        meddel(k=0)


def test_other_seed_same_data_still_dedups(planted_factory) -> None:
    p = planted_factory(seed=1)
    n = len(p.x)
    sel = meddel(k=p.k).select(request(p.x, (n - len(p.copies) - len(p.outliers)) / n, seed=9))
    kept = set(sel.indices.tolist())
    assert all((c in kept) != (o in kept) for c, o in p.copies.items())


def _mild_outliers(seed: int = 0, clusters: int = 4, per_cluster: int = 80, d: int = 64, n_out: int = 16):
    """Clusters plus outliers at about cosine 0.64 to a centre: far from the rest, yet closer to their
    centroid than the paper's epsilon (0.9 cosine distance) ever reaches."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    base = np.repeat(centres, per_cluster, axis=0) + 0.06 * rng.standard_normal((clusters * per_cluster, d))
    q, _ = np.linalg.qr(centres.T)
    orth = rng.standard_normal((n_out, d))
    orth -= (orth @ q) @ q.T
    orth /= np.linalg.norm(orth, axis=1, keepdims=True)
    out = centres[rng.integers(0, clusters, n_out)] + 1.2 * orth
    x = np.vstack([base, out])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), np.arange(len(base), len(x))


def test_epsilon_quantile_removes_the_most_outlying_share() -> None:
    x, outliers = _mild_outliers()
    n = len(x)
    ratio = 0.8
    paper = meddel(k=4, nredo=5).select(request(x, ratio))
    assert paper.info["removed_outlier"] == 0  # epsilon = 0.9 does not see them
    assert set(outliers.tolist()) & set(paper.indices.tolist())
    sel = meddel(k=4, nredo=5, epsilon_quantile=len(outliers) / n).select(request(x, ratio))
    assert sorted(sel.reasons["outlier"].tolist()) == outliers.tolist()
    assert not set(outliers.tolist()) & set(sel.indices.tolist())
    assert len(sel.indices) == round(ratio * n)
    assert sel.info["epsilon_quantile"] == pytest.approx(len(outliers) / n) and sel.info["epsilon"] < 0.9
    assert "warnings" not in sel.info
    # whatever epsilon says: a quantile of 5% removes 5%, even with epsilon at its loosest
    five = meddel(k=4, nredo=5, epsilon=2.0, epsilon_quantile=0.05).select(request(x, 0.5))
    assert five.info["removed_outlier"] == round(0.05 * n)


def test_warns_when_epsilon_removes_nothing() -> None:
    x, outliers = _mild_outliers()
    clean = np.delete(x, outliers, axis=0)
    sel = meddel(k=4, nredo=5).select(request(clean, 0.5))
    (line,) = sel.info["warnings"]
    assert "removes no outlier" in line and "dedup-only" in line and "epsilon_quantile" in line
    dedup = get_plugins().selectors.get("dedup-only").create(k=4, nredo=5).select(request(clean, 0.5))
    assert np.array_equal(np.sort(sel.indices), np.sort(dedup.indices))  # what the line says is so
    assert "warnings" not in meddel(k=4, nredo=5).select(request(clean, 1.0)).info  # nothing is removed at R = 1


def test_warns_when_epsilon_is_relaxed(planted) -> None:
    n = len(planted.x)
    sel = meddel(k=planted.k).select(request(planted.x, (n - 2) / n))
    (line,) = sel.info["warnings"]
    assert "relaxed" in line and f"2 of the {len(planted.outliers)} outliers" in line
    budget = len(planted.copies) + len(planted.outliers)
    assert "warnings" not in meddel(k=planted.k).select(request(planted.x, (n - budget) / n)).info


def test_epsilon_quantile_bad_value() -> None:
    for bad in (-0.1, 1.0):
        with pytest.raises(DelbenchError, match="epsilon_quantile"):
            meddel(epsilon_quantile=bad)


def test_select_command_prints_the_warning(tmp_path) -> None:
    from click.testing import CliRunner

    from delbench.cli import cli

    x, outliers = _mild_outliers()
    emb = tmp_path / "emb.npy"
    np.save(emb, np.delete(x, outliers, axis=0))
    res = CliRunner().invoke(cli, ["select", "meddel", "--embeddings", str(emb), "--ratio", "0.5",
                                   "--out", str(tmp_path / "s.npy"), "--param", "k=4", "--param", "nredo=5"])
    assert res.exit_code == 0, res.output
    assert any(ln.startswith("warning: meddel R=0.5: epsilon=0.9 removes no outlier") for ln in res.output.splitlines())
