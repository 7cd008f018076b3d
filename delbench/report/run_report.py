"""``RUN_DIR/report.html``: everything a run directory shows, in one self-contained page — what was
run and how to reproduce it, the summary and per-ratio tables, plots, cross-dataset heatmaps, what
each selector removed by ground-truth type, galleries, the validity ladder when the run has one, and
how well its ranking predicts other runs' (``agree/*.json``).
Drawn from ``results.parquet``, ``run.json`` and the files beside them; nothing is recomputed."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from delbench import __version__
from delbench.compare.results import read_results
from delbench.report import tables as T
from delbench.report.html import TableView, file_data_uri, frame_view, grid_view, slug, write_page
from delbench.store.rundir import RunDir



def pool_and_root(info: dict[str, Any]) -> tuple[pd.DataFrame | None, Path | None]:
    """The run's pool rows and dataset root, or (None, None) when the root is no longer there."""
    from delbench.data.manifest import manifest_path, pool_rows, read_manifest

    root = Path(info.get("data_root") or "")
    if not root.name or not manifest_path(root).is_file():
        return None, None
    return pool_rows(read_manifest(root)), root


def extra_tables(run_dir: Path, info: dict[str, Any], pool: pd.DataFrame | None) -> list[tuple[str, pd.DataFrame]]:
    """Further (title, table) sections the report shows after the built-in ones, each as a sortable
    table. Add a section by returning it here (or pass ``extra`` to ``write_report``)."""
    from delbench.report.composition import kept_composition

    if pool is None:
        return []
    kept = kept_composition(run_dir, pool)
    if kept.empty:
        return []
    shown = kept.assign(pool_share=100 * kept["pool_share"], kept_share=100 * kept["kept_share"])
    return [("Kept share by source and centre (% of pool and of kept images, mean over seeds)",
             shown.rename(columns={"pool_share": "pool %", "kept_share": "kept %"}).round(2))]


def _grid_id(grid: T.Grid) -> str:
    return grid.slug.replace("_", "-")  # "ratio_0.25_miou" -> "ratio-0.25-miou"


def _seconds(value: float) -> str:
    if not math.isfinite(value):
        return "–"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def _run_facts(run_dir: Path, info: dict[str, Any], results: pd.DataFrame) -> list[tuple[str, str]]:
    proto = info.get("protocol", {})
    invocations = info.get("invocations") or [info]
    wall = sum(float(i.get("wall_seconds") or 0.0) for i in invocations)
    facts = [
        ("run directory", str(run_dir)),
        ("protocol", f"{proto.get('name', '?')} v{proto.get('version', '?')}: {proto.get('description', '')}"),
        ("protocol hash", str(info.get("protocol_hash", "?"))),
        ("overrides (--set)", ", ".join(f"{k}={v}" for k, v in sorted((info.get("overrides") or {}).items())) or "none"),
        ("data", f"{info.get('data_root', '?')} (manifest sha256 {str(info.get('manifest_sha256', '?'))[:12]})"),
        ("tasks", ", ".join(sorted(str(t) for t in results["task"].unique()))),
        ("selectors", ", ".join(info.get("selectors", []))),
        ("retained ratios", ", ".join(f"{r:g}" for r in info.get("ratios", []))),
        ("seeds", ", ".join(str(s) for s in info.get("seeds", []))),
        *([("pre-training budgets", ", ".join(f"{b:g}" for b in info["budgets"]) + " (shares of the protocol's steps)")]
          if list(info.get("budgets") or [1.0]) != [1.0] else []),
        ("started", str(invocations[0].get("started", "?"))),
        ("wall time", f"{_seconds(wall)} over {len(invocations)} invocation(s)"),
        ("cross-dataset", "yes" if info.get("cross") else "no"),
        ("git commit", str(info.get("git_commit") or "not a git checkout")),
    ]
    return facts


