"""Reading ``validate.json`` back into the verdict it was written from, to show the ladder again."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from delbench.errors import DelbenchError
from delbench.score.stats import PairedDiff
from delbench.score.validate import PRECONDITION, TaskCheck, Verdict


def _diff(d: dict[str, Any]) -> PairedDiff:
    return PairedDiff(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def read_verdict(path: Path) -> Verdict:
    try:
        data = json.loads(path.read_text())
        return Verdict(rungs=tuple(_diff(r) for r in data["rungs"]),
                       tasks=tuple(TaskCheck(t["task"], bool(t["dead"]), _diff(t["full_minus_scratch"])) for t in data["tasks"]),
                       overall=_diff(data["full_minus_scratch"]),
                       # a file from before the precondition was written is judged by today's threshold
                       threshold=float((data.get("precondition") or {}).get("threshold", PRECONDITION)))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DelbenchError(f"{path}: not a readable validate.json ({exc}); rerun `delbench validate`") from None
