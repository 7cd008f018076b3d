"""Figures in the paper's style: metric vs retained ratio per task with CI bands (Fig. 3/4) and
cross-dataset heatmaps (Fig. 6). Each is saved as PNG and SVG, reproducibly (fixed SVG ids, no dates)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from delbench.store.atomic import atomic_path
from delbench.score.stats import aggregate
from delbench.references import FULL, REFERENCES, SCRATCH


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend: runs have no display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "delbench"
    return plt


def save(fig: "object", stem: Path) -> list[Path]:
    out = []
    for ext in ("png", "svg"):
        path = stem.with_name(f"{stem.name}.{ext}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=120, bbox_inches="tight", metadata={"Date": None} if ext == "svg" else {"Software": None})
        out.append(path)
    return out


def ratio_curves(results: pd.DataFrame, out_dir: Path, suffix: str = "") -> list[Path]:
    """mIoU and NormDEL vs retained ratio, one panel per task, one line per selector, mean ± 95% CI;
    ``suffix`` ends the files' names (one budget's curves among several: ``_b0.5``)."""
    plt = pyplot()
    agg = aggregate(results)
    tasks = sorted(agg["task"].unique())
    written = []
    for metric, label in (("miou", "mIoU"), ("normdel", "NormDEL")):
        fig, axes = plt.subplots(1, len(tasks), figsize=(3.6 * len(tasks), 3.2), squeeze=False)
        for ax, task in zip(axes[0], tasks):
            part = agg[agg["task"] == task]
            for sel, g in part[~part["selector"].isin(REFERENCES)].groupby("selector", sort=True):
                full = part[part["selector"] == FULL]
                g = pd.concat([g, full]).sort_values("ratio_achieved") if metric == "miou" else g.sort_values("ratio_achieved")
                x, y = g["ratio_achieved"].to_numpy(), g[f"{metric}_mean"].to_numpy() * 100
                ci = np.nan_to_num(g[f"{metric}_ci"].to_numpy() * 100)
                (line,) = ax.plot(x, y, marker="o", label=sel)
                ax.fill_between(x, y - ci, y + ci, color=line.get_color(), alpha=0.15)
            for ref, style in ((FULL, "--"), (SCRATCH, ":")):
                r = part[part["selector"] == ref]
                if len(r):
                    ax.axhline(float(r[f"{metric}_mean"].iloc[0]) * 100, color="grey", linestyle=style, label=ref)
            ax.set_xscale("log")
            ax.set_title(task)
            ax.set_xlabel("retained ratio R")
            ax.set_ylabel(f"{label} (x100)")
            ax.grid(alpha=0.3)
        axes[0][-1].legend(fontsize=7, loc="best")
        fig.tight_layout()
        written += save(fig, out_dir / f"{metric}_vs_ratio{suffix}")
        plt.close(fig)
    return written


def cross_heatmaps(cross: pd.DataFrame, out_dir: Path) -> list[Path]:
    """One heatmap per (selector, ratio) and budget: rows = fine-tuned on, columns = tested on, mIoU x100."""
    from delbench.score.budgets import suffix, with_budget

    plt = pyplot()
    written = []
    for (sel, ratio, budget), g in with_budget(cross).groupby(["selector", "ratio_target", "budget"], sort=True):
        mat = g.groupby(["train_task", "test_task"])["miou"].mean().unstack("test_task").sort_index().sort_index(axis=1)
        fig, ax = plt.subplots(figsize=(1.1 * mat.shape[1] + 2, 0.9 * mat.shape[0] + 1.5))
        im = ax.imshow(mat.to_numpy() * 100, cmap="viridis", vmin=0, vmax=100)
        ax.set_xticks(range(mat.shape[1]), mat.columns, rotation=45, ha="right")
        ax.set_yticks(range(mat.shape[0]), mat.index)
        for (i, j), v in np.ndenumerate(mat.to_numpy() * 100):
            ax.text(j, i, f"{v:.0f}", ha="center", va="center", color="white" if v < 60 else "black", fontsize=8)
        ax.set_xlabel("tested on")
        ax.set_ylabel("fine-tuned on")
        ax.set_title(f"{sel} R={ratio:g}" + ("" if budget == 1.0 else f" budget {budget:g}"))
        fig.colorbar(im, ax=ax, label="mIoU x100")
        fig.tight_layout()
        written += save(fig, out_dir / f"cross_{sel}_r{ratio:g}{suffix(budget)}")
        plt.close(fig)
    return written
