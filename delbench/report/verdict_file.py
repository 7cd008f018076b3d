"""Reading ``validate.json`` back into the verdicts it was written from, to show the ladders again."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from delbench.errors import DelbenchError
from delbench.score.stats import PairedDiff
from delbench.score.validate import PRECONDITION, Ladders, TaskCheck, Verdict


def _diff(d: dict[str, Any]) -> PairedDiff:
    return PairedDiff(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _verdict(data: dict[str, Any]) -> Verdict:
    return Verdict(rungs=tuple(_diff(r) for r in data["rungs"]),
                   tasks=tuple(TaskCheck(t["task"], bool(t["dead"]), _diff(t["full_minus_scratch"]),
                                        bool(t.get("scratch_collapsed", False))) for t in data["tasks"]),
                   overall=_diff(data["full_minus_scratch"]),
                   # a file from before the precondition was written is judged by today's threshold
                   threshold=float((data.get("precondition") or {}).get("threshold", PRECONDITION)),
                   budget=float(data.get("budget", 1.0)))


def read_ladders(path: Path) -> Ladders:
    """Every budget's verdict: several under ``ladders``, or the one a single-budget file holds."""
    try:
        data = json.loads(path.read_text())
        return Ladders(tuple(_verdict(v) for v in data["ladders"]) if "ladders" in data else (_verdict(data),))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DelbenchError(f"{path}: not a readable validate.json ({exc}); rerun `delbench validate`") from None


def read_verdict(path: Path) -> Verdict:
    """The verdict of a single-budget file (with several budgets: the largest budget's)."""
    return read_ladders(path).verdicts[-1]
