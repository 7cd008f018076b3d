"""Seed-level paired statistics: the seed is the unit of replication, tasks are averaged within it."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from delbench.compare.results import COLUMNS, sort_rows, write_frame
from delbench.metrics import normdel
from delbench.score import stats
from delbench.report.render import render_run
from delbench.report.tables import summary_grid

BASE = {"t1": 0.50, "t2": 0.70}  # task difficulty, shared by both selectors


def frame(cells: list[tuple[str, float, int, str, float]]) -> pd.DataFrame:
    """A results table from (selector, ratio, seed, task, miou) cells; NormDEL follows from mIoU."""
    rows = []
    for sel, ratio, seed, task, m in cells:
        rows.append({"selector": sel, "ratio_target": ratio, "ratio_achieved": ratio, "seed": seed, "task": task,
                     "miou": m, "miou_all": m, "miou_dataset": m, "dice": m, "empty_share": 0.0,
                     "del": m, "normdel": float(normdel(m, ratio)),
                     "pretrain_steps": 1, "pretrain_seconds": 1.0, "select_seconds": 0.0, "kept_bytes": 1})
    return sort_rows(pd.DataFrame(rows)[COLUMNS])


def pair_frame(diffs: dict[int, float], tasks: tuple[str, ...] = ("t1", "t2")) -> pd.DataFrame:
    """Selector "a" beats "b" at R=0.2 by ``diffs[seed]`` on every task of that seed."""
    cells = []
    for seed, d in diffs.items():
        for t in tasks:
            b = BASE[t] + 0.01 * seed
            cells += [("b", 0.2, seed, t, b), ("a", 0.2, seed, t, b + d)]
    return frame(cells)


def test_task_means_average_tasks_within_a_seed():
    res = pair_frame({0: 0.05, 1: -0.01})
    got = stats.task_means(res, "b", 0.2)
    assert got.to_dict() == pytest.approx({0: 0.60, 1: 0.61})
    assert stats.task_means(res, "b", 0.5).empty


def test_seed_paired_matches_a_direct_t_interval():
    d = {0: 0.05, 1: -0.01, 2: 0.02, 3: 0.04}
    p = stats.seed_paired(pair_frame(d), "a", "b", 0.2)
    x = np.array(list(d.values()))
    n, mean, sd = x.size, x.mean(), x.std(ddof=1)
    lo, hi = st.t.interval(0.95, n - 1, loc=mean, scale=sd / np.sqrt(n))
    assert (p.a, p.b, p.ratio, p.metric) == ("a", "b", 0.2, "miou")
    assert p.seeds == (0, 1, 2, 3)
    assert p.diffs == pytest.approx(tuple(x))
    assert p.n == 4
    assert p.mean == pytest.approx(mean)
    assert p.sd == pytest.approx(sd)
    assert (p.ci_low, p.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    assert p.lower == pytest.approx(mean - st.t.ppf(0.95, n - 1) * sd / np.sqrt(n))


def test_seed_interval_is_wider_than_treating_task_seed_pairs_as_independent():
    # both tasks of a seed move together: 8 task x seed pairs carry only 4 independent values
    d = {0: 0.05, 1: -0.01, 2: 0.02, 3: 0.04}
    res = pair_frame(d)
    p = stats.seed_paired(res, "a", "b", 0.2)
    pairs = (res[res.selector == "a"]["miou"].to_numpy() - res[res.selector == "b"]["miou"].to_numpy())
    assert pairs.size == 8
    boots = np.random.default_rng(0).choice(pairs, size=(2000, pairs.size)).mean(axis=1)
    old_width = np.quantile(boots, 0.975) - np.quantile(boots, 0.025)
    naive = st.t.interval(0.95, pairs.size - 1, loc=pairs.mean(), scale=pairs.std(ddof=1) / np.sqrt(pairs.size))
    assert p.n == 4
    assert p.ci_high - p.ci_low > 2 * old_width
    assert p.ci_high - p.ci_low > naive[1] - naive[0]


def test_only_tasks_both_ran_count():
    res = pair_frame({0: 0.02, 1: 0.04, 2: 0.03})
    # an easy task only "a" ran at seed 0 must not inflate its seed-0 mean
    res = pd.concat([res, frame([("a", 0.2, 0, "t3", 0.99)])])
    p = stats.seed_paired(res, "a", "b", 0.2)
    assert p.diffs == pytest.approx((0.02, 0.04, 0.03))


def test_seeds_missing_on_one_side_are_dropped():
    res = pair_frame({0: 0.02, 1: 0.04, 2: 0.03, 3: 0.01})
    res = res[~((res.selector == "a") & (res.seed == 0)) & ~((res.selector == "b") & (res.seed == 3))]
    p = stats.seed_paired(res, "a", "b", 0.2)
    assert p.seeds == (1, 2)
    assert p.diffs == pytest.approx((0.04, 0.03))
    assert p.n == 2


def test_mde_formula_and_its_power():
    d = {0: 0.05, 1: -0.01, 2: 0.02, 3: 0.04, 4: 0.00}
    p = stats.seed_paired(pair_frame(d), "a", "b", 0.2)
    n, se = 5, np.std(list(d.values()), ddof=1) / np.sqrt(5)
    assert p.mde == pytest.approx((st.t.ppf(0.95, n - 1) + st.t.ppf(0.80, n - 1)) * se)
    # a one-sided paired t-test at alpha 0.05 detects a true difference of MDE with power about 0.8
    power = 1 - st.nct.cdf(st.t.ppf(0.95, n - 1), n - 1, p.mde / se)
    assert power == pytest.approx(0.8, abs=0.03)


def test_one_seed_has_no_spread():
    p = stats.seed_paired(pair_frame({0: 0.05}), "a", "b", 0.2)
    assert p.n == 1 and p.mean == pytest.approx(0.05)
    assert all(math.isnan(v) for v in (p.sd, p.ci_low, p.ci_high, p.lower, p.mde))
    empty = stats.seed_paired(pair_frame({0: 0.05}), "a", "nobody", 0.2)
    assert empty.n == 0 and empty.seeds == () and math.isnan(empty.mean)


def test_references_match_at_any_ratio_and_ratio_b():
    res = pd.concat([pair_frame({0: 0.02, 1: 0.04}),
                     frame([("full", 1.0, s, t, 0.9) for s in (0, 1) for t in ("t1", "t2")]),
                     frame([("b", 0.5, s, t, BASE[t] + 0.1) for s in (0, 1) for t in ("t1", "t2")])])
    vs_full = stats.seed_paired(res, "a", "full", 0.2)
    assert vs_full.n == 2 and vs_full.mean == pytest.approx(0.6 + 0.005 + 0.03 - 0.9)
    across = stats.seed_paired(res, "b", "b", 0.2, ratio_b=0.5)
    assert across.diffs == pytest.approx((-0.1, -0.09))


def test_summary_counts_win_tie_loss_over_seeds():
    # per seed the task-mean difference is +0.03, +0.0005 (a tie), -0.04, +0.05; task by task the signs differ
    per_task = {0: (0.08, -0.02), 1: (0.0205, -0.0195), 2: (-0.10, 0.02), 3: (0.05, 0.05)}
    cells = []
    for seed, (d1, d2) in per_task.items():
        for t, d in (("t1", d1), ("t2", d2)):
            cells += [("random", 0.2, seed, t, BASE[t]), ("mine", 0.2, seed, t, BASE[t] + d)]
    res = frame(cells)
    paired = stats.paired_vs(res, "random", "miou").set_index(["selector", "ratio_target"]).loc[("mine", 0.2)]
    assert (paired["win"], paired["tie"], paired["loss"], paired["n"]) == (2, 1, 1, 4)
    grid = summary_grid(res)
    row = next(r for r in grid.rows if r[0] == "mine")
    assert row[grid.header.index("W/T/L")] == "2/1/1"
    assert row[grid.header.index("MDE")] != "–"


def _render(tmp_path, res: pd.DataFrame, selectors: list[str]) -> str:
    tmp_path.mkdir(parents=True, exist_ok=True)
    write_frame(res, tmp_path / "results.parquet")
    (tmp_path / "run.json").write_text(json.dumps({"selectors": selectors, "ratios": [0.2], "seeds": [0, 1, 2],
                                                   "data_root": str(tmp_path / "nowhere")}))
    render_run(tmp_path, plots=True)
    return (tmp_path / "tables" / "summary.md").read_text()


def with_references(res: pd.DataFrame) -> pd.DataFrame:
    seeds, tasks = sorted(res.seed.unique()), sorted(res.task.unique())
    refs = [("full", 1.0, s, t, 0.8) for s in seeds for t in tasks] + [("scratch", 0.0, s, t, 0.3) for s in seeds for t in tasks]
    return pd.concat([res, frame(refs)])


def test_reference_alone_renders_with_dashes(tmp_path):
    res = with_references(pair_frame({0: 0.0, 1: 0.0, 2: 0.0}).query("selector == 'b'").assign(selector="random"))
    grid = summary_grid(res)
    delta = grid.header.index("Δ NormDEL vs random [95% CI]")
    assert {r[0] for r in grid.rows} == {"random", "full", "scratch"}
    assert all(r[delta] == "–" and r[delta + 1] == "–" for r in grid.rows)
    assert stats.paired_vs(res).columns.tolist() == stats.PAIRED_COLUMNS
    assert "| random | 0.2 |" in _render(tmp_path, res, ["random"])


def test_references_only_and_selector_without_reference_render(tmp_path):
    refs = with_references(pair_frame({0: 0.0, 1: 0.0}))
    only_refs = refs[refs.selector.isin(["full", "scratch"])]
    assert "| full |" in _render(tmp_path / "refs", only_refs, [])
    lonely = refs[refs.selector != "b"]
    md = _render(tmp_path / "lonely", lonely, ["a"])
    line = next(ln for ln in md.splitlines() if ln.startswith("| a |"))
    assert line.split(" | ")[-3:] == ["–", "–", "– |"]
