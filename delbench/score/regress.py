"""Regression of baseline scores: rerun a protocol for the built-in selectors and compare it with a
committed baseline, in one of two modes.

* exact: the run's fingerprint (protocol hash, versions, selector implementations, platform, thread
  count) equals the baseline's. CPU runs are then deterministic, so every per-seed value must be
  bit-identical: any change at all is reported.
* statistical: anything else. Per (selector, ratio), the task-mean score (mean over tasks within a
  seed, then over seeds) must stay within a tolerance set by the seed-to-seed spread, and never wider
  than half the baseline's distance to the score a collapsed selector would get (its pre-training worth
  nothing: the ``scratch`` mIoU), so a collapse always fails however noisy the seeds are.
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from delbench.store.atomic import write_json
from delbench.errors import DelbenchError
from delbench.score.normdel import normdel
from delbench.references import SCRATCH

BUILTIN_SELECTORS = ("meddel", "random", "coreset", "dedup-only")
FORMAT = 2
MODES = ("auto", "exact", "statistical")
METRICS = ("miou", "normdel")  # what the statistical mode decides on
EXACT_METRICS = ("miou", "miou_dataset", "dice", "del", "normdel")  # what the exact mode pins down
# A rerun on another machine is, at worst, a fresh draw of the same seeds' noise: the difference of two
# means over n seeds has standard deviation sd * sqrt(2 / n). The tolerance is Z of those ...
Z = 4.0
TOLERANCE_FLOOR = 0.005  # ... never tighter than half a point of mIoU ...
COLLAPSE_FRACTION = 0.5  # ... and never wider than this share of the distance to the collapse level.
SEED_KEY = ["selector", "ratio_target", "seed", "task"]
CELL = ["selector", "ratio_target"]
TOLERANCE_RULE = (
    f"pass/fail per (selector, ratio) on the task-mean score (mean over tasks within a seed, then over seeds) "
    f"of {' and '.join(METRICS)}. exact mode (fingerprint equal to this one): every seed_values entry must be "
    f"identical (==). statistical mode (any fingerprint field differs): |now - baseline| <= "
    f"min(max({TOLERANCE_FLOOR}, {Z:g} * max(sd, pooled_sd) * sqrt(2 / n_seeds)), "
    f"{COLLAPSE_FRACTION:g} * |baseline - collapse|), sd = the seed-to-seed sd of the task-mean, pooled_sd = "
    f"its root-mean-square over the non-scratch cells (scratch uses its own sd), collapse = the score at the "
    f"scratch mIoU and this cell's achieved ratio (no cap for scratch itself). task_entries: the same rule per "
    f"task with the cell's own sd, informative only."
)


# --- fingerprint -------------------------------------------------------------------------------------

def fingerprint(protocol: Any, selectors: Iterable[str] = BUILTIN_SELECTORS) -> dict[str, Any]:
    """Everything that, held equal, makes a CPU run reproduce the baseline bit for bit."""
    import torch

    from delbench import __version__
    from delbench.plugin.manager import get_plugins

    registry = get_plugins().selectors
    impl = {}
    for name in selectors:
        e = registry.get(name)
        # provider, version and source hash: an edited selector is another implementation
        impl[name] = {**e.implementation(),
                      "factory": f"{getattr(e.factory, '__module__', '?')}.{getattr(e.factory, '__qualname__', '?')}"}
    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", lambda: None)()
    return {
        "protocol_hash": protocol.hash(),
        "versions": {"delbench": __version__, "torch": torch.__version__, "numpy": np.__version__},
        "selectors": impl,
        "platform": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "os": platform.system(),
            "libc": " ".join(platform.libc_ver()).strip() or None,
            # the same torch version can be built differently (compiler, BLAS); kernels vary by CPU ISA
            "torch_build": f"{torch.version.git_version} cuda={torch.version.cuda} debug={torch.version.debug}",
            "cpu_capability": capability,
            "threads": os.environ.get("DELBENCH_THREADS", "1"),
        },
    }


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def fingerprint_diff(baseline: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``field: baseline -> now`` for every field that differs (absent on one side counts)."""
    a, b = _flatten(baseline), _flatten(current)
    return [f"{k}: {a.get(k)} -> {b.get(k)}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def choose_mode(requested: str, baseline: dict[str, Any], current: dict[str, Any]) -> tuple[str, str]:
    """The mode to check in and a one-line why."""
    if requested not in MODES:
        raise DelbenchError(f"--mode {requested}: choose one of {', '.join(MODES)}")
    diff = fingerprint_diff(baseline.get("fingerprint", {}), current)
    why = f"fingerprint differs ({'; '.join(diff)})" if diff else "fingerprint equals the baseline's"
    if requested != "auto":
        return requested, f"requested; {why}"
    return ("statistical" if diff else "exact"), why


# --- making a baseline ---------------------------------------------------------------------------------

def _with_collapse(results: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Add ``collapse_<metric>``: the row's score had its pre-training been worth nothing (scratch's mIoU
    on the same seed and task, at the row's own achieved ratio)."""
    scratch = results.loc[results["selector"] == SCRATCH, ["seed", "task", "miou"]].rename(columns={"miou": "scratch_miou"})
    frame = results.merge(scratch, on=["seed", "task"], how="left")
    frame["collapse_miou"] = frame["scratch_miou"]
    frame["collapse_normdel"] = np.nan
    have = frame["scratch_miou"].notna().to_numpy()
    if have.any():
        frame.loc[have, "collapse_normdel"] = normdel(frame.loc[have, "scratch_miou"].to_numpy(),
                                                      frame.loc[have, "ratio_achieved"].to_numpy(), alpha)
    return frame


def _tolerance(sd: float, n: int, value: float, collapse: float | None, capped: bool) -> float:
    spread = max(TOLERANCE_FLOOR, Z * sd * float(np.sqrt(2.0 / n))) if n > 0 else TOLERANCE_FLOOR
    if not capped or collapse is None or not np.isfinite(collapse):
        return spread
    return min(spread, COLLAPSE_FRACTION * abs(value - collapse))


def _seed_level(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (selector, ratio, seed): the mean over tasks (the seed is the unit of replication)."""
    cols = list(METRICS) + [f"collapse_{m}" for m in METRICS]
    return frame.groupby(CELL + ["seed"], sort=True)[cols].mean().reset_index()


def _entries(frame: pd.DataFrame, by: list[str], tasks: dict[tuple[Any, ...], list[str]],
             pooled: dict[str, float]) -> list[dict[str, Any]]:
    out = []
    for key, g in frame.groupby(by, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        n = len(g)
        entry: dict[str, Any] = {k: (float(v) if k == "ratio_target" else v) for k, v in zip(by, key)}
        entry["seeds"] = sorted(int(s) for s in g["seed"])
        entry["tasks"] = tasks[key[:2]] if "task" not in by else [key[2]]
        for m in METRICS:
            value = float(g[m].mean())
            sd = float(g[m].std(ddof=1)) if n > 1 else 0.0
            c = float(g[f"collapse_{m}"].mean()) if g[f"collapse_{m}"].notna().all() else None
            entry[m] = round(value, 6)
            entry[f"{m}_sd"] = round(sd, 6)
            entry[f"{m}_collapse"] = None if c is None else round(c, 6)
            reference = key[0] == SCRATCH  # no pre-training: neither pooled with the others nor capped by itself
            spread = sd if reference else max(sd, pooled.get(m, 0.0))
            entry[f"{m}_tol"] = round(_tolerance(spread, n, value, c, not reference), 6)
        out.append(entry)
    return out


def make_baseline(results: pd.DataFrame, protocol: Any, fp: dict[str, Any]) -> dict[str, Any]:
    frame = _with_collapse(results, protocol.score.alpha)
    seeds = _seed_level(frame)
    tasks = {k: sorted(g["task"].unique().tolist()) for k, g in frame.groupby(CELL, sort=True)}
    # With a handful of seeds one cell's sd can come out near zero by luck; every cell runs the same
    # pipeline, so the spread pooled over cells bounds how tight a tolerance may get.
    cell_var = seeds[seeds["selector"] != SCRATCH].groupby(CELL)[list(METRICS)].var(ddof=1)
    pooled = {m: float(np.sqrt(cell_var[m].mean())) if cell_var[m].notna().any() else 0.0 for m in METRICS}
    values = [{"selector": r["selector"], "ratio_target": float(r["ratio_target"]), "seed": int(r["seed"]),
               "task": r["task"], **{m: float(r[m]) for m in EXACT_METRICS}}
              for r in results.sort_values(SEED_KEY, kind="stable").to_dict("records")]
    return {
        "format": FORMAT,
        "protocol": protocol.name,
        "protocol_version": protocol.version,
        "protocol_hash": protocol.hash(),
        "fingerprint": fp,
        "tolerance": TOLERANCE_RULE,
        "pooled_sd": {m: round(v, 6) for m, v in pooled.items()},
        "entries": _entries(seeds, CELL, tasks, pooled),
        "task_entries": _entries(frame, CELL + ["task"], tasks, {}),
        "seed_values": values,  # full precision (JSON floats round-trip exactly)
    }


def read_baseline(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DelbenchError(f"baseline {path} not found: create it with `delbench regress --update --baseline {path}`")
    try:
        data = json.loads(path.read_text())
        data["entries"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise DelbenchError(f"baseline {path} is not a delbench baseline (JSON with 'entries')") from None
    if data.get("format") != FORMAT or "fingerprint" not in data or "seed_values" not in data:
        raise DelbenchError(
            f"baseline {path} is in an older format (no fingerprint or per-seed values): rewrite it with "
            f"`delbench regress --protocol {data.get('protocol', 'PROTOCOL')} --update --baseline {path}`"
        )
    return data


def check_protocol(baseline: dict[str, Any], protocol: Any) -> None:
    if baseline.get("protocol_version") != protocol.version:
        raise DelbenchError(
            f"baseline is for protocol {baseline.get('protocol')} version {baseline.get('protocol_version')}, "
            f"this is version {protocol.version}: scores are not comparable; rerun with --update"
        )


def save_baseline(path: Path, baseline: dict[str, Any]) -> None:
    write_json(path, baseline)


# --- checking -------------------------------------------------------------------------------------------

def compare_exact(results: pd.DataFrame, baseline: dict[str, Any]) -> pd.DataFrame:
    """One row per baseline (selector, ratio, seed, task, metric): ok when the value is identical."""
    # records, not itertuples: "del" is a Python keyword and would lose its name
    now = {(r["selector"], float(r["ratio_target"]), int(r["seed"]), r["task"]): r for r in results.to_dict("records")}
    rows = []
    for e in baseline["seed_values"]:
        key = (e["selector"], float(e["ratio_target"]), int(e["seed"]), e["task"])
        got = now.get(key)
        for m in EXACT_METRICS:
            value = float(got[m]) if got is not None else float("nan")
            same = got is not None and (value == e[m] or (np.isnan(value) and np.isnan(e[m])))
            rows.append({"selector": key[0], "ratio_target": key[1], "seed": key[2], "task": key[3], "metric": m,
                         "baseline": e[m], "now": value, "diff": value - e[m], "ok": bool(same)})
    return pd.DataFrame(rows)


def _now_level(frame: pd.DataFrame, e: dict[str, Any]) -> dict[str, float]:
    """The entry's score in ``frame`` over exactly its seeds and tasks (NaN when a cell is missing)."""
    g = frame[(frame["selector"] == e["selector"]) & (frame["ratio_target"] == e["ratio_target"])
              & frame["seed"].isin(e["seeds"]) & frame["task"].isin(e["tasks"])]
    if len(g) != len(e["seeds"]) * len(e["tasks"]) or g.duplicated(["seed", "task"]).any():
        return {m: float("nan") for m in METRICS}
    per_seed = g.groupby("seed")[list(METRICS)].mean()
    return {m: float(per_seed[m].mean()) for m in METRICS}


def compare_statistical(results: pd.DataFrame, baseline: dict[str, Any]) -> pd.DataFrame:
    """One row per (level, selector, ratio, task, metric); ``decides`` marks the task-mean rows that pass or fail
    the check, the per-task rows are shown for information."""
    rows = []
    for level, entries in (("task-mean", baseline["entries"]), ("task", baseline.get("task_entries", []))):
        for e in entries:
            now = _now_level(results, e)
            for m in METRICS:
                diff = now[m] - e[m]
                rows.append({"level": level, "decides": level == "task-mean", "selector": e["selector"],
                             "ratio_target": float(e["ratio_target"]), "task": e.get("task", "mean"), "metric": m,
                             "baseline": e[m], "now": now[m], "diff": diff, "tolerance": e[f"{m}_tol"],
                             "collapse": e.get(f"{m}_collapse"),
                             "ok": bool(np.isfinite(diff) and abs(diff) <= e[f"{m}_tol"] + 1e-12)})
    return pd.DataFrame(rows)


def failures(table: pd.DataFrame) -> pd.DataFrame:
    """The rows that fail the check (informative rows never do)."""
    decides = table["decides"] if "decides" in table.columns else pd.Series(True, index=table.index)
    return table[decides & ~table["ok"]]