def _versions(info: dict[str, Any]) -> list[tuple[str, str]]:
    out = [(name, str(v)) for name, v in sorted((info.get("versions") or {}).items())]
    machine = info.get("machine") or {}
    out += [("machine", f"{machine.get('platform', '?')}, {machine.get('processor', '?')}, {machine.get('cpus', '?')} CPUs")]
    plugins = info.get("plugins") or []
    if plugins:
        out.append(("plugins", ", ".join(f"{p.get('name')} {p.get('version')} ({p.get('package')})" for p in plugins)))
    return out


def _params_view(info: dict[str, Any]) -> TableView:
    rows = [(sel, key, value if isinstance(value, str) else json.dumps(value)) for sel, params in (info.get("params") or {}).items()
            for key, value in sorted(params.items())]
    frame = pd.DataFrame(rows, columns=["selector", "parameter", "value"])
    return frame_view("Selector parameters (defaults filled in)", frame, "params")


def _invocations_view(info: dict[str, Any]) -> TableView:
    rows = []
    for i in info.get("invocations") or [info]:
        stages = i.get("stages") or {}
        rows.append({
            "started": i.get("started", "?"), "selectors": " ".join(i.get("selectors") or []),
            "ratios": ",".join(f"{r:g}" for r in i.get("ratios") or []), "seeds": ",".join(str(s) for s in i.get("seeds") or []),
            "stages computed": ", ".join(f"{k} {v.get('computed', 0)}" for k, v in stages.items()),
            "stages reused": ", ".join(f"{k} {v.get('reused', 0)}" for k, v in stages.items()),
            "wall": _seconds(float(i.get("wall_seconds") or float("nan"))),
        })
    return frame_view("Invocations", pd.DataFrame(rows), "invocations")


def _plots(run_dir: Path) -> list[dict[str, str]]:
    captions = {
        "miou_vs_ratio": "Test mIoU (×100) against the retained ratio R, one panel per task: mean and 95% CI over "
                         "seeds; full (dashed) and scratch (dotted) as reference lines.",
        "normdel_vs_ratio": "NormDEL (×100) against the retained ratio R: accuracy discounted by the share of the "
                            "pool kept; full and scratch as reference lines.",
    }
    plots = RunDir(run_dir).plots
    from delbench.report.budget_view import plot_captions

    captions.update(plot_captions(plots))  # per-budget curves and the budget curves, when the run has budgets
    return [{"title": name.replace("_", " "), "uri": file_data_uri(plots / f"{name}.png"), "caption": text}
            for name, text in captions.items() if (plots / f"{name}.png").is_file()]


def _cross(run_dir: Path) -> list[dict[str, str]]:
    return [{"title": p.stem, "uri": file_data_uri(p),
             "caption": f"{p.stem.removeprefix('cross_').replace('_r', ' at R = ')}: mIoU ×100, rows fine-tuned on, "
                        "columns tested on"}
            for p in sorted(RunDir(run_dir).plots.glob("cross_*.png"))]


def _validate(run_dir: Path) -> dict[str, Any] | None:
    from delbench.report.validate_view import report_section
    from delbench.report.verdict_file import read_ladders

    path = RunDir(run_dir).verdict
    if not path.is_file():
        return None
    return report_section(read_ladders(path))  # every budget's ladder, and the rungs against the budget


def _agreement_row(record: dict[str, Any], name: str) -> dict[str, Any]:
    boot = record.get("bootstrap") or {}

    def number(value: Any) -> float | None:
        return None if value is None else float(value)

    def interval(key: str) -> str:
        got = boot.get(key) or {}
        low, high = got.get("low"), got.get("high")
        return "–" if low is None or high is None else f"[{float(low):.3f}, {float(high):.3f}]"

    run_b, proto = record["run_b"], record["run_b"]["protocol"]
    return {
        "protocol B": f"{proto['name']} v{proto['version']}", "run B": str(run_b["path"]),
        "metric": str(record["metric"]), "cells": len(record["cells"]),
        "seeds A/B": f"{len(record['seeds_a'])}/{len(record['seeds_b'])}",
        # records from before budgets hold budget 1 on both sides
        "budgets A/B": f"{float(record['run_a'].get('budget', 1.0)):g}/{float(run_b.get('budget', 1.0)):g}",
        "accuracy": number(record["accuracy"]), "accuracy 95%": interval("accuracy"), "pairs": int(record["pairs"]),
        "within-ratio accuracy": number(record["accuracy_within"]), "within-ratio 95%": interval("accuracy_within"),
        "pairs at one ratio": int(record["pairs_within"]),
        "Kendall tau-b": number(record["tau"]), "tau 95%": interval("tau"),
        "resamples": int(boot["resamples"]) if boot else 0, "file": name,
    }


