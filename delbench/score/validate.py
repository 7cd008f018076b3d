"""Protocol validity: does a protocol rank data by quality?

On a pool with ground truth (synthetic, or planted with ``delbench data plant``) the reference
selectors ``oracle`` (clean, distinct frames first) and ``adversary`` (disruptive frames and repeats
first) bracket ``random``. A protocol is valid when ``oracle > random > adversary`` holds at every
checked ratio, beyond seed noise: for each rung, the per-seed paired difference of the task-mean
mIoU has a one-sided 95% t lower bound above zero (the seed is the unit of replication).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from delbench.score.stats import PairedDiff, seed_paired
from delbench.references import FULL, SCRATCH

SELECTORS = ("oracle", "random", "adversary")
RATIOS = (0.05, 0.2)
RUNGS = (("oracle", "random"), ("random", "adversary"))
METRIC = "miou"
SAME = 1e-9  # two scores closer than this are the same prediction


@dataclass(frozen=True)
class TaskCheck:
    """One downstream task: dead (every row equal, or equal to scratch) and full vs scratch."""

    task: str
    dead: bool
    full_minus_scratch: PairedDiff

    @property
    def full_beats_scratch(self) -> bool:
        return holds(self.full_minus_scratch)


@dataclass(frozen=True)
class Verdict:
    rungs: tuple[PairedDiff, ...]
    tasks: tuple[TaskCheck, ...]
    overall: PairedDiff  # full - scratch on the task mean

    @property
    def passed(self) -> bool:
        return bool(self.rungs) and all(holds(r) for r in self.rungs)

    def failures(self) -> list[str]:
        return [f"{r.a} > {r.b} at R={r.ratio:g}: lower bound {100 * r.lower:+.2f}" for r in self.rungs if not holds(r)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed, "metric": METRIC, "rungs": [_diff_dict(r) for r in self.rungs],
            "tasks": [{"task": t.task, "dead": t.dead, "full_beats_scratch": t.full_beats_scratch,
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


def judge(results: pd.DataFrame, ratios: tuple[float, ...] = RATIOS) -> Verdict:
    """The ladder and the task checks of a results table holding oracle, random, adversary, full and scratch."""
    rungs = tuple(seed_paired(results, a, b, r, METRIC) for r in ratios for a, b in RUNGS)
    tasks = []
    for task in sorted(results["task"].unique()):
        part = results[results["task"] == task]
        tasks.append(TaskCheck(task, dead_task(results, task), seed_paired(part, FULL, SCRATCH, 1.0, METRIC)))
    return Verdict(rungs, tuple(tasks), seed_paired(results, FULL, SCRATCH, 1.0, METRIC))
