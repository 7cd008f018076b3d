"""Render everything a run directory shows from its saved results, without recomputing anything:
tables (Markdown, LaTeX), plots (PNG, SVG), removal galleries and the ground-truth removal table."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from delbench.store.atomic import atomic_path
from delbench.compare.results import read_results
from delbench.report import tables as T
from delbench.select.subset import subset_paths
from delbench.store.rundir import RunDir


def _write(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _pool(info: dict[str, Any]) -> pd.DataFrame | None:
    """The run's pool rows, or None when its dataset root is no longer there."""
    from delbench.data.manifest import manifest_path, pool_rows, read_manifest

    root = Path(info.get("data_root") or "")
    return pool_rows(read_manifest(root)) if root.name and manifest_path(root).is_file() else None


def removal_table(run_dir: RunDir, info: dict[str, Any], pool: pd.DataFrame | None) -> T.Grid | None:
    """On data with ground truth: what each selector removed, by quality type and near-duplicate group."""
    from delbench.report.gallery import removal_by_truth

    if pool is None or "gt_quality" not in pool.columns:
        return None
    columns = {}
    for sel in info["selectors"]:
        for r in (r for r in info["ratios"] if r < 1.0):
            path = run_dir.subset(sel, info["seeds"][0], r)
            if path.is_file():
                columns[f"{sel} R={r:g}"] = removal_by_truth(pool, np.load(path))
    if not columns:
        return None
    # rows = ground-truth categories, columns = selector at ratio: narrow enough for a terminal
    frame = pd.DataFrame(columns)
    body = [[str(idx)] + [f"{100 * v:.0f}%" for v in row] for idx, row in zip(frame.index, frame.to_numpy())]
    return T.Grid(f"Removed by ground-truth type (share of pool frames; seed {info['seeds'][0]})",
                  ["removed share of"] + list(frame.columns), body, set(), slug="removal")


def galleries(run_dir: RunDir, info: dict[str, Any], pool: pd.DataFrame | None) -> list[Path]:
    from delbench.report.gallery import gallery

    if pool is None:
        return []
    root = Path(info["data_root"])
    ratio = min(info["ratios"])
    seed = info["seeds"][0]
    out = []
    for sel in info["selectors"]:
        npy = run_dir.subset(sel, seed, ratio)
        if not npy.is_file():
            continue
        kept = np.load(npy)
        reasons_path = subset_paths(npy)[2]
        if reasons_path.is_file():
            reasons = pd.read_parquet(reasons_path)
        else:
            removed = np.setdiff1d(np.arange(len(pool)), kept)
            reasons = pd.DataFrame({"index": removed, "reason": "not selected"})
        out += gallery(root, pool, kept, reasons, f"{sel}: kept {kept.size} of {len(pool)} (R={ratio:g}, seed {seed})",
                       run_dir.plots / f"gallery_{sel}_r{ratio:g}", seed=seed)
    return out


def render_run(run_dir: str | Path, plots: bool = True) -> list[T.Grid]:
    """Write tables/ and plots/ of ``run_dir``; return the grids for console display."""
    from delbench.report.plots import cross_heatmaps, ratio_curves

    from delbench.report.budget_view import budget_curves, per_budget, selector_budget_grid
    from delbench.score.budgets import at_budget, budgets_of, suffix

    rd = RunDir(run_dir)
    results = read_results(rd.path)
    info = rd.read_info()
    pool = _pool(info)
    removal = removal_table(rd, info, pool)
    curves = selector_budget_grid(results)  # None unless the run holds several budgets
    shown = per_budget(results, lambda rows: T.ratio_grids(rows) + [T.summary_grid(rows)])
    shown += ([curves] if curves is not None else []) + ([removal] if removal is not None else [])
    for grid in shown:
        _write(rd.table(grid.slug, "md"), T.to_markdown(grid))
        _write(rd.table(grid.slug, "tex"), T.to_latex(grid))
    _write(rd.results_md, T.to_markdown(T.long_grid(results)))
    if pool is not None:
        from delbench.report.composition import write_composition

        write_composition(rd.path, pool)
    if plots:
        budgets = budgets_of(results)
        for b in budgets:  # one budget's curves, or each budget's under its own name
            ratio_curves(results if len(budgets) == 1 else at_budget(results, b), rd.plots, suffix(b))
        budget_curves(results, rd.plots)
        if rd.cross.is_file():
            cross_heatmaps(pd.read_parquet(rd.cross), rd.plots)
        galleries(rd, info, pool)
    return shown

