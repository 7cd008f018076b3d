"""Protocol validity: does a protocol rank data by quality?

On a pool with ground truth (synthetic, or planted with ``delbench data plant``) the reference
selectors ``oracle`` (clean, distinct frames first) and ``adversary`` (disruptive frames and repeats
first) bracket ``random``. A protocol is valid when ``oracle > random > adversary`` holds at every
checked ratio, beyond seed noise: for each rung, the per-seed paired difference of the task-mean
mIoU has a one-sided 95% t lower bound above zero (the seed is the unit of replication).

The ladder is read only under a precondition: pre-training must matter. A protocol whose pre-trained
encoder barely beats no pre-training at all cannot say which data pre-trains better, whatever the
rungs show, so the verdict also needs ``full`` above ``scratch`` by at least ``PRECONDITION`` of
task-mean mIoU, with a one-sided 95% lower bound above zero.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from delbench.score.budgets import DEFAULT, at_budget, budgets_of
from delbench.score.stats import PairedDiff, seed_paired
from delbench.references import FULL, SCRATCH

SELECTORS = ("oracle", "random", "adversary")
RATIOS = (0.05, 0.2)
RUNGS = (("oracle", "random"), ("random", "adversary"))
METRIC = "miou"
SAME = 1e-9  # two scores closer than this are the same prediction
# full - scratch on the task-mean mIoU (10 points): below it, pre-training is too weak a signal for the
# ladder to rank data by, even where the rungs hold
PRECONDITION = 0.10


@dataclass(frozen=True)
class TaskCheck:
    """One downstream task: dead (every row equal, or equal to scratch) and full vs scratch."""

    task: str
    dead: bool
    full_minus_scratch: PairedDiff
    # scratch scores 0 on every seed where full does not: the read-out of a random network predicts
    # background, so the gap there measures the read-out more than what pre-training learnt
    scratch_collapsed: bool = False

    @property
    def full_beats_scratch(self) -> bool:
        return holds(self.full_minus_scratch)


@dataclass(frozen=True)
class Precondition:
    """Pre-training matters: full - scratch on the task-mean mIoU, paired by seed, is at least
    ``threshold`` and its one-sided 95% lower bound is above 0."""

    mean: float
    lower: float
    threshold: float
    n: int
    collapsed: tuple[str, ...] = ()  # live tasks on which scratch collapses to mIoU 0 (TaskCheck)

    @property
    def holds(self) -> bool:
        return (self.n >= 2 and math.isfinite(self.mean) and math.isfinite(self.lower)
                and self.mean >= self.threshold and self.lower > 0 and not self.collapsed)

    def describe(self) -> str:
        """One line, in points of mIoU (x100)."""
        need = f"needs >= {100 * self.threshold:+.2f} with a lower bound above 0"
        if self.n < 2:
            return f"full − scratch over {self.n} seed(s): no lower bound ({need}; give at least 2 seeds)"
        text = (f"full − scratch {100 * self.mean:+.2f} points of task-mean mIoU, lower 95% {100 * self.lower:+.2f} "
                f"({need})")
        if self.collapsed:
            text += (f"; scratch collapses to mIoU 0 on {', '.join(self.collapsed)}, so the gap measures the read-out: "
                     "read it with one that does not collapse ([finetune] standardize = true)")
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "lower": self.lower, "threshold": self.threshold, "n": self.n,
                "collapsed": list(self.collapsed), "holds": self.holds}


@dataclass(frozen=True)
class Verdict:
    rungs: tuple[PairedDiff, ...]
    tasks: tuple[TaskCheck, ...]
    overall: PairedDiff  # full - scratch on the task mean
    threshold: float = PRECONDITION  # the precondition's, as judged (a file read back keeps its own)
    budget: float = DEFAULT  # the pre-training budget the ladder was judged at (compare --budgets)

    @property
    def precondition(self) -> Precondition:
        o = self.overall
        return Precondition(o.mean, o.lower, self.threshold, o.n,
                            tuple(t.task for t in self.tasks if t.scratch_collapsed and not t.dead))

    @property
    def passed(self) -> bool:
        return self.precondition.holds and bool(self.rungs) and all(holds(r) for r in self.rungs)

    def failures(self) -> list[str]:
        out = [] if self.precondition.holds else [f"precondition: {self.precondition.describe()}"]
        return out + [f"{r.a} > {r.b} at R={r.ratio:g}: lower bound {100 * r.lower:+.2f}"
                      for r in self.rungs if not holds(r)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed, "metric": METRIC, "budget": self.budget, "precondition": self.precondition.to_dict(),
            "rungs": [_diff_dict(r) for r in self.rungs],
            "tasks": [{"task": t.task, "dead": t.dead, "full_beats_scratch": t.full_beats_scratch,
                       "scratch_collapsed": t.scratch_collapsed,
                       "full_minus_scratch": _diff_dict(t.full_minus_scratch)} for t in self.tasks],
            "full_minus_scratch": _diff_dict(self.overall),
        }


def holds(diff: PairedDiff) -> bool:
    """A rung holds when its one-sided 95% lower bound over at least two seeds is above 0."""
    return diff.n >= 2 and math.isfinite(diff.lower) and diff.lower > 0


def _diff_dict(d: PairedDiff) -> dict[str, Any]:
    out = asdict(d)
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in out.items()}


def dead_task(results: pd.DataFrame, task: str) -> bool:
    """A task that cannot rank anything: every row scores the same, or every row scores what scratch
    scores on its seed."""
    rows = results[results["task"] == task]
    if rows.empty:
        return True
    if float(rows[METRIC].max() - rows[METRIC].min()) <= SAME:
        return True
    scratch = rows[rows["selector"] == SCRATCH].set_index("seed")[METRIC]
    if scratch.empty:
        return False
    others = rows[rows["selector"] != SCRATCH]
    base = others["seed"].map(scratch)
    return bool(np.all(np.abs(others[METRIC].to_numpy() - base.to_numpy()) <= SAME))


def scratch_collapsed(results: pd.DataFrame, task: str) -> bool:
    """``scratch`` scores 0 on ``task`` on every seed it ran, while ``full`` scores above 0 on some."""
    rows = results[results["task"] == task]
    scratch = rows.loc[rows["selector"] == SCRATCH, METRIC]
    full = rows.loc[rows["selector"] == FULL, METRIC]
    return bool(len(scratch) and len(full) and (scratch.abs() <= SAME).all() and (full > SAME).any())


def judge(results: pd.DataFrame, ratios: tuple[float, ...] = RATIOS, budget: float = DEFAULT) -> Verdict:
    """The ladder and the task checks of a results table holding oracle, random, adversary, full and
    scratch, at one pre-training budget (its rows and scratch's)."""
    results = at_budget(results, budget)
    rungs = tuple(seed_paired(results, a, b, r, METRIC) for r in ratios for a, b in RUNGS)
    tasks = []
    for task in sorted(results["task"].unique()):
        part = results[results["task"] == task]
        tasks.append(TaskCheck(task, dead_task(results, task), seed_paired(part, FULL, SCRATCH, 1.0, METRIC),
                               scratch_collapsed(results, task)))
    return Verdict(rungs, tuple(tasks), seed_paired(results, FULL, SCRATCH, 1.0, METRIC), budget=float(budget))


@dataclass(frozen=True)
class Ladders:
    """One verdict per pre-training budget. Data rankings can change with compute, so a protocol ranks
    data only if it does so at every budget it was asked about."""

    verdicts: tuple[Verdict, ...]  # ascending budget

    @property
    def passed(self) -> bool:
        return bool(self.verdicts) and all(v.passed for v in self.verdicts)

    @property
    def budgets(self) -> tuple[float, ...]:
        return tuple(v.budget for v in self.verdicts)

    def failures(self) -> list[str]:
        if self.budgets == (DEFAULT,):  # the protocol's own budget alone needs no name
            return self.verdicts[0].failures()
        return [f"budget {v.budget:g}: {why}" for v in self.verdicts for why in v.failures()]

    def to_dict(self) -> dict[str, Any]:
        """validate.json: one budget's verdict as it always was (with ``budgets``); several under ``ladders``."""
        if len(self.verdicts) == 1:
            return {**self.verdicts[0].to_dict(), "budgets": list(self.budgets)}
        return {"passed": self.passed, "metric": METRIC, "budgets": list(self.budgets),
                "ladders": [v.to_dict() for v in self.verdicts]}


def judge_budgets(results: pd.DataFrame, ratios: tuple[float, ...] = RATIOS,
                  budgets: tuple[float, ...] | None = None) -> Ladders:
    """``judge`` at each budget (default: every budget the table holds)."""
    wanted = sorted(budgets) if budgets else budgets_of(results)
    return Ladders(tuple(judge(results, ratios, float(b)) for b in wanted))
