"""A leaderboard from merged runs of one protocol: per retained ratio, selectors ranked by NormDEL —
ranked within each task, then ordered by their mean rank over tasks — with the task-mean NormDEL and
mIoU (mean ± 95% CI over seeds), win/tie/loss against ``random`` paired by seed with the interval of
the difference, and the compute and storage each kept. Written as Markdown, CSV and HTML."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from delbench import __version__
from delbench.report.board import Conflict
from delbench.score.stats import REFERENCES, aggregate, summary
from delbench.report.tables import Grid, to_markdown

REFERENCE = "random"
FILES = ("leaderboard.md", "leaderboard.csv", "leaderboard.html")
CSV_COLUMNS = ["ratio_target", "rank", "selector", "mean_rank", "tasks", "n_seeds", "ratio_achieved", "normdel",
               "normdel_ci", "miou", "miou_ci", "diff", "ci_low", "ci_high", "mde", "win", "tie", "loss",
               "pretrain_steps", "pretrain_seconds", "select_seconds", "kept_bytes"]


def leaderboard(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (ratio, selector), ranked within each ratio below 1; the references ``full`` and
    ``scratch`` follow unranked. ``diff``/``ci_low``/``ci_high``/``win``/``tie``/``loss``: NormDEL
    against ``random``, paired by seed (task-mean per seed)."""
    s = summary(results, REFERENCE)
    s = s[s["selector"].isin(REFERENCES) | (s["ratio_target"] < 1.0)]
    per_task = aggregate(results, ("normdel",))
    body = per_task[~per_task["selector"].isin(REFERENCES) & (per_task["ratio_target"] < 1.0)].copy()
    body["task_rank"] = body.groupby(["ratio_target", "task"])["normdel_mean"].rank(ascending=False, method="average")
    ranks = body.groupby(["selector", "ratio_target"]).agg(mean_rank=("task_rank", "mean"))
    cost = results.groupby(["selector", "ratio_target"]).agg(
        tasks=("task", "nunique"), pretrain_steps=("pretrain_steps", "mean"),
        pretrain_seconds=("pretrain_seconds", "mean"), select_seconds=("select_seconds", "mean"),
        kept_bytes=("kept_bytes", "mean"))
    board = s.join(ranks, on=["selector", "ratio_target"]).join(cost, on=["selector", "ratio_target"])
    ranked = board[~board["selector"].isin(REFERENCES)].copy()
    ranked = ranked.assign(_neg=-ranked["normdel"]).sort_values(["ratio_target", "mean_rank", "_neg", "selector"], kind="stable")
    ranked["rank"] = _ranks(ranked)
    ranked = ranked.drop(columns="_neg")
    refs = board[board["selector"].isin(REFERENCES)].assign(rank=float("nan")).sort_values("ratio_target", ascending=False)
    out = pd.concat([ranked, refs], ignore_index=True)
    return out[CSV_COLUMNS]


def _ranks(ordered: pd.DataFrame) -> list[float]:
    """1, 2, ... within each ratio in the given order; rows equal on mean rank and NormDEL share a rank."""
    out: list[float] = []
    previous: tuple[Any, ...] | None = None
    for i, (ratio, mean_rank, neg) in enumerate(zip(ordered["ratio_target"], ordered["mean_rank"], ordered["_neg"])):
        start = previous is None or previous[0] != ratio
        if start:
            first = i
        if start or (mean_rank, neg) != previous[1:]:
            out.append(float(i - first + 1))
        else:
            out.append(out[-1])
        previous = (ratio, mean_rank, neg)
    return out


def _pm(mean: float, ci: float, digits: int = 2) -> str:
    if pd.isna(mean):
        return "–"
    return f"{100 * mean:.{digits}f}" + ("" if pd.isna(ci) else f" ± {100 * ci:.{digits}f}")


