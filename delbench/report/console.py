"""What ``compare`` and ``report`` print: a summary that reads on an 80-column terminal (one block per
retained ratio, R written once per block, per-task detail left to the HTML report), or the same
numbers for scripts as Markdown, CSV or JSON (``--format``)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from delbench.score.stats import REFERENCES, summary
from delbench.report.tables import Grid, to_markdown

WIDTH = 80
REFERENCE = "random"
POINTER = "per-task tables, plots, removal by ground-truth type, galleries: report.html"
_HEAD = ["selector", "mIoU", "NormDEL", f"Δ NormDEL vs {REFERENCE}", "MDE", "W/T/L"]


def _pm(mean: float, ci: float, digits: int) -> str:
    if math.isnan(mean):
        return "–"
    text = f"{100 * mean:.{digits}f}"
    return text if math.isnan(ci) else f"{text}±{100 * ci:.{digits}f}"


def _delta(r: pd.Series) -> str:
    if pd.isna(r["diff"]):
        return "–"
    if pd.isna(r["ci_low"]):
        return f"{100 * r['diff']:+.2f}"
    return f"{100 * r['diff']:+.2f} [{100 * r['ci_low']:+.2f},{100 * r['ci_high']:+.2f}]"


def _cells(r: pd.Series, name: str) -> list[str]:
    return [name, _pm(r["miou"], r["miou_ci"], 1), _pm(r["normdel"], r["normdel_ci"], 2), _delta(r),
            "–" if pd.isna(r["mde"]) else f"{100 * r['mde']:.2f}",
            "–" if pd.isna(r["win"]) else f"{int(r['win'])}/{int(r['tie'])}/{int(r['loss'])}"]


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 1)] + "…"


def summary_lines(results: pd.DataFrame, width: int = WIDTH) -> list[str]:
    """The summary as lines no longer than ``width``: per retained ratio below 1, one row per selector
    (task-mean ×100, mean ± 95% CI over seeds; NormDEL paired by seed against random), then the
    references ``full`` and ``scratch``. At budgets other than 1 alone, that summary per budget."""
    from delbench.score.budgets import DEFAULT, at_budget, budgets_of, label, steps_at

    budgets = budgets_of(results)
    if budgets == (DEFAULT,):
        return _summary_lines(results, width)
    out: list[str] = []
    for b in budgets:
        out += ([""] if out else []) + [_clip(f"== {label(b, steps_at(results, b))} ==", width)]
        out += _summary_lines(at_budget(results, b), width)
    return out


def _summary_lines(results: pd.DataFrame, width: int) -> list[str]:
    s = summary(results, REFERENCE)
    blocks: list[tuple[str, list[list[str]]]] = []
    body = s[~s["selector"].isin(REFERENCES) & (s["ratio_target"] < 1.0)]
    for ratio, g in body.groupby("ratio_target", sort=True):
        lo, hi = g["ratio_achieved"].min(), g["ratio_achieved"].max()
        achieved = f"{lo:.3f}" if math.isclose(lo, hi, abs_tol=5e-4) else f"{lo:.3f}-{hi:.3f}"
        blocks.append((f"R = {ratio:g} (achieved {achieved})", [_cells(r, r["selector"]) for _, r in g.iterrows()]))
    refs = [_cells(r, f"{r['selector']} (R={r['ratio_achieved']:g})") for _, r in s[s["selector"].isin(REFERENCES)].iterrows()]
    if refs:
        blocks.append(("references", refs))
    rows = [_HEAD] + [row for _, block in blocks for row in block]
    widths = [max(len(row[j]) for row in rows) for j in range(len(_HEAD))]
    gap = 2
    # the selector column gives way first, so the numbers are never cut
    spare = width - (sum(widths[1:]) + gap * (len(widths) - 1))
    widths[0] = max(min(widths[0], spare), 8)

    def line(row: list[str]) -> str:
        cells = [_clip(row[0], widths[0]).ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        return (" " * gap).join(cells).rstrip()

    seeds = int(results["seed"].nunique())
    verdicts = {f"R = {ratio:g}": [verdict_line(r) for _, r in g.iterrows() if r["selector"] != REFERENCE]
                for ratio, g in body.groupby("ratio_target", sort=True)}
    out = [_clip(f"Summary x100: mean over tasks per seed, then mean ± 95% CI over {seeds} seed(s)", width)]
    for title, block in blocks:
        out += ["", _clip(title, width), line(_HEAD)] + [line(r) for r in block]
        out += [f"  {text}" for text in verdicts.get(title.split(" (")[0], [])]
    return [_clip(text, width) for text in out]


def verdict(r: pd.Series) -> str:
    """``above`` or ``below`` random beyond seed noise (the 95% interval of the paired NormDEL
    difference excludes 0), ``within noise``, or ``undetermined`` (no interval: fewer than 2 seeds)."""
    if pd.isna(r["diff"]):
        return "undetermined"
    if pd.isna(r["ci_low"]) or pd.isna(r["ci_high"]):
        return "undetermined"
    if r["ci_low"] > 0:
        return "above"
    if r["ci_high"] < 0:
        return "below"
    return "within noise"


def verdict_line(r: pd.Series) -> str:
    """One line per selector under its ratio's rows: whether it differs from random beyond seed noise."""
    word = verdict(r)
    name = r["selector"]
    if word == "undetermined":
        return f"{name}: no interval with {int(r['n_seeds'])} seed(s); run 2 or more to compare with {REFERENCE}"
    if word == "within noise":
        return f"{name}: no difference from {REFERENCE} beyond seed noise (MDE {100 * r['mde']:.2f})"
    return f"{name}: {word} {REFERENCE} beyond seed noise (95% CI excludes 0)"


