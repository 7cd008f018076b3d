"""Statistics over seeds: means with 95% confidence intervals and paired differences against a
reference selector (bootstrap CI, win/tie/loss)."""
from __future__ import annotations

import numpy as np
import pandas as pd

# Two-sided 95% Student-t quantiles by degrees of freedom; beyond 30 the normal value is close enough.
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
         10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042}
TIE = 1e-3  # |difference| below this (0.1 points of NormDEL x100) counts as a tie


def t975(df: int) -> float:
    if df <= 0:
        return float("nan")
    keys = [k for k in _T975 if k <= df]
    return _T975[max(keys)] if df <= 30 else 1.96


def mean_ci(values: pd.Series) -> tuple[float, float]:
    """Mean and half-width of its 95% t-interval (NaN half-width for a single value)."""
    v = values.dropna().to_numpy(dtype=float)
    if v.size == 0:
        return float("nan"), float("nan")
    if v.size == 1:
        return float(v[0]), float("nan")
    return float(v.mean()), float(t975(v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))


def aggregate(results: pd.DataFrame, metrics: tuple[str, ...] = ("miou", "normdel")) -> pd.DataFrame:
    """One row per (selector, ratio_target, task) with ``<metric>_mean``, ``<metric>_ci`` and ``n_seeds``."""
    rows = []
    for (sel, ratio, task), g in results.groupby(["selector", "ratio_target", "task"], sort=True):
        row = {"selector": sel, "ratio_target": ratio, "task": task, "n_seeds": int(g["seed"].nunique()),
               "ratio_achieved": float(g["ratio_achieved"].mean())}
        for m in metrics:
            row[f"{m}_mean"], row[f"{m}_ci"] = mean_ci(g[m])
        rows.append(row)
    return pd.DataFrame(rows)


def paired_vs(results: pd.DataFrame, reference: str = "random", metric: str = "normdel",
              n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per (selector, ratio): mean paired difference to ``reference`` over tasks x seeds, its bootstrap
    95% CI, and win/tie/loss counts. Empty when the reference did not run."""
    keys = ["ratio_target", "task", "seed"]
    ref = results[results["selector"] == reference].set_index(keys)[metric]
    if ref.empty:
        return pd.DataFrame(columns=["selector", "ratio_target", "diff", "ci_low", "ci_high", "win", "tie", "loss", "pairs"])
    rng = np.random.default_rng(seed)
    rows = []
    others = results[~results["selector"].isin([reference, "full", "scratch"])]
    for (sel, ratio), g in others.groupby(["selector", "ratio_target"], sort=True):
        mine = g.set_index(keys)[metric]
        both = mine.index.intersection(ref.index)
        if len(both) == 0:
            continue
        d = (mine.loc[both] - ref.loc[both]).to_numpy(dtype=float)
        boots = rng.choice(d, size=(n_boot, d.size), replace=True).mean(axis=1)
        rows.append({
            "selector": sel, "ratio_target": ratio, "diff": float(d.mean()),
            "ci_low": float(np.quantile(boots, 0.025)), "ci_high": float(np.quantile(boots, 0.975)),
            "win": int((d > TIE).sum()), "tie": int((np.abs(d) <= TIE).sum()), "loss": int((d < -TIE).sum()),
            "pairs": int(d.size),
        })
    return pd.DataFrame(rows)


def summary(results: pd.DataFrame, reference: str = "random") -> pd.DataFrame:
    """Mean NormDEL and mIoU per (selector, ratio) over tasks x seeds, joined with the paired test."""
    base = (results.groupby(["selector", "ratio_target"], sort=True)
            .agg(normdel=("normdel", "mean"), miou=("miou", "mean"), ratio_achieved=("ratio_achieved", "mean"))
            .reset_index())
    paired = paired_vs(results, reference)
    return base.merge(paired, on=["selector", "ratio_target"], how="left")
