"""The validity ladder as tables (console, Markdown, LaTeX) and as ``validate.json``: per budget, the
precondition, the ladder and the task checks, and with several budgets each rung against the budget."""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from delbench.report.tables import Grid, to_latex, to_markdown
from delbench.store.atomic import atomic_path, write_json
from delbench.store.rundir import RunDir

if TYPE_CHECKING:
    from delbench.score.validate import Ladders, Verdict


def _pts(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{100 * x:+.2f}"


def precondition_line(verdict: "Verdict", budget: bool = False) -> str:
    """The precondition in one line, printed before the ladder: without it the ladder means nothing.
    ``budget``: say which budget it was judged at."""
    pre = verdict.precondition
    at = f" at budget {verdict.budget:g}" if budget else ""
    return f"precondition (pre-training matters){at}: {pre.describe()}: {'holds' if pre.holds else 'does NOT hold'}"


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

    header = ["task", "dead", "scratch collapsed", "full − scratch x100", "lower 95%", "full beats scratch"]
    rows = [[t.task, "DEAD" if t.dead else "no", "YES" if t.scratch_collapsed else "no",
             _pts(t.full_minus_scratch.mean), _pts(t.full_minus_scratch.lower),
             "yes" if t.full_beats_scratch else "NO"] for t in verdict.tasks]
    o = verdict.overall
    rows.append(["(task mean)", "", "", _pts(o.mean), _pts(o.lower), "yes" if holds(o) else "NO"])
    return Grid("Tasks: dead tasks, scratch collapsed to background, and full vs scratch, paired by seed", header, rows,
                set(), slug="validate")


def verdict_grids(verdict: "Verdict", budget: bool = False) -> list[Grid]:
    """The precondition, the ladder and the task checks of one budget (``budget``: titled with it)."""
    grids = [precondition_grid(verdict), ladder_grid(verdict), task_grid(verdict)]
    if not budget:
        return grids
    return [replace(g, title=f"Budget {verdict.budget:g}: {g.title}") for g in grids]


def rung_budget_grid(ladders: "Ladders") -> Grid:
    """Each rung, and the precondition, against the budget: mean (lower 95%) x100, NO where it fails."""
    from delbench.score.validate import holds

    verdicts = ladders.verdicts
    header = ["rung", "R"] + [f"budget {v.budget:g}" for v in verdicts]

    def cell(mean: float, lower: float, ok: bool) -> str:
        return f"{_pts(mean)} ({_pts(lower)})" + ("" if ok else " NO")

    rows = [["full − scratch ≥ " + f"{100 * verdicts[0].threshold:.0f}", "1 / 0"]
            + [cell(v.precondition.mean, v.precondition.lower, v.precondition.holds) for v in verdicts]]
    for i, first in enumerate(verdicts[0].rungs):
        rows.append([f"{first.a} > {first.b}", f"{first.ratio:g}"]
                    + [cell(v.rungs[i].mean, v.rungs[i].lower, holds(v.rungs[i])) if i < len(v.rungs) else "–"
                       for v in verdicts])
    return Grid("Rungs against the pre-training budget: mean Δ task-mean test mIoU x100 (one-sided 95% lower bound)",
                header, rows, set(), slug="validate")


def ladders_grids(ladders: "Ladders") -> list[Grid]:
    """Every table ``validate`` shows: per budget its three (titled with the budget unless budget 1 is
    the only one), then (several budgets) the rungs against it."""
    grids = [g for v in ladders.verdicts for g in verdict_grids(v, budget=labelled(ladders))]
    return grids + ([rung_budget_grid(ladders)] if len(ladders.verdicts) > 1 else [])


def labelled(ladders: "Ladders") -> bool:
    """Whether what is shown names its budget: always, except for the protocol's own budget alone."""
    return ladders.budgets != (1.0,)


def write_verdict(run_dir: Path, verdict: "Verdict | Ladders") -> None:
    from delbench.score.validate import Ladders

    ladders = verdict if isinstance(verdict, Ladders) else Ladders((verdict,))
    rd = RunDir(run_dir)
    write_json(rd.verdict, ladders.to_dict())
    grids = ladders_grids(ladders)
    with atomic_path(rd.table("validate", "md")) as tmp:
        tmp.write_text("\n".join(to_markdown(g) for g in grids))
    with atomic_path(rd.table("validate", "tex")) as tmp:
        tmp.write_text("\n".join(to_latex(g) for g in grids))


def report_section(ladders: "Ladders") -> dict[str, object]:
    """What report.html shows of ``validate.json``: the verdict over every budget, the precondition
    line of each, and the tables (element ids ``validate-precondition``, ``validate-ladder``,
    ``validate-tasks``, each with ``-b<budget>`` for a budget other than 1; ``validate-budgets``)."""
    from delbench.report.html import grid_view
    from delbench.score.budgets import suffix

    named = labelled(ladders)
    tables = []
    for v in ladders.verdicts:
        end = suffix(v.budget).replace("_", "-")
        tables += [grid_view(g, f"validate-{kind}{end}")
                   for g, kind in zip(verdict_grids(v, budget=named), ("precondition", "ladder", "tasks"))]
    if len(ladders.verdicts) > 1:
        tables.append(grid_view(rung_budget_grid(ladders), "validate-budgets"))
    return {"passed": ladders.passed, "failures": ladders.failures(),
            "ratios": sorted({f"{r.ratio:g}" for v in ladders.verdicts for r in v.rungs}, key=float),
            "budgets": [f"{b:g}" for b in ladders.budgets] if named else [],
            "precondition": "; ".join(precondition_line(v, budget=named) for v in ladders.verdicts),
            "tables": tables}
