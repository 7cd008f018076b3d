"""How well one protocol's ranking of selectors predicts another's (DataDecide, Magnusson et al. 2025).

Two results tables are compared on the (selector, ratio_target) cells both hold, the reference rows
``full`` and ``scratch`` left out (they are not decisions a user makes). A cell's score is the mean
over seeds of the per-seed task mean (``stats.task_means``): each run averages the tasks it ran
itself, so two protocols with different task lists are still compared cell by cell. Then:

- decision accuracy: over every pair of cells whose scores differ in run B, the share that run A
  orders the same way (a tie in A counts as half); also over the pairs at the same ratio only, the
  decision "which selector at this R";
- Kendall's tau-b over the cells;
- a percentile bootstrap of both over seeds, the unit of replication. The two runs' seeds are not
  paired (seed 0 of one protocol has nothing to do with seed 0 of another), so each run's seeds are
  resampled independently.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as _st

from delbench.errors import DelbenchError
from delbench.references import REFERENCES
from delbench.score.stats import task_means

METRICS = ("miou", "normdel")
AGREE_DIR = "agree"  # RUN_A/agree/<label of B>.json
# Scores equal to 12 decimals are a tie: two means of the same values summed in another order differ
# in their last bits, and that must not decide a pair.
DECIMALS = 12


@dataclass(frozen=True)
class Interval:
    """A 95% percentile interval over the resamples where the statistic was defined."""

    low: float | None
    high: float | None
    dropped: int  # resamples where the statistic was undefined

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "dropped": self.dropped}


@dataclass(frozen=True)
class Bootstrap:
    resamples: int
    seed: int
    accuracy: Interval
    accuracy_within: Interval
    tau: Interval

    def to_dict(self) -> dict[str, Any]:
        return {"resamples": self.resamples, "seed": self.seed, "accuracy": self.accuracy.to_dict(),
                "accuracy_within": self.accuracy_within.to_dict(), "tau": self.tau.to_dict()}


@dataclass(frozen=True)
class Agreement:
    """Run A's ranking of the shared cells against run B's. Undefined statistics are None."""

    metric: str
    cells: tuple[tuple[str, float], ...]  # (selector, ratio_target), sorted by ratio then selector
    scores_a: tuple[float, ...]
    scores_b: tuple[float, ...]
    seeds_a: tuple[int, ...]
    seeds_b: tuple[int, ...]
    accuracy: float | None
    pairs: int  # pairs of cells whose scores differ in B
    accuracy_within: float | None
    pairs_within: int  # of those, pairs at the same ratio
    tau: float | None
    bootstrap: Bootstrap | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "cells": [{"selector": s, "ratio_target": r, "score_a": a, "score_b": b}
                      for (s, r), a, b in zip(self.cells, self.scores_a, self.scores_b)],
            "seeds_a": list(self.seeds_a), "seeds_b": list(self.seeds_b),
            "accuracy": self.accuracy, "pairs": self.pairs,
            "accuracy_within": self.accuracy_within, "pairs_within": self.pairs_within,
            "tau": self.tau, "bootstrap": None if self.bootstrap is None else self.bootstrap.to_dict(),
        }


def _ratio(value: float) -> float:
    return round(float(value), 9)  # ratios read back from two files must meet as one key


def _cells(results: pd.DataFrame, metric: str) -> set[tuple[str, float]]:
    part = results[~results["selector"].isin(REFERENCES) & results[metric].notna()]
    pairs = part[["selector", "ratio_target"]].drop_duplicates()
    return {(str(s), _ratio(r)) for s, r in pairs.itertuples(index=False)}


def seed_matrix(results: pd.DataFrame, cells: list[tuple[str, float]], metric: str) -> pd.DataFrame:
    """Per-seed task means, one column per cell, one row per seed of the run (NaN where a seed lacks a cell)."""
    columns = {i: task_means(results, sel, ratio, metric) for i, (sel, ratio) in enumerate(cells)}
    return pd.DataFrame(columns).sort_index()


def _scores(matrix: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cell scores per row of ``counts`` (how often each seed was drawn): the count-weighted mean over
    the seeds that have the cell; NaN where no drawn seed has it."""
    present = ~np.isnan(matrix)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.round((counts @ np.where(present, matrix, 0.0)) / (counts @ present), DECIMALS)


def _accuracy(a: np.ndarray, b: np.ndarray, pairs: tuple[np.ndarray, np.ndarray],
              mask: np.ndarray) -> tuple[float | None, int]:
    i, j = pairs
    sb, sa = np.sign(b[i] - b[j]), np.sign(a[i] - a[j])
    decided = mask & (sb != 0)
    n = int(decided.sum())
    if n == 0:
        return None, 0
    credit = np.where(sa == sb, 1.0, np.where(sa == 0, 0.5, 0.0))
    return float(credit[decided].mean()), n


def _tau(a: np.ndarray, b: np.ndarray) -> float | None:
    if np.all(a == a[0]) or np.all(b == b[0]):
        return None  # a constant ranking has no tau
    value = float(_st.kendalltau(a, b).statistic)
    return value if math.isfinite(value) else None