def _agreements(run_dir: Path) -> dict[str, Any] | None:
    """The ``agree/*.json`` records ``delbench agree`` wrote into this run, one row each. A damaged
    file is left out with a one-line warning (on stderr and in the page): one bad record must not
    cost the whole report."""
    import sys

    from delbench.score.agree import AGREE_DIR

    files = sorted((run_dir / AGREE_DIR).glob("*.json"))
    if not files:
        return None
    rows, warnings = [], []
    for path in files:
        try:
            rows.append(_agreement_row(json.loads(path.read_text()), path.name))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            why = " ".join(f"{type(exc).__name__}: {exc}".split())
            warnings.append(f"{path}: not a readable agreement record ({why}); rerun `delbench agree` to rewrite it")
            print(f"warning: {warnings[-1]}", file=sys.stderr)
    table = frame_view("Agreement with other protocols: how well this run's ranking predicts run B's",
                       pd.DataFrame(rows), "agree") if rows else None
    return {"table": table, "warnings": warnings}


def write_report(run_dir: str | Path, galleries: bool = True,
                 extra: Sequence[tuple[str, pd.DataFrame]] = ()) -> Path:
    """Write ``RUN_DIR/report.html`` atomically and return its path. ``galleries=False`` leaves out the
    image galleries (they read the pool images); plots are embedded when ``plots/`` holds them."""
    from delbench.report import budget_view
    from delbench.report.render import removal_table
    from delbench.report.reproduce import commands
    from delbench.report.thumbs import run_galleries

    rd = RunDir(run_dir)
    run_dir = rd.path
    results = read_results(run_dir)
    info = rd.read_info()
    pool, root = pool_and_root(info)
    removal = removal_table(rd, info, pool)
    plots = _plots(run_dir)
    shown = galleries and pool is not None and root is not None
    sections = [*extra_tables(run_dir, info, pool), *extra]
    return write_page(
        rd.report, "report.html.j2",
        delbench_version=__version__, run_name=run_dir.resolve().name,
        protocol={"name": "?", "version": "?", **(info.get("protocol") or {})},
        protocol_hash=info.get("protocol_hash", "?"), selectors=info.get("selectors", []),
        ratios=[f"{r:g}" for r in info.get("ratios", [])], seeds=info.get("seeds", []),
        run_facts=_run_facts(run_dir, info, results), versions=_versions(info), params=_params_view(info),
        commands=commands(info, run_dir), invocations=_invocations_view(info),
        # one summary per pre-training budget (one budget: the summary as always); ids as the files' names
        summaries=[grid_view(g, _grid_id(g)) for g in budget_view.per_budget(results, lambda rows: [T.summary_grid(rows)])],
        ratio_tables=[grid_view(g, _grid_id(g)) for g in budget_view.per_budget(results, T.ratio_grids)],
        budgets=budget_view.report_section(results),
        plots=plots, plots_note="No plots drawn for this run (it ran with --no-plots); `delbench report RUN_DIR` draws them.",
        cross=_cross(run_dir) if rd.cross.is_file() else [],
        removal=grid_view(removal, "removal") if removal is not None else None,
        removal_note="The pool has no ground truth (gt_quality), or its dataset root is no longer on this machine.",
        galleries=run_galleries(run_dir, info, pool, root) if shown else [],
        galleries_note=("Galleries left out (--no-plots)." if not galleries else
                        f"The pool's images are not on this machine ({info.get('data_root')})." if not shown else
                        "No subset below R = 1 in this run directory's subsets/."),
        validate=_validate(run_dir),
        agreement=_agreements(run_dir),
        extra=[frame_view(title, frame, f"extra-{slug(title)}") for title, frame in sections],
    )
