"""Statistics over seeds: means with 95% confidence intervals and paired differences against a
reference selector.

The unit of replication is the seed: tasks of one seed share the pre-trained encoder, so their
scores are not independent draws. Paired differences therefore first average the tasks within a
seed and then take a Student-t interval over seeds."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _st

from delbench.references import REFERENCES

TIE = 1e-3  # |difference| below this (0.1 points of NormDEL x100) counts as a tie
PAIRED_COLUMNS = ["selector", "ratio_target", "diff", "ci_low", "ci_high", "lower", "mde", "sd",
                  "n", "win", "tie", "loss"]


def t_quantile(q: float, df: int) -> float:
    """Student-t quantile; NaN without degrees of freedom."""
    return float(_st.t.ppf(q, df)) if df > 0 else float("nan")


def t975(df: int) -> float:
    return t_quantile(0.975, df)


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


def _rows(results: pd.DataFrame, selector: str, ratio: float | None) -> pd.DataFrame:
    part = results[results["selector"] == selector]
    if ratio is not None and selector not in REFERENCES:
        part = part[np.isclose(part["ratio_target"].to_numpy(dtype=float), ratio)]
    return part


def _per_task(results: pd.DataFrame, selector: str, ratio: float | None, metric: str) -> pd.Series:
    """``metric`` indexed by (seed, task); a repeated cell is averaged rather than counted twice."""
    part = _rows(results, selector, ratio)
    return part.groupby(["seed", "task"])[metric].mean().dropna()


def task_means(results: pd.DataFrame, selector: str, ratio: float | None, metric: str = "miou") -> pd.Series:
    """Per seed, the mean over tasks of `metric` for `selector` at `ratio` (reference rows full/scratch ignore ratio)."""
    return _per_task(results, selector, ratio, metric).groupby(level="seed").mean()


@dataclass(frozen=True)
class PairedDiff:
    """``a - b`` over seeds, each seed's value being the mean over the tasks both ran."""

    a: str
    b: str
    ratio: float
    metric: str
    seeds: tuple[int, ...]
    diffs: tuple[float, ...]
    mean: float
    sd: float
    n: int
    ci_low: float
    ci_high: float
    lower: float
    mde: float


def seed_paired(results: pd.DataFrame, a: str, b: str, ratio: float, metric: str = "miou",
                ratio_b: float | None = None) -> PairedDiff:
    """a - b paired by seed; `b` at ratio_b (default: ratio); full/scratch match at any ratio."""
    mine = _per_task(results, a, ratio, metric)
    ref = _per_task(results, b, ratio if ratio_b is None else ratio_b, metric)
    # a task only one side ran would shift that side's mean by the task's difficulty, not by selection
    both = pd.concat({"a": mine, "b": ref}, axis=1, join="inner").dropna()
    per_seed = both.groupby(level="seed").mean().sort_index()
    d = (per_seed["a"] - per_seed["b"]).to_numpy(dtype=float)
    n = int(d.size)
    mean = float(d.mean()) if n else float("nan")
    sd = float(d.std(ddof=1)) if n >= 2 else float("nan")
    se = sd / math.sqrt(n) if n >= 2 else float("nan")
    half = t_quantile(0.975, n - 1) * se
    t95 = t_quantile(0.95, n - 1)
    return PairedDiff(
        a=a, b=b, ratio=float(ratio), metric=metric,
        seeds=tuple(int(s) for s in per_seed.index), diffs=tuple(float(x) for x in d),
        mean=mean, sd=sd, n=n, ci_low=mean - half, ci_high=mean + half, lower=mean - t95 * se,
        mde=(t95 + t_quantile(0.80, n - 1)) * se,
    )


def paired_vs(results: pd.DataFrame, reference: str = "random", metric: str = "normdel") -> pd.DataFrame:
    """Per (selector, ratio): the seed-paired difference of the task-mean ``metric`` to ``reference``
    at the same ratio, its 95% t-interval and MDE, and win/tie/loss counted over seeds. Always has
    ``PAIRED_COLUMNS``; no row for a selector the reference shares no seed with."""
    rows = []
    others = results[~results["selector"].isin([reference, *REFERENCES])]
    if (results["selector"] == reference).any():
        for (sel, ratio), _ in others.groupby(["selector", "ratio_target"], sort=True):
            p = seed_paired(results, sel, reference, float(ratio), metric)
            if p.n == 0:
                continue
            d = np.asarray(p.diffs)
            rows.append({
                "selector": sel, "ratio_target": float(ratio), "diff": p.mean, "ci_low": p.ci_low,
                "ci_high": p.ci_high, "lower": p.lower, "mde": p.mde, "sd": p.sd, "n": p.n,
                "win": int((d > TIE).sum()), "tie": int((np.abs(d) <= TIE).sum()), "loss": int((d < -TIE).sum()),
            })
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS)


def summary(results: pd.DataFrame, reference: str = "random",
            metrics: tuple[str, ...] = ("miou", "normdel"), delta: str = "normdel") -> pd.DataFrame:
    """Per (selector, ratio): ``<metric>`` and ``<metric>_ci`` (mean and 95% half-width over seeds of
    the task-mean), ``n_seeds``, ``ratio_achieved``, and the ``paired_vs`` columns for ``delta``
    (NaN where the reference is missing or shares no seed)."""
    paired = {(r.selector, r.ratio_target): r._asdict() for r in paired_vs(results, reference, delta).itertuples(index=False)}
    rows = []
    for (sel, ratio), g in results.groupby(["selector", "ratio_target"], sort=True):
        row: dict[str, object] = {"selector": sel, "ratio_target": float(ratio),
                                  "ratio_achieved": float(g["ratio_achieved"].mean()),
                                  "n_seeds": int(g["seed"].nunique())}
        for m in metrics:
            row[m], row[f"{m}_ci"] = mean_ci(task_means(results, sel, float(ratio), m))
        found = paired.get((sel, float(ratio)), {})
        row.update({c: found.get(c, float("nan")) for c in PAIRED_COLUMNS[2:]})
        rows.append(row)
    columns = ["selector", "ratio_target", "ratio_achieved", "n_seeds"]
    columns += [c for m in metrics for c in (m, f"{m}_ci")] + PAIRED_COLUMNS[2:]
    return pd.DataFrame(rows, columns=columns)