def _delta(r: Any) -> str:
    if pd.isna(r.diff):
        return "–"
    if pd.isna(r.ci_low):
        return f"{100 * r.diff:+.2f}"
    return f"{100 * r.diff:+.2f} [{100 * r.ci_low:+.2f}, {100 * r.ci_high:+.2f}]"


def _count(v: float) -> str:
    return "–" if pd.isna(v) else str(int(v))


HEADER = ["rank", "selector", "mean rank", "tasks", "seeds", "NormDEL x100", "mIoU x100", f"Δ NormDEL vs {REFERENCE} [95% CI]",
          "MDE", "W/T/L", "R achieved", "pretrain steps", "pretrain s", "select s", "kept MB"]


def _row(r: Any) -> list[str]:
    wtl = "–" if pd.isna(r.win) else f"{int(r.win)}/{int(r.tie)}/{int(r.loss)}"
    return [_count(r.rank), r.selector, "–" if pd.isna(r.mean_rank) else f"{r.mean_rank:.2f}", _count(r.tasks),
            str(int(r.n_seeds)), _pm(r.normdel, r.normdel_ci), _pm(r.miou, r.miou_ci, 1), _delta(r),
            "–" if pd.isna(r.mde) else f"{100 * r.mde:.2f}", wtl, f"{r.ratio_achieved:.3f}", _count(r.pretrain_steps),
            f"{r.pretrain_seconds:.1f}", f"{r.select_seconds:.2f}", f"{r.kept_bytes / 1e6:.2f}"]


def grids(board: pd.DataFrame) -> list[tuple[str, Grid]]:
    """(element id, table): one per retained ratio, then the references."""
    out = []
    ranked = board[~board["selector"].isin(REFERENCES)]
    for ratio, g in ranked.groupby("ratio_target", sort=True):
        rows = [_row(r) for r in g.itertuples(index=False)]
        best = {(i, 5) for i, r in enumerate(g.itertuples(index=False)) if r.rank == 1}
        out.append((f"board-r{ratio:g}", Grid(f"Retained ratio {ratio:g}", HEADER, rows, best)))
    refs = board[board["selector"].isin(REFERENCES)]
    if len(refs):
        out.append(("board-references", Grid("References (full: the whole pool, scratch: no pre-training)", HEADER,
                                             [_row(r) for r in refs.itertuples(index=False)], set())))
    return out


def conflict_grid(conflicts: list[Conflict]) -> Grid:
    rows = [[c.selector, f"{c.ratio_target:g}", str(c.seed), c.task, c.kept, c.other, f"{100 * c.miou_diff:+.3f}",
             f"{100 * c.normdel_diff:+.3f}"] for c in conflicts]
    return Grid("Units whose scores differ between runs (the first run's row is used)",
                ["selector", "R", "seed", "task", "kept from", "differs in", "Δ mIoU x100", "Δ NormDEL x100"], rows, set())


def _about(meta: dict[str, Any], results: pd.DataFrame) -> list[tuple[str, str]]:
    proto = meta["protocol"]
    return [
        ("protocol", f"{proto.get('name', '?')} v{proto.get('version', '?')}: {proto.get('description', '')}"),
        ("protocol hash", str(meta["protocol_hash"])),
        ("data manifest sha256", str(meta.get("manifest_sha256"))[:12]),
        ("runs merged", str(len(meta["runs"]))),
        ("selectors", ", ".join(sorted(set(results["selector"]) - set(REFERENCES)))),
        ("seeds", ", ".join(str(s) for s in sorted(set(int(x) for x in results["seed"])))),
        ("tasks", ", ".join(sorted(str(t) for t in set(results["task"])))),
    ]


EXPLAIN = ("Per retained ratio, selectors are ranked by NormDEL within each task (mean over seeds; ties share "
           "the average rank) and ordered by their mean rank over tasks, then by NormDEL. NormDEL and mIoU: "
           "mean over tasks within a seed, then mean ± 95% t-CI over seeds. Δ NormDEL and W/T/L: paired by "
           f"seed against {REFERENCE} at the same ratio (a tie is |Δ| ≤ 0.1 points); MDE is the smallest "
           "difference these seeds can detect. Seconds are per unit on the machine that ran it.")


