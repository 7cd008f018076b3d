"""The validity ladder as tables (console, Markdown, LaTeX) and as ``validate.json``."""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from delbench.report.tables import Grid, to_latex, to_markdown
from delbench.store.atomic import atomic_path, write_json
from delbench.store.rundir import RunDir

if TYPE_CHECKING:
    from delbench.score.validate import Verdict


def _pts(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{100 * x:+.2f}"


def precondition_line(verdict: "Verdict") -> str:
    """The precondition in one line, printed before the ladder: without it the ladder means nothing."""
    pre = verdict.precondition
    return f"precondition (pre-training matters): {pre.describe()}: {'holds' if pre.holds else 'does NOT hold'}"


def precondition_grid(verdict: "Verdict") -> Grid:
    pre, o = verdict.precondition, verdict.overall
    header = ["precondition", "per-seed Δ mIoU x100", "mean", "lower 95%", "needs", "holds"]
    rows = [["full − scratch (task mean)", " ".join(_pts(d) for d in o.diffs), _pts(pre.mean), _pts(pre.lower),
             f"mean ≥ {100 * pre.threshold:+.2f}, lower > 0", "yes" if pre.holds else "NO"]]
    return Grid("Precondition: pre-training matters (full beats scratch on the task-mean test mIoU, paired by seed)",
                header, rows, set(), slug="validate")


def ladder_grid(verdict: "Verdict") -> Grid:
    from delbench.score.validate import holds

    n = max((r.n for r in verdict.rungs), default=0)
    header = ["rung", "R", "per-seed Δ mIoU x100", "mean", "lower 95%", f"MDE ({n} seeds)", "holds"]
    rows = []
    for r in verdict.rungs:
        rows.append([f"{r.a} > {r.b}", f"{r.ratio:g}", " ".join(_pts(d) for d in r.diffs), _pts(r.mean),
                     _pts(r.lower), "–" if not math.isfinite(r.mde) else f"{100 * r.mde:.2f}", "yes" if holds(r) else "NO"])
    return Grid("Validity ladder: task-mean test mIoU, paired by seed (one-sided 95% t lower bound)", header, rows, set(),
                slug="validate")


def task_grid(verdict: "Verdict") -> Grid:
    from delbench.score.validate import holds

    header = ["task", "dead", "full − scratch x100", "lower 95%", "full beats scratch"]
    rows = [[t.task, "DEAD" if t.dead else "no", _pts(t.full_minus_scratch.mean), _pts(t.full_minus_scratch.lower),
             "yes" if t.full_beats_scratch else "NO"] for t in verdict.tasks]
    o = verdict.overall
    rows.append(["(task mean)", "", _pts(o.mean), _pts(o.lower), "yes" if holds(o) else "NO"])
    return Grid("Tasks: dead tasks and full vs scratch, paired by seed", header, rows, set(), slug="validate")


def write_verdict(run_dir: Path, verdict: "Verdict") -> None:
    rd = RunDir(run_dir)
    write_json(rd.verdict, verdict.to_dict())
    grids = (precondition_grid(verdict), ladder_grid(verdict), task_grid(verdict))
    with atomic_path(rd.table("validate", "md")) as tmp:
        tmp.write_text("\n".join(to_markdown(g) for g in grids))
    with atomic_path(rd.table("validate", "tex")) as tmp:
        tmp.write_text("\n".join(to_latex(g) for g in grids))
