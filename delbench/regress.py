"""Regression of baseline scores: rerun a protocol for the built-in selectors and compare each
(selector, ratio, task) mean against a committed baseline, within a tolerance set from the measured
seed-to-seed spread."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from delbench.atomic import write_json
from delbench.errors import DelbenchError

BUILTIN_SELECTORS = ("meddel", "random", "coreset", "dedup-only")
METRICS = ("miou", "normdel")
# A rerun on another machine is, at worst, a fresh draw of the same seeds' noise: the difference of two
# means over n seeds has standard deviation sd * sqrt(2 / n). The tolerance is Z of those, so that
# across ~100 cells a faithful rerun fails with a probability of a few percent at most ...
Z = 4.0
TOLERANCE_FLOOR = 0.005  # ... and never tighter than half a point of mIoU
KEY = ["selector", "ratio_target", "task"]


def make_baseline(results: pd.DataFrame, protocol: Any) -> dict[str, Any]:
    entries = []
    for (sel, ratio, task), g in results.groupby(KEY, sort=True):
        entry: dict[str, Any] = {"selector": sel, "ratio_target": float(ratio), "task": task, "seeds": sorted(int(s) for s in g["seed"])}
        for m in METRICS:
            sd = float(g[m].std(ddof=1)) if len(g) > 1 else 0.0
            entry[m] = round(float(g[m].mean()), 6)
            entry[f"{m}_sd"] = round(sd, 6)
            entry[f"{m}_tol"] = round(max(TOLERANCE_FLOOR, Z * sd * np.sqrt(2.0 / len(g))), 6)
        entries.append(entry)
    return {"protocol": protocol.name, "protocol_version": protocol.version, "protocol_hash": protocol.hash(),
            "tolerance": f"max({TOLERANCE_FLOOR}, {Z} * sd * sqrt(2 / n_seeds))", "entries": entries}


def read_baseline(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DelbenchError(f"baseline {path} not found: create it with `delbench regress --update --baseline {path}`")
    try:
        data = json.loads(path.read_text())
        data["entries"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise DelbenchError(f"baseline {path} is not a delbench baseline (JSON with 'entries')") from None
    return data


def compare_to_baseline(results: pd.DataFrame, baseline: dict[str, Any]) -> pd.DataFrame:
    """One row per (selector, ratio, task, metric): baseline, now, difference, tolerance, ok."""
    now = results.groupby(KEY, sort=True)[list(METRICS)].mean()
    rows = []
    for e in baseline["entries"]:
        key = (e["selector"], float(e["ratio_target"]), e["task"])
        for m in METRICS:
            value = float(now.loc[key, m]) if key in now.index else float("nan")
            diff = value - e[m]
            rows.append({"selector": key[0], "ratio_target": key[1], "task": key[2], "metric": m, "baseline": e[m],
                         "now": value, "diff": diff, "tolerance": e[f"{m}_tol"],
                         "ok": bool(np.isfinite(diff) and abs(diff) <= e[f"{m}_tol"] + 1e-12)})
    return pd.DataFrame(rows)


def check_protocol(baseline: dict[str, Any], protocol: Any) -> None:
    if baseline.get("protocol_version") != protocol.version:
        raise DelbenchError(
            f"baseline is for protocol {baseline.get('protocol')} version {baseline.get('protocol_version')}, "
            f"this is version {protocol.version}: scores are not comparable; rerun with --update"
        )


def save_baseline(path: Path, baseline: dict[str, Any]) -> None:
    write_json(path, baseline)
