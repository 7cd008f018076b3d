"""Results at several pre-training budgets (``compare --budgets``): the ``budget`` column, and the
rows that belong to one budget.

A budget is a fraction of the protocol's pre-training steps. ``scratch`` pre-trains nothing, so it
has one set of rows (budget 1) that every budget shares; ``full`` and each selector have rows per
budget. A results table written before budgets existed holds budget 1 only.
"""
from __future__ import annotations

import pandas as pd

from delbench.references import SCRATCH

COLUMN = "budget"
DEFAULT = 1.0


def with_budget(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``budget`` column: as it is, or 1.0 throughout for a table from before budgets."""
    if COLUMN in frame.columns:
        return frame
    return frame.assign(**{COLUMN: DEFAULT})


def budgets_of(frame: pd.DataFrame) -> tuple[float, ...]:
    """The budgets a table holds, ascending (scratch's rows count for none: every budget shares them)."""
    frame = with_budget(frame)
    values = frame.loc[frame["selector"] != SCRATCH, COLUMN].dropna().unique()
    return tuple(sorted(float(v) for v in values)) or (DEFAULT,)


def at_budget(frame: pd.DataFrame, budget: float) -> pd.DataFrame:
    """The rows of one budget, with scratch's (which no budget changes)."""
    frame = with_budget(frame)
    keep = (frame[COLUMN] == budget) | (frame["selector"] == SCRATCH)
    return frame[keep]


def label(budget: float, steps: int | None = None) -> str:
    """``budget 0.5`` or ``budget 0.5 (90 steps)``."""
    return f"budget {budget:g}" + (f" ({steps:,} steps)" if steps else "")


def steps_at(frame: pd.DataFrame, budget: float) -> int | None:
    """The pre-training steps the rows of ``budget`` ran (None where the table does not say)."""
    if "pretrain_steps" not in frame.columns:
        return None
    rows = with_budget(frame)
    rows = rows[(rows[COLUMN] == budget) & (rows["selector"] != SCRATCH)]
    steps = rows["pretrain_steps"].dropna()
    return int(steps.max()) if len(steps) and steps.max() > 0 else None


def suffix(budget: float) -> str:
    """What a per-budget file adds to its name: nothing for budget 1, so a run of the protocol's own
    budget keeps the names it always had; ``_b0.5`` otherwise."""
    return "" if budget == DEFAULT else f"_b{budget:g}"