def markdown(board: pd.DataFrame, results: pd.DataFrame, meta: dict[str, Any], conflicts: list[Conflict]) -> str:
    proto = meta["protocol"]
    lines = [f"# Leaderboard: protocol {proto.get('name', '?')} v{proto.get('version', '?')}", ""]
    lines += [f"- {k}: {v}" for k, v in _about(meta, results)] + ["", EXPLAIN, ""]
    lines += [to_markdown(grid) for _, grid in grids(board)]
    if conflicts:
        lines.append(to_markdown(conflict_grid(conflicts)))
    lines += ["### Runs", "", "| run | machine | started | delbench | git commit | selectors | seeds |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['path']} | {r['machine']} | {r['started']} | {r['delbench']} | {r['git_commit']} | "
              f"{', '.join(r['selectors'])} | {', '.join(str(s) for s in r['seeds'])} |" for r in meta["runs"]]
    return "\n".join(lines) + "\n"


def html(board: pd.DataFrame, results: pd.DataFrame, meta: dict[str, Any], conflicts: list[Conflict]) -> str:
    from delbench.report.html import frame_view, grid_view, render

    runs = pd.DataFrame([{**r, "selectors": ", ".join(r["selectors"]), "seeds": ", ".join(str(s) for s in r["seeds"])}
                         for r in meta["runs"]])
    return render("leaderboard.html.j2", delbench_version=__version__, protocol=meta["protocol"],
                  protocol_hash=meta["protocol_hash"], about=_about(meta, results), explain=EXPLAIN,
                  tables=[grid_view(g, table_id) for table_id, g in grids(board)],
                  conflicts=grid_view(conflict_grid(conflicts), "conflicts") if conflicts else None,
                  runs=frame_view("Runs merged", runs, "runs"))


def write_board(board: pd.DataFrame, results: pd.DataFrame, meta: dict[str, Any], conflicts: list[Conflict],
                out: Path) -> list[Path]:
    """Render all three files first, then write each atomically: a failure leaves none half-written."""
    from delbench.store.atomic import atomic_path

    texts = {
        FILES[0]: markdown(board, results, meta, conflicts),
        FILES[1]: board.to_csv(index=False),
        FILES[2]: html(board, results, meta, conflicts),
    }
    written = []
    for name, text in texts.items():
        with atomic_path(Path(out) / name) as tmp:
            tmp.write_text(text, encoding="utf-8")
        written.append(Path(out) / name)
    return written


def console_lines(board: pd.DataFrame, width: int = 80) -> list[str]:
    """The ranking per ratio in at most ``width`` columns (the files hold every column)."""
    out = []
    ranked = board[~board["selector"].isin(REFERENCES)]
    name_w = max(8, min(24, max((len(s) for s in ranked["selector"]), default=8)))
    for ratio, g in ranked.groupby("ratio_target", sort=True):
        out += ["", f"R = {ratio:g}", f"{'rank':>4}  {'selector':<{name_w}}  {'mean rank':>9}  {'NormDEL':>12}  "
                                      f"{'Δ vs ' + REFERENCE:>14}  W/T/L"]
        for r in g.itertuples(index=False):
            name = r.selector if len(r.selector) <= name_w else r.selector[: name_w - 1] + "…"
            delta = "–" if pd.isna(r.diff) else f"{100 * r.diff:+.2f}"
            wtl = "–" if pd.isna(r.win) else f"{int(r.win)}/{int(r.tie)}/{int(r.loss)}"
            out.append(f"{_count(r.rank):>4}  {name:<{name_w}}  {r.mean_rank:>9.2f}  {_pm(r.normdel, r.normdel_ci):>12}  "
                       f"{delta:>14}  {wtl}")
    return [line[:width] for line in out]
