"""Tables, statistics and re-rendering, on a hand-made results table (no training involved)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from delbench.compare.results import COLUMNS, sort_rows, write_frame
from delbench.metrics import del_score, normdel
from delbench.score import stats
from delbench.report.render import render_run
from delbench.report.tables import ratio_grids, summary_grid, to_latex, to_markdown


def fake_results(seeds=(0, 1, 2)) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    plan = [("meddel", 0.2, 0.2, 0.60), ("random", 0.2, 0.2, 0.50), ("meddel", 0.5, 0.5, 0.62),
            ("random", 0.5, 0.5, 0.58), ("full", 1.0, 1.0, 0.61), ("scratch", 0.0, 0.0, 0.30)]
    for sel, rt, ra, base in plan:
        for seed in seeds:
            for task in ("polyp-a", "polyp-b"):
                m = float(np.clip(base + 0.01 * rng.standard_normal(), 0, 1))
                rows.append({"selector": sel, "ratio_target": rt, "ratio_achieved": ra, "seed": seed, "task": task,
                             "miou": m, "miou_all": m, "miou_dataset": m, "dice": m, "empty_share": 0.0,
                             "del": float(del_score(m, ra)),
                             "normdel": float(normdel(m, ra)), "pretrain_steps": 10, "pretrain_seconds": 1.0,
                             "select_seconds": 0.1, "kept_bytes": 100})
    return sort_rows(pd.DataFrame(rows)[COLUMNS])


def test_mean_ci_matches_t_interval():
    mean, half = stats.mean_ci(pd.Series([1.0, 2.0, 3.0]))
    assert mean == pytest.approx(2.0)
    assert half == pytest.approx(st.t.ppf(0.975, 2) * 1.0 / np.sqrt(3))
    assert np.isnan(stats.mean_ci(pd.Series([5.0]))[1])


def test_paired_difference_and_win_loss():
    res = fake_results()
    paired = stats.paired_vs(res, "random").set_index(["selector", "ratio_target"])
    row = paired.loc[("meddel", 0.2)]
    mine = res[(res.selector == "meddel") & (res.ratio_target == 0.2)]["normdel"].to_numpy()
    ref = res[(res.selector == "random") & (res.ratio_target == 0.2)]["normdel"].to_numpy()
    assert row["diff"] == pytest.approx((mine - ref).mean())
    assert row["ci_low"] <= row["diff"] <= row["ci_high"]
    # counted over seeds, the unit of replication, not over task x seed pairs
    assert (row["win"], row["loss"], row["n"]) == (3, 0, 3)


def test_ratio_grid_marks_best_and_keeps_references():
    grids = ratio_grids(fake_results())
    assert [g.title.split(" (")[0] for g in grids] == [
        "Retained ratio 0.2: mIoU x100", "Retained ratio 0.2: NormDEL x100",
        "Retained ratio 0.5: mIoU x100", "Retained ratio 0.5: NormDEL x100"]
    g = grids[0]
    names = [r[0] for r in g.rows]
    assert names == ["meddel", "random", "full", "scratch"]
    assert g.header == ["selector", "R", "polyp-a", "polyp-b", "mean"]
    # mIoU: the full pool (0.61) is highest; NormDEL: meddel at R=0.2 beats full at R=1
    assert (names.index("full"), 2) in g.best
    assert (names.index("meddel"), 4) in grids[1].best
    md = to_markdown(g)
    assert md.count("**") == 2 * len(g.best)
    assert r"\textbf" in to_latex(g) and "$\\pm$" in to_latex(g)


def test_summary_has_paired_column():
    grid = summary_grid(fake_results())
    meddel = [r for r in grid.rows if r[0] == "meddel" and r[1] == "0.2"][0]
    assert meddel[-1] == "3/0/0"
    assert meddel[-3].startswith("+")
    assert float(meddel[-2]) > 0


def test_report_rerenders_byte_identical(tmp_path):
    write_frame(fake_results(), tmp_path / "results.parquet")
    (tmp_path / "run.json").write_text(json.dumps({"selectors": ["meddel", "random"], "ratios": [0.2, 0.5], "seeds": [0, 1, 2], "data_root": str(tmp_path / "nowhere")}))
    render_run(tmp_path, plots=False)
    first = {p.name: p.read_bytes() for p in (tmp_path / "tables").iterdir()}
    assert {"ratio_0.2_miou.md", "ratio_0.5_normdel.tex", "summary.md", "summary.tex"} <= set(first)
    render_run(tmp_path, plots=False)
    assert first == {p.name: p.read_bytes() for p in (tmp_path / "tables").iterdir()}


def test_plots_written(tmp_path):
    write_frame(fake_results(), tmp_path / "results.parquet")
    (tmp_path / "run.json").write_text(json.dumps({"selectors": ["meddel", "random"], "ratios": [0.2, 0.5], "seeds": [0], "data_root": ""}))
    render_run(tmp_path, plots=True)
    assert (tmp_path / "plots" / "miou_vs_ratio.png").stat().st_size > 1000
    assert (tmp_path / "plots" / "normdel_vs_ratio.svg").is_file()


def test_ratio_one_rows_are_left_to_the_full_reference():
    res = fake_results()
    at_one = res[res["selector"] == "full"].assign(selector="meddel")
    grids = ratio_grids(pd.concat([res, at_one]))
    assert not any(g.title.startswith("Retained ratio 1:") for g in grids)
    summary_rows = summary_grid(pd.concat([res, at_one])).rows
    assert ["meddel", "1"] not in [r[:2] for r in summary_rows]
