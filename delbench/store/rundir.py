"""A run directory holds one study: one protocol (by hash) on one dataset (by manifest). A later compare
into it adds its units to the same tables; a run of another study is refused before it writes
anything, and a lock (``run.lock``) keeps a second writer out while one runs.

``RunDir`` is the one place that knows the directory's layout; everything else asks it for paths."""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from delbench.errors import DelbenchError
from delbench.store.atomic import read_record
from delbench.store.locks import Busy, hold



def _file(name: str) -> property:
    return property(lambda self: self.path / name, doc=f"``{name}``")


@dataclass(frozen=True)
class RunDir:
    """The layout of a run directory (drawn in docs/architecture.md)."""

    path: Path

    results = _file("results.parquet")  # one row per (selector, ratio, seed, task)
    results_csv = _file("results.csv")
    results_md = _file("results.md")
    cross = _file("crossdata.parquet")  # with --cross: fine-tune on A, test on B
    run_json = _file("run.json")
    verdict = _file("validate.json")
    lock = _file("run.lock")
    report = _file("report.html")  # one self-contained page: tables, plots, galleries
    plots = _file("plots")
    jobs = _file("jobs.json")  # with a cluster executor: each unit's job id and state
    jobs_folder = _file("jobs")  # submitit's scripts, logs and argument pickles

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    def subsets(self, selector: str, seed: int) -> Path:
        return self.path / "subsets" / selector / f"seed{seed}"

    def subset(self, selector: str, seed: int, ratio: float) -> Path:
        return self.subsets(selector, seed) / f"r{ratio:g}.npy"

    def table(self, slug: str, suffix: str) -> Path:
        return self.path / "tables" / f"{slug}.{suffix}"

    def read_info(self) -> dict[str, Any]:
        return json.loads(self.run_json.read_text())

# What identifies a row of each table: a rerun of the same unit replaces its rows, nothing else does.
# ``budget`` comes last, so code that reads a key's first fields by position still finds them there.
RESULT_KEY = ["selector", "ratio_target", "seed", "task", "budget"]
CROSS_KEY = ["selector", "ratio_target", "seed", "train_task", "test_task", "budget"]
# What each invocation into the directory is remembered by, in run.json's ``invocations``.
INVOCATION = ("started", "selectors", "ratios", "seeds", "budgets", "tasks", "params", "overrides", "cross", "data_root",
              "manifest_sha256", "stages", "wall_seconds", "git_commit", "delbench", "protocol_arg", "data_arg")


