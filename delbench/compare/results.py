"""The long results table (one row per selector x ratio x seed x task, DESIGN.md columns) and run.json."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from delbench.store.atomic import atomic_path, write_json
from delbench.compare.plan import Unit
from delbench.compare.runinfo import run_info
from delbench.score.budgets import with_budget
from delbench.score.normdel import del_score, normdel
from delbench.store.rundir import CROSS_KEY, RESULT_KEY, RunDir, merge_info, merge_rows

COLUMNS = ["selector", "ratio_target", "ratio_achieved", "seed", "task", "miou", "miou_all", "miou_dataset", "dice",
           "empty_share", "del", "normdel", "pretrain_steps", "pretrain_seconds", "select_seconds", "kept_bytes"]
# What results.parquet holds: ``budget`` last (compare --budgets). Every reader takes a table without it,
# written before budgets existed or built by hand from COLUMNS, as budget 1 (``with_budget``).
WRITTEN = [*COLUMNS, "budget"]


def results_frame(units: list[Unit], outcome: dict[Unit, dict[str, Any]], alpha: float) -> pd.DataFrame:
    rows = []
    for unit in units:
        got = outcome[unit]
        for r in got["rows"]:
            rows.append({
                "selector": unit.selector, "ratio_target": unit.ratio_target, "ratio_achieved": unit.ratio_achieved,
                "seed": unit.seed, "task": r["task"], "miou": float(r["miou"]), "miou_all": float(r["miou_all"]),
                "miou_dataset": float(r["miou_dataset"]), "dice": float(r["dice"]), "empty_share": float(r["empty_share"]),
                "pretrain_steps": got["pretrain_steps"], "pretrain_seconds": got["pretrain_seconds"],
                "select_seconds": unit.select_seconds, "kept_bytes": unit.kept_bytes, "budget": float(unit.budget),
            })
    frame = pd.DataFrame(rows)
    frame["del"] = del_score(frame["miou"].to_numpy(), frame["ratio_achieved"].to_numpy(), alpha)
    frame["normdel"] = normdel(frame["miou"].to_numpy(), frame["ratio_achieved"].to_numpy(), alpha)
    return sort_rows(frame[WRITTEN])


def sort_rows(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [k for k in ("selector", "ratio_target", "budget", "seed", "task") if k in frame.columns]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def cross_frame(units: list[Unit], outcome: dict[Unit, dict[str, Any]]) -> pd.DataFrame | None:
    rows = [{"selector": u.selector, "ratio_target": u.ratio_target, "seed": u.seed, **r, "budget": float(u.budget)}
            for u in units for r in outcome[u].get("cross", [])]
    if not rows:
        return None
    return pd.DataFrame(rows).sort_values(["selector", "ratio_target", "budget", "seed", "train_task", "test_task"],
                                          kind="stable").reset_index(drop=True)


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def write_results(run_dir: Path, protocol: Any, units: list[Unit], outcome: dict[Unit, dict[str, Any]],
                  extra: dict[str, Any], previous: dict[str, Any] | None = None) -> pd.DataFrame:
    """Write this invocation's rows merged with what ``run_dir`` holds (``previous``: its run.json, None
    for a new directory): a unit run again replaces its rows, every other row stays. Plots drawn from
    the rows before are removed once the rows change, so none is left out of date."""
    rd = RunDir(run_dir)
    old = _read(rd.results) if previous is not None else None
    frame = sort_rows(merge_rows(old, results_frame(units, outcome, protocol.score.alpha), RESULT_KEY))
    cross = cross_frame(units, outcome)
    if previous is not None:
        cross = merge_rows(_read(rd.cross), cross, CROSS_KEY)
    write_frame(frame, rd.results)
    with atomic_path(rd.results_csv) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")
    if cross is not None:
        cross = cross.sort_values(CROSS_KEY, kind="stable").reset_index(drop=True)
        write_frame(cross, rd.cross)
    write_json(rd.run_json, merge_info(previous, run_info(protocol, extra), frame))
    if old is not None and not old.equals(pd.read_parquet(rd.results)):
        shutil.rmtree(rd.plots, ignore_errors=True)
    return frame


def _read(path: Path) -> pd.DataFrame | None:
    """A table of the run directory, with ``budget`` (1.0 in a table written before budgets existed)."""
    return with_budget(pd.read_parquet(path)) if path.is_file() else None


def read_results(run_dir: Path) -> pd.DataFrame:
    from delbench.errors import DelbenchError

    path = RunDir(run_dir).results
    if not path.is_file():
        raise DelbenchError(f"{path} not found: is {run_dir} a finished `delbench compare` run directory?")
    return with_budget(pd.read_parquet(path))
