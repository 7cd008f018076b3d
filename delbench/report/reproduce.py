"""The command line that reproduces each invocation recorded in a run directory's ``run.json``."""
from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any


def _value(value: Any) -> str:
    """A value as ``--param``/``--set`` read it back: JSON where JSON would parse, else the raw string."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
        return json.dumps(value)  # a string that reads as a number or list must stay a string
    return json.dumps(value)


def _csv(values: Any) -> str:
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def _data_arg(entry: dict[str, Any]) -> str | None:
    if "data_arg" in entry:
        return entry["data_arg"]
    # recorded before the --data argument was: a synthetic DataDEL lives in the cache under this name
    root = entry.get("data_root") or ""
    return None if Path(root).name.startswith("synthetic-") else root or None


def command(entry: dict[str, Any], info: dict[str, Any], run_dir: Path | str) -> str:
    """``delbench compare ...`` for one invocation (``entry``) of the run described by ``info``."""
    selectors = list(entry.get("selectors") or info.get("selectors") or [])
    args = ["delbench", "compare", *selectors]
    args += ["--protocol", str(entry.get("protocol_arg") or info.get("protocol", {}).get("name", "?"))]
    data = _data_arg(entry)
    if data:
        args += ["--data", str(data)]
    if entry.get("ratios"):
        args += ["--ratios", _csv(entry["ratios"])]
    if entry.get("seeds") is not None:
        args += ["--seeds", _csv(entry["seeds"])]
    if entry.get("budgets") and list(entry["budgets"]) != [1.0]:  # budget 1 alone is the default
        args += ["--budgets", _csv(entry["budgets"])]
    if entry.get("tasks"):
        args += ["--tasks", ",".join(entry["tasks"])]
    params = entry.get("params") or info.get("params") or {}
    for sel in selectors:
        for key, value in sorted((params.get(sel) or {}).items()):
            if value is not None:  # a None is the selector's own default ("choose for me")
                args += ["--param", f"{sel}.{key}={_value(value)}"]
    for key, value in sorted((entry.get("overrides") or {}).items()):
        args += ["--set", f"{key}={_value(value)}"]
    if entry.get("cross"):
        args.append("--cross")
    args += ["--out", str(run_dir)]
    return shlex.join(args)


def commands(info: dict[str, Any], run_dir: Path | str) -> list[str]:
    """One command per invocation, oldest first (a run.json without that list counts as one)."""
    return [command(entry, info, run_dir) for entry in (info.get("invocations") or [info])]
