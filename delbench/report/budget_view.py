"""Budget curves (``compare --budgets``): each selector's task-mean test mIoU against the pre-training
budget per retained ratio, each validity rung against the budget, as tables and plots; and the
per-budget copies of the ordinary tables.

Data rankings can reverse with compute: a subset that wins at a short pre-training may lose at a long
one. These views put the budgets side by side; with one budget (the default) none of them is drawn
and every table keeps its name.
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd

from delbench.references import FULL, REFERENCES, SCRATCH
from delbench.report.tables import Grid
from delbench.score.budgets import DEFAULT, at_budget, budgets_of, label, steps_at, suffix
from delbench.score.stats import mean_ci, task_means

if TYPE_CHECKING:
    from delbench.score.validate import Ladders

METRIC = "miou"


def per_budget(results: pd.DataFrame, make: Callable[[pd.DataFrame], list[Grid]]) -> list[Grid]:
    """``make(rows)``'s grids for each budget of ``results``: as they are when the table holds budget 1
    only; otherwise titled with their budget and its steps, and named ``<slug>_b<budget>`` (budget 1
    keeps the plain name)."""
    budgets = budgets_of(results)
    if budgets == (DEFAULT,):
        return make(results)
    out = []
    for b in budgets:
        title = label(b, steps_at(results, b)).capitalize()
        out += [replace(g, title=f"{title}: {g.title}", slug=g.slug + suffix(b)) for g in make(at_budget(results, b))]
    return out


def _cells(results: pd.DataFrame) -> list[tuple[str, float]]:
    """The (selector, ratio) rows of the budget table: selectors below R = 1, then full and scratch."""
    body = results[~results["selector"].isin(REFERENCES) & (results["ratio_target"] < 1.0)]
    cells = sorted({(str(s), float(r)) for s, r in zip(body["selector"], body["ratio_target"])}, key=lambda c: (c[1], c[0]))
    return cells + [(ref, 1.0 if ref == FULL else 0.0) for ref in REFERENCES if (results["selector"] == ref).any()]


def _mean_ci(results: pd.DataFrame, selector: str, ratio: float, budget: float) -> tuple[float, float]:
    # tasks of one seed share an encoder: the task mean per seed first, then the interval over seeds
    return mean_ci(task_means(at_budget(results, budget), selector, ratio, METRIC))


def selector_budget_grid(results: pd.DataFrame) -> Grid | None:
    """Task-mean test mIoU x100 (mean ± 95% CI over seeds) per (selector, ratio) and budget; None with
    fewer than two budgets. The best selector below R = 1 at each (ratio, budget) is marked."""
    budgets = budgets_of(results)
    if len(budgets) < 2:
        return None
    header = ["selector", "R"] + [label(b, steps_at(results, b)) for b in budgets]
    rows, values = [], []
    cells = _cells(results)
    for sel, ratio in cells:
        row, vals = [sel, f"{ratio:g}"], []
        for b in budgets:
            mean, ci = _mean_ci(results, sel, ratio, b)
            text = "–" if math.isnan(mean) else f"{100 * mean:.1f}"
            row.append(text if math.isnan(mean) or math.isnan(ci) else f"{text} ± {100 * ci:.1f}")
            vals.append(mean)
        rows.append(row)
        values.append(vals)
    best = set()
    for ratio in {r for s, r in cells if s not in REFERENCES}:
        idx = [i for i, (s, r) in enumerate(cells) if r == ratio and s not in REFERENCES]
        for j in range(len(budgets)):
            col = [values[i][j] for i in idx if not math.isnan(values[i][j])]
            best |= {(i, j + 2) for i in idx if col and values[i][j] == max(col)}
    return Grid("Task-mean test mIoU x100 against the pre-training budget (mean ± 95% CI over seeds; best at each ratio "
                "and budget marked)", header, rows, best, slug="budgets")


def budget_curves(results: pd.DataFrame, out_dir: Path) -> list[Path]:
    """``plots/miou_vs_budget``: one panel per retained ratio, x the budget, a line per selector (with
    its 95% CI band) and full; scratch, which no budget changes, as a dotted line."""
    from delbench.report.plots import pyplot, save

    budgets = budgets_of(results)
    if len(budgets) < 2:
        return []
    plt = pyplot()
    cells = _cells(results)
    ratios = sorted({r for s, r in cells if s not in REFERENCES}) or [1.0]
    fig, axes = plt.subplots(1, len(ratios), figsize=(3.6 * len(ratios), 3.2), squeeze=False, sharey=True)
    x = np.asarray(budgets)
    for ax, ratio in zip(axes[0], ratios):
        shown = [s for s, r in cells if r == ratio and s not in REFERENCES]
        for sel in shown + ([FULL] if (results["selector"] == FULL).any() else []):
            stats = [_mean_ci(results, sel, 1.0 if sel == FULL else ratio, b) for b in budgets]
            y = np.array([m for m, _ in stats]) * 100
            ci = np.nan_to_num(np.array([c for _, c in stats]) * 100)
            (line,) = ax.plot(x, y, marker="o", label=sel, linestyle="--" if sel == FULL else "-")
            ax.fill_between(x, y - ci, y + ci, color=line.get_color(), alpha=0.15)
        scratch = _mean_ci(results, SCRATCH, 0.0, budgets[0])[0]
        if not math.isnan(scratch):
            ax.axhline(100 * scratch, color="grey", linestyle=":", label=SCRATCH)
        ax.set_xscale("log", base=2)
        ax.set_xticks(x, [f"{b:g}" for b in budgets])
        ax.set_title(f"R = {ratio:g}")
        ax.set_xlabel("pre-training budget (x protocol steps)")
        ax.set_ylabel("task-mean mIoU (x100)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    written = save(fig, out_dir / "miou_vs_budget")
    plt.close(fig)
    return written


def rung_curves(ladders: "Ladders", out_dir: Path) -> list[Path]:
    """``plots/rungs_vs_budget``: per ratio, each rung's mean paired difference against the budget with
    a bar down to its one-sided 95% lower bound; a first panel for the precondition (full − scratch)
    with its threshold."""
    from delbench.report.plots import pyplot, save

    verdicts = ladders.verdicts
    if len(verdicts) < 2:
        return []
    plt = pyplot()
    x = np.asarray([v.budget for v in verdicts])
    ratios = sorted({r.ratio for r in verdicts[0].rungs})
    fig, axes = plt.subplots(1, 1 + len(ratios), figsize=(3.6 * (1 + len(ratios)), 3.2), squeeze=False)

    def draw(ax: Any, means: list[float], lowers: list[float], name: str) -> None:
        y, low = np.array(means) * 100, np.array(lowers) * 100
        # a one-sided bound: the bar goes down to it only
        ax.errorbar(x, y, yerr=[np.nan_to_num(y - low), np.zeros_like(y)], marker="o", capsize=3, label=name)

    first = axes[0][0]
    draw(first, [v.precondition.mean for v in verdicts], [v.precondition.lower for v in verdicts], "full − scratch")
    first.axhline(100 * verdicts[0].threshold, color="grey", linestyle="--", label="precondition")
    first.set_title("precondition")
    for ax, ratio in zip(axes[0][1:], ratios):
        for i, rung in enumerate(verdicts[0].rungs):
            if rung.ratio == ratio:
                draw(ax, [v.rungs[i].mean for v in verdicts], [v.rungs[i].lower for v in verdicts], f"{rung.a} > {rung.b}")
        ax.set_title(f"R = {ratio:g}")
    for ax in axes[0]:
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xticks(x, [f"{b:g}" for b in x])
        ax.set_xlabel("pre-training budget")
        ax.set_ylabel("Δ task-mean mIoU (x100)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    written = save(fig, out_dir / "rungs_vs_budget")
    plt.close(fig)
    return written


def report_section(results: pd.DataFrame) -> dict[str, object] | None:
    """What report.html shows of the budget curves: the selectors' table (``budget-curves``); None with one budget."""
    from delbench.report.html import grid_view

    grid = selector_budget_grid(results)
    if grid is None:
        return None
    return {"table": grid_view(grid, "budget-curves"), "budgets": [f"{b:g}" for b in budgets_of(results)]}


def plot_captions(plots: Path) -> dict[str, str]:
    """Captions of the budget plots in ``plots`` (each budget's ratio curves, the budget curves), by stem."""
    out = {}
    for png in sorted(plots.glob("*_vs_ratio_b*.png")):
        metric, _, budget = png.stem.partition("_vs_ratio_b")
        out[png.stem] = (f"{'Test mIoU' if metric == 'miou' else 'NormDEL'} (×100) against the retained ratio R at "
                         f"pre-training budget {budget}: mean and 95% CI over seeds.")
    if (plots / "miou_vs_budget.png").is_file():
        out["miou_vs_budget"] = ("Task-mean test mIoU (×100) against the pre-training budget (share of the protocol's "
                                 "steps), one panel per retained ratio: mean and 95% CI over seeds; full dashed, scratch "
                                 "(which no budget changes) dotted. Lines that cross are rankings that change with compute.")
    if (plots / "rungs_vs_budget.png").is_file():
        out["rungs_vs_budget"] = ("The validity ladder against the pre-training budget: each rung's mean paired "
                                  "difference (×100) with a bar down to its one-sided 95% lower bound, and the "
                                  "precondition full − scratch with its threshold.")
    return out