@contextlib.contextmanager
def own(run_dir: Path) -> Iterator[None]:
    """Be the one writer of ``run_dir`` for the block, or fail at once naming the lock and its holder."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(hold(RunDir(run_dir).lock, wait=False, what="delbench writing this run directory"))
        except Busy as exc:
            raise DelbenchError(f"{exc.lock}: run directory in use by {exc.holder}; wait for it to finish, "
                                "or write to another run directory (--out)") from None
        yield


def check_free(run_dir: Path) -> None:
    """Fail when a live process writes ``run_dir`` now, without taking the lock (so without writing):
    for refusing a study before its plan is shown; ``own`` is what keeps a second writer out."""
    from delbench.store.locks import holder, read_record

    lock = RunDir(run_dir).lock
    if read_record(lock) is not None:
        raise DelbenchError(f"{lock}: run directory in use by {holder(lock)}; wait for it to finish, "
                            "or write to another run directory (--out)")


def previous_study(run_dir: Path) -> dict[str, Any] | None:
    """The ``run.json`` of what ``run_dir`` already holds, or None for a new (or never finished) run."""
    rd = RunDir(run_dir)
    path = rd.run_json
    if not path.is_file():
        if rd.results.is_file():
            raise DelbenchError(f"--out {run_dir}: holds {rd.results.name} but no {path.name}, so its study is unknown; "
                                "pick another --out")
        return None
    return read_record(path, "protocol_hash", "run.json", "pick another --out")


def check_protocol(run_dir: Path, previous: dict[str, Any] | None, protocol: Any) -> None:
    if previous is None or previous["protocol_hash"] == protocol.hash():
        return
    was = previous.get("protocol", {}).get("name", "?")
    raise DelbenchError(f"--out {run_dir}: holds a study under protocol {was} (protocol hash {previous['protocol_hash']}), "
                        f"this run's protocol {protocol.name} has hash {protocol.hash()} (another protocol, version "
                        "or --set); pick another --out to keep both")


def check_params(run_dir: Path, previous: dict[str, Any] | None, filled: dict[str, dict[str, Any]]) -> None:
    """A selector already in the directory must run with the same parameters: rows of one name are one method."""
    if previous is None:
        return
    now = json.loads(json.dumps(filled, default=str))  # as run.json holds them
    for sel, params in now.items():
        before = previous.get("params", {}).get(sel)
        if before is None:
            continue
        for key in sorted(set(before) | set(params)):
            if before.get(key) != params.get(key):
                raise DelbenchError(f"--out {run_dir}: selector {sel!r} ran there with {key}={before.get(key)!r}, "
                                    f"this run gives {key}={params.get(key)!r}; pick another --out to keep both")


def check_data(run_dir: Path, previous: dict[str, Any] | None, root: Path, manifest_sha: str) -> None:
    """Same pool and tasks, by the manifest's content: a dataset moved or in another cache still merges."""
    if previous is None or previous.get("manifest_sha256") == manifest_sha:
        return
    raise DelbenchError(f"--out {run_dir}: holds a study on data {previous.get('data_root')} (manifest sha256 "
                        f"{str(previous.get('manifest_sha256'))[:12]}), this run's data {root} has manifest sha256 "
                        f"{manifest_sha[:12]}; pick another --out to keep both")


def merge_rows(old: pd.DataFrame | None, new: pd.DataFrame | None, key: list[str]) -> pd.DataFrame | None:
    """The union of two tables: ``new``'s rows, and every row of ``old`` whose key ``new`` does not have."""
    if old is None or old.empty:
        return new
    if new is None or new.empty:
        return old
    fresh = pd.MultiIndex.from_frame(new[key])
    kept = old[~pd.MultiIndex.from_frame(old[key]).isin(fresh)]
    parts = [kept, new] if len(kept) else [new]
    return pd.concat(parts, ignore_index=True)


def merge_info(old: dict[str, Any] | None, new: dict[str, Any], results: pd.DataFrame) -> dict[str, Any]:
    """run.json for the directory after this invocation: the union of what every invocation ran, the
    list of invocations, and this one's protocol, versions, machine and stage counts."""
    merged = dict(new)
    mine = invocation(new)
    if old is None:
        merged["invocations"] = [mine]
        return merged
    merged["selectors"] = list(dict.fromkeys([*old.get("selectors", []), *new["selectors"]]))
    merged["ratios"] = sorted({*old.get("ratios", []), *new["ratios"]})
    merged["seeds"] = sorted({*old.get("seeds", []), *new["seeds"]})
    if "budgets" in new:  # a run.json from before budgets ran budget 1
        merged["budgets"] = sorted({*old.get("budgets", [1.0]), *new["budgets"]})
    merged["params"] = {**old.get("params", {}), **new["params"]}
    # None: each run's protocol tasks; once runs differ, the tasks the merged table holds
    both_default = old.get("tasks") is None and new.get("tasks") is None
    merged["tasks"] = None if both_default else sorted(str(t) for t in results["task"].unique())
    merged["cross"] = bool(old.get("cross")) or bool(new.get("cross"))
    merged["invocations"] = [*(old.get("invocations") or [invocation(old)]), mine]
    return merged


def invocation(info: dict[str, Any]) -> dict[str, Any]:
    out = {key: info.get(key) for key in INVOCATION}
    out["delbench"] = info.get("versions", {}).get("delbench")
    return out
