"""Merging run directories into one leaderboard's rows.

Runs made on different machines and at different times merge when they are one study: the same
protocol (by hash), the same data (by manifest sha256) and, for a selector they share, the same
parameters. Anything else is refused with one line naming what differs. A unit (selector, ratio,
seed, task) present in several runs is kept once; when its scores differ between runs, the first
run's row is kept and the difference is reported."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from delbench.store.rundir import RESULT_KEY
from delbench.errors import DelbenchError
from delbench.store.rundir import RunDir

# What a unit's result is: two runs agree on a unit when these are equal. Timings describe the
# machine, not the result, and may differ.
SCORES = ["ratio_achieved", "miou", "miou_all", "miou_dataset", "dice", "empty_share", "del", "normdel",
          "pretrain_steps", "kept_bytes"]


@dataclass(frozen=True)
class Run:
    path: Path
    info: dict[str, Any]
    results: pd.DataFrame

    @property
    def run_json(self) -> Path:
        return RunDir(self.path).run_json


@dataclass(frozen=True)
class Conflict:
    """One unit whose scores differ between two runs: ``kept`` is the run whose row the board uses."""

    selector: str
    ratio_target: float
    seed: int
    task: str
    kept: str
    other: str
    miou_diff: float
    normdel_diff: float


def read_run(path: Path) -> Run:
    from delbench.compare.results import COLUMNS

    path = Path(path)
    info_path, results_path = RunDir(path).run_json, RunDir(path).results
    if not path.is_dir():
        raise DelbenchError(f"{path}: not a directory; give run directories written by `delbench compare`")
    for needed in (info_path, results_path):
        if not needed.is_file():
            raise DelbenchError(f"{needed} not found: is {path} a finished `delbench compare` run directory?")
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError) as exc:
        raise DelbenchError(f"{info_path}: not readable JSON ({exc})") from None
    for key in ("protocol", "protocol_hash"):
        if not isinstance(info, dict) or key not in info:
            raise DelbenchError(f"{info_path}: no {key!r} field; is it a run.json written by `delbench compare`?")
    try:
        results = pd.read_parquet(results_path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DelbenchError(f"{results_path}: not a readable Parquet file ({type(exc).__name__}: {exc})") from None
    from delbench.score.budgets import DEFAULT, at_budget, budgets_of, with_budget

    results = with_budget(results)  # a run from before budgets ran budget 1 only
    missing = [c for c in COLUMNS if c not in results.columns]
    if missing:
        raise DelbenchError(f"{results_path}: missing column(s) {', '.join(missing)}")
    # a board ranks at the protocol's own compute: rows of other budgets (compare --budgets) would
    # be averaged into each cell, and rankings can change with compute
    held = budgets_of(results)
    if DEFAULT not in held:
        raise DelbenchError(f"{results_path}: holds budgets {', '.join(f'{b:g}' for b in held)} only; a leaderboard "
                            "ranks at the protocol's own budget 1: add it with `delbench compare ... --budgets 1`")
    return Run(path, info, at_budget(results, DEFAULT))


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flat(value, f"{prefix}{key}." if isinstance(value, dict) else f"{prefix}{key}"))
        return out
    return {prefix.rstrip("."): tree}


def protocol_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """``key A vs B`` (A from ``a``) for every protocol setting that differs, dotted (``finetune.steps``)."""
    fa, fb = _flat(a), _flat(b)
    return [f"{k} {json.dumps(fa.get(k, '(absent)'))} vs {json.dumps(fb.get(k, '(absent)'))}"
            for k in sorted(set(fa) | set(fb)) if fa.get(k, "(absent)") != fb.get(k, "(absent)")]


def check_one_study(runs: list[Run]) -> None:
    """Refuse, with one line naming what differs, runs that are not one study."""
    first = runs[0]
    for run in runs[1:]:
        if run.info["protocol_hash"] != first.info["protocol_hash"]:
            diffs = protocol_differences(run.info["protocol"], first.info["protocol"])
            what = "; ".join(diffs) if diffs else "same settings, hashed by another delbench version"
            raise DelbenchError(f"{run.run_json}: protocol hash {run.info['protocol_hash']} differs from "
                                f"{first.run_json}'s {first.info['protocol_hash']} ({what}); a leaderboard merges "
                                "runs of one protocol: make one board per protocol")
        mine, theirs = run.info.get("manifest_sha256"), first.info.get("manifest_sha256")
        if mine != theirs:
            raise DelbenchError(f"{run.run_json}: data manifest sha256 {str(mine)[:12]} differs from {first.run_json}'s "
                                f"{str(theirs)[:12]} ({run.info.get('data_root')} vs {first.info.get('data_root')}); "
                                "a leaderboard merges runs on the same data")
    seen: dict[str, tuple[Run, dict[str, Any]]] = {}
    for run in runs:
        for sel, params in (run.info.get("params") or {}).items():
            if sel not in seen:
                seen[sel] = (run, params)
                continue
            other, before = seen[sel]
            for key in sorted(set(before) | set(params)):
                if before.get(key) != params.get(key):
                    raise DelbenchError(f"{run.run_json}: selector {sel!r} ran with {key}={params.get(key)!r}, in "
                                        f"{other.run_json} with {key}={before.get(key)!r}; rows of one name must be "
                                        "one method: leave one run out")


def merge(runs: list[Run]) -> tuple[pd.DataFrame, list[Conflict]]:
    """The union of the runs' rows, each unit once (the first run's), and the units that differ."""
    from delbench.compare.results import sort_rows

    parts = [run.results.assign(_run=str(run.path)) for run in runs]
    rows = pd.concat(parts, ignore_index=True)
    conflicts: list[Conflict] = []
    for key, group in rows.groupby(RESULT_KEY, sort=True):
        if len(group) < 2:
            continue
        first = group.iloc[0]
        for _, other in group.iloc[1:].iterrows():
            if other["_run"] == first["_run"]:
                continue
            if not all(_same(first[c], other[c]) for c in SCORES):
                conflicts.append(Conflict(str(key[0]), float(key[1]), int(key[2]), str(key[3]), str(first["_run"]),
                                          str(other["_run"]), float(other["miou"] - first["miou"]),
                                          float(other["normdel"] - first["normdel"])))
    merged = rows.drop_duplicates(subset=RESULT_KEY, keep="first").drop(columns="_run")
    return sort_rows(merged), conflicts


def _same(a: Any, b: Any) -> bool:
    return (pd.isna(a) and pd.isna(b)) or a == b


def merged_info(runs: list[Run]) -> dict[str, Any]:
    """What the board says about where its rows came from."""
    first = runs[0].info
    return {
        "protocol": first["protocol"], "protocol_hash": first["protocol_hash"],
        "manifest_sha256": first.get("manifest_sha256"),
        "params": {sel: p for run in runs for sel, p in (run.info.get("params") or {}).items()},
        "runs": [{"path": str(run.path), "machine": (run.info.get("machine") or {}).get("platform", "?"),
                  "cpus": (run.info.get("machine") or {}).get("cpus"),
                  "started": ((run.info.get("invocations") or [run.info])[0]).get("started", "?"),
                  "git_commit": run.info.get("git_commit"), "delbench": (run.info.get("versions") or {}).get("delbench"),
                  "selectors": sorted(set(run.results["selector"])), "seeds": sorted(int(s) for s in set(run.results["seed"]))}
                 for run in runs],
    }
