"""Comparison tables — one per retained ratio (selectors x tasks, mIoU and NormDEL as mean ± 95% CI
over seeds, best per column marked) and a summary — rendered for the console (rich), Markdown and
LaTeX from the same cell matrix, so the three always agree."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from delbench.references import REFERENCES
from delbench.score.stats import aggregate, mean_ci, summary, task_means


@dataclass(frozen=True)
class Grid:
    """A table as text cells plus which cells are best in their column; ``slug`` names its files."""

    title: str
    header: list[str]
    rows: list[list[str]]
    best: set[tuple[int, int]]
    slug: str = ""


def _fmt(mean: float, ci: float, scale: float = 100.0, digits: int = 1) -> str:
    if math.isnan(mean):
        return "–"
    text = f"{mean * scale:.{digits}f}"
    return text if math.isnan(ci) else f"{text} ± {ci * scale:.{digits}f}"


def ratio_grids(results: pd.DataFrame, metrics: tuple[str, ...] = ("miou", "normdel")) -> list[Grid]:
    """One grid per (target ratio, metric): selectors x tasks plus the mean over tasks. The reference
    rows (full, scratch) appear in every grid."""
    agg = aggregate(results)
    tasks = sorted(agg["task"].unique())
    refs = agg[agg["selector"].isin(REFERENCES)]
    grids = []
    # R = 1 keeps the whole pool: every selector equals the `full` reference row shown in each grid
    for ratio in sorted(r for r in agg["ratio_target"].unique() if 0.0 < r < 1.0):
        part = agg[(agg["ratio_target"] == ratio) & ~agg["selector"].isin(REFERENCES)]
        if part.empty:
            continue
        block = pd.concat([part, refs])
        selectors = list(dict.fromkeys(part["selector"].tolist())) + [s for s in REFERENCES if s in set(refs["selector"])]
        for metric in metrics:
            header = ["selector", "R"] + tasks + ["mean"]
            rows, values = [], []
            for sel in selectors:
                s = block[block["selector"] == sel]
                row, vals = [sel, f"{s['ratio_achieved'].mean():.3f}"], []
                for t in tasks:
                    cell = s[s["task"] == t]
                    mean = float(cell[f"{metric}_mean"].iloc[0]) if len(cell) else float("nan")
                    ci = float(cell[f"{metric}_ci"].iloc[0]) if len(cell) else float("nan")
                    row.append(_fmt(mean, ci))
                    vals.append(mean)
                # tasks of one seed share an encoder: average them first, then the CI over seeds
                mean, ci = mean_ci(task_means(results, sel, float(ratio), metric))
                row.append(_fmt(mean, ci))
                vals.append(mean)
                rows.append(row)
                values.append(vals)
            best = set()
            for j in range(len(header) - 2):
                col = [(v[j], i) for i, v in enumerate(values) if not math.isnan(v[j])]
                if col:
                    top = max(c[0] for c in col)
                    best |= {(i, j + 2) for v, i in col if v == top}
            label = "mIoU x100" if metric == "miou" else "NormDEL x100"
            grids.append(Grid(f"Retained ratio {ratio:g}: {label} (mean ± 95% CI over seeds)", header, rows, best,
                              slug=f"ratio_{ratio:g}_{metric}"))
    return grids


def summary_grid(results: pd.DataFrame, reference: str = "random") -> Grid:
    """Per (selector, ratio): mIoU and NormDEL as mean ± 95% CI over seeds of the task-mean, and the
    NormDEL difference to ``reference`` paired by seed with its 95% t-interval, minimum detectable
    effect and win/tie/loss over seeds. "–" where there is nothing to pair with."""
    s = summary(results, reference)
    s = s[s["selector"].isin(REFERENCES) | (s["ratio_target"] < 1.0)]
    header = ["selector", "R target", "R achieved", "mIoU", "NormDEL", f"Δ NormDEL vs {reference} [95% CI]", "MDE", "W/T/L"]
    rows, normdel = [], []
    for _, r in s.iterrows():
        if pd.isna(r["diff"]):
            paired = "–"
        elif pd.isna(r["ci_low"]):
            paired = f"{r['diff'] * 100:+.2f}"  # one seed: no interval
        else:
            paired = f"{r['diff'] * 100:+.2f} [{r['ci_low'] * 100:+.2f}, {r['ci_high'] * 100:+.2f}]"
        mde = "–" if pd.isna(r["mde"]) else f"{r['mde'] * 100:.2f}"
        wtl = "–" if pd.isna(r["win"]) else f"{int(r['win'])}/{int(r['tie'])}/{int(r['loss'])}"
        rows.append([r["selector"], f"{r['ratio_target']:g}", f"{r['ratio_achieved']:.3f}",
                     _fmt(r["miou"], r["miou_ci"]), _fmt(r["normdel"], r["normdel_ci"], digits=2), paired, mde, wtl])
        normdel.append(float(r["normdel"]))
    body = [i for i, row in enumerate(rows) if row[0] not in REFERENCES and not math.isnan(normdel[i])]
    best = set()
    if body:
        top = max(normdel[i] for i in body)
        best = {(i, 4) for i in body if normdel[i] == top}
    return Grid("Summary (mean over tasks per seed, then mean ± 95% t-CI over seeds; x100)", header, rows, best,
                slug="summary")


def to_markdown(grid: Grid) -> str:
    def cell(i: int, j: int, text: str) -> str:
        return f"**{text}**" if (i, j) in grid.best else text

    lines = [f"### {grid.title}", "", "| " + " | ".join(grid.header) + " |", "|" + "---|" * len(grid.header)]
    lines += ["| " + " | ".join(cell(i, j, t) for j, t in enumerate(row)) + " |" for i, row in enumerate(grid.rows)]
    return "\n".join(lines) + "\n"


def to_latex(grid: Grid) -> str:
    def esc(text: str) -> str:
        return (text.replace("\\", r"\textbackslash{}").replace("&", r"\&").replace("%", r"\%")
                .replace("_", r"\_").replace("#", r"\#").replace("±", r"$\pm$").replace("Δ", r"$\Delta$"))

    def cell(i: int, j: int, text: str) -> str:
        return rf"\textbf{{{esc(text)}}}" if (i, j) in grid.best else esc(text)

    lines = [rf"% {esc(grid.title)}", r"\begin{tabular}{l" + "r" * (len(grid.header) - 1) + "}", r"\toprule",
             " & ".join(esc(h) for h in grid.header) + r" \\", r"\midrule"]
    lines += [" & ".join(cell(i, j, t) for j, t in enumerate(row)) + r" \\" for i, row in enumerate(grid.rows)]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def to_rich(grid: Grid) -> "object":
    from rich.table import Table

    table = Table(title=grid.title, title_justify="left")
    for j, h in enumerate(grid.header):
        table.add_column(h, justify="left" if j == 0 else "right")
    for i, row in enumerate(grid.rows):
        table.add_row(*[f"[bold green]{t}*[/]" if (i, j) in grid.best else t for j, t in enumerate(row)])
    return table


def long_grid(results: pd.DataFrame) -> Grid:
    """The long results table as text (floats to 4 significant decimals)."""
    def fmt(v: object) -> str:
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    return Grid("Results (one row per selector, ratio, seed and task)", list(results.columns),
                [[fmt(v) for v in row] for row in results.itertuples(index=False)], set(), slug="results")