def _interval(values: list[float | None]) -> Interval:
    kept = np.array([v for v in values if v is not None], dtype=float)
    dropped = len(values) - kept.size
    if kept.size == 0:
        return Interval(None, None, dropped)
    low, high = np.percentile(kept, [2.5, 97.5])
    return Interval(float(low), float(high), dropped)


def agreement(results_a: pd.DataFrame, results_b: pd.DataFrame, metric: str = "miou", bootstrap: int = 1000,
              seed: int = 0, names: tuple[str, str] = ("run A", "run B")) -> Agreement:
    """How well ``results_a``'s ranking of the shared cells predicts ``results_b``'s; ``bootstrap``
    resamples (0: none) drawn from ``numpy.random.default_rng(seed)``. ``names`` are for messages."""
    if metric not in METRICS:
        raise DelbenchError(f"--metric {metric!r}: not a metric agree compares; use one of {', '.join(METRICS)}")
    if bootstrap < 0:
        raise DelbenchError(f"--bootstrap {bootstrap}: the number of resamples must be 0 (none) or more")
    for name, res in zip(names, (results_a, results_b)):
        missing = {"selector", "ratio_target", "seed", "task", metric} - set(res.columns)
        if missing:
            raise DelbenchError(f"{name}: its results table has no column {', '.join(sorted(missing))}; "
                                "rerun `delbench compare` into it with this version of delbench")
    cells = sorted(_cells(results_a, metric) & _cells(results_b, metric), key=lambda c: (c[1], c[0]))
    if len(cells) < 2:
        raise DelbenchError(f"{names[0]} and {names[1]} share {len(cells)} (selector, ratio) cell(s) besides full "
                            "and scratch; agreement needs at least 2: run both protocols on the same selectors "
                            "and ratios")
    ma, mb = seed_matrix(results_a, cells, metric), seed_matrix(results_b, cells, metric)
    a = _scores(ma.to_numpy(dtype=float), np.ones((1, len(ma))))[0]
    b = _scores(mb.to_numpy(dtype=float), np.ones((1, len(mb))))[0]
    pairs = np.triu_indices(len(cells), 1)
    ratios = np.array([r for _, r in cells])
    everything = np.ones(len(pairs[0]), dtype=bool)
    same_ratio = ratios[pairs[0]] == ratios[pairs[1]]
    accuracy, n_pairs = _accuracy(a, b, pairs, everything)
    within, n_within = _accuracy(a, b, pairs, same_ratio)
    boot = None
    if bootstrap:
        rng = np.random.default_rng(seed)
        draws = [_resample(m.to_numpy(dtype=float), bootstrap, rng) for m in (ma, mb)]
        acc, acc_w, taus = [], [], []
        for ra, rb in zip(*draws):
            if np.isnan(ra).any() or np.isnan(rb).any():
                # a cell none of the drawn seeds ran: the resample compares fewer cells, so it is dropped
                acc.append(None)
                acc_w.append(None)
                taus.append(None)
            else:
                acc.append(_accuracy(ra, rb, pairs, everything)[0])
                acc_w.append(_accuracy(ra, rb, pairs, same_ratio)[0])
                taus.append(_tau(ra, rb))
        boot = Bootstrap(bootstrap, seed, _interval(acc), _interval(acc_w), _interval(taus))
    return Agreement(
        metric=metric, cells=tuple(cells), scores_a=tuple(float(x) for x in a), scores_b=tuple(float(x) for x in b),
        seeds_a=tuple(int(s) for s in ma.index), seeds_b=tuple(int(s) for s in mb.index),
        accuracy=accuracy, pairs=n_pairs, accuracy_within=within, pairs_within=n_within, tau=_tau(a, b),
        bootstrap=boot,
    )


def one_budget(results: pd.DataFrame, budget: float | None, name: str) -> tuple[pd.DataFrame, float]:
    """The rows of one pre-training budget (``compare --budgets``) and which it is: ``budget``, or the
    only one the run holds, or 1 (the protocol's own) among several; a ranking over cells of
    different budgets would mix compute into the selectors' order."""
    from delbench.score.budgets import DEFAULT, at_budget, budgets_of

    held = budgets_of(results)
    if budget is None:
        if len(held) > 1 and DEFAULT not in held:
            raise DelbenchError(f"{name} holds budgets {', '.join(f'{b:g}' for b in held)}: name one with "
                                "--budget-a/--budget-b")
        budget = held[0] if len(held) == 1 else DEFAULT
    if not any(abs(budget - b) < 1e-9 for b in held):
        raise DelbenchError(f"{name} has no rows at budget {budget:g}; it holds {', '.join(f'{b:g}' for b in held)}")
    return at_budget(results, next(b for b in held if abs(budget - b) < 1e-9)), float(budget)


def _resample(matrix: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` bootstrap draws of the run's seeds (with replacement, as many as it has): cell scores per draw."""
    k = matrix.shape[0]
    counts = np.zeros((n, k))
    np.add.at(counts, (np.repeat(np.arange(n), k), rng.integers(0, k, size=n * k)), 1.0)
    return _scores(matrix, counts)