def summary_records(results: pd.DataFrame) -> list[dict[str, Any]]:
    """The summary's numbers (fractions, not x100), one record per selector and ratio; NaN as None.
    At budgets other than 1 alone, one per selector, ratio and budget, each naming its budget."""
    from delbench.score.budgets import DEFAULT, at_budget, budgets_of

    budgets = budgets_of(results)
    if budgets == (DEFAULT,):
        return _summary_records(results)
    return [{**rec, "budget": b} for b in budgets for rec in _summary_records(at_budget(results, b))]


def _summary_records(results: pd.DataFrame) -> list[dict[str, Any]]:
    frame = summary(results, REFERENCE)
    frame = frame[frame["selector"].isin(REFERENCES) | (frame["ratio_target"] < 1.0)]
    def plain(v: Any) -> Any:
        v = v.item() if hasattr(v, "item") else v
        return None if isinstance(v, float) and math.isnan(v) else v

    counts = ("n_seeds", "n", "win", "tie", "loss")
    frame = frame.assign(verdict=[None if r["selector"] in (REFERENCE, *REFERENCES) else verdict(r)
                                  for _, r in frame.iterrows()])
    records = [{k: plain(v) for k, v in rec.items()} for rec in frame.to_dict(orient="records")]
    return [{k: int(v) if k in counts and v is not None else v for k, v in rec.items()} for rec in records]


def formatted(fmt: str, results: pd.DataFrame, grids: Sequence[Grid], run_dir: Path, report: Path,
              stages: dict[str, Any] | None = None) -> str:
    """``md``: the tables as Markdown; ``csv``: the summary, one row per selector and ratio; ``json``:
    the summary with the run directory, report and stage counts."""
    if fmt == "md":
        return "\n".join(to_markdown(g) for g in grids)
    if fmt == "csv":
        return pd.DataFrame(summary_records(results)).to_csv(index=False)
    if fmt == "json":
        payload = {"run_dir": str(run_dir), "report": str(report), "summary": summary_records(results)}
        if stages is not None:
            payload["stages"] = stages
        return json.dumps(payload, indent=2) + "\n"
    raise ValueError(f"unknown format {fmt!r}")


def stage_lines(counts: dict[str, dict[str, int]]) -> list[str]:
    """What one invocation took from the cache and what it computed, two short lines."""
    names = [s for s in ("select", "pretrain", "evaluate") if s in counts]
    if not names:
        return []
    return [f"stages {kind}: " + ", ".join(f"{s} {counts[s][kind]}" for s in names) for kind in ("reused", "computed")]
