"""Leak checks: evaluation images that reach pre-training, and groups that straddle splits.

* **exact**: a pool image whose sha256 equals a task's val or test image (the same file).
* **near**: a pool image within ``nearhash.NEAR_BITS`` of a val or test image's perceptual hash
  (a re-encoded, resized or slightly cropped copy, or the next frame of the same video).
* **split**: task rows of one ``video`` (sequence, patient) in more than one split.

Import and merge refuse an exact leak unless told otherwise (``--leaks report`` keeps and lists the
pool images, ``--leaks drop`` leaves them out of the pool, near duplicates included); near duplicates
are always listed. ``data verify`` reports exact and split leaks as problems, near duplicates as
warnings.
"""
from __future__ import annotations

import csv
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from delbench.errors import DelbenchError

EVAL_SPLITS = ("val", "test")
POLICIES = ("refuse", "report", "drop")
REPORT_NAME = "leaks.csv"


@dataclass(frozen=True)
class Leak:
    """A pool image that is (exact) or resembles (near) a task's val or test image."""

    kind: str  # "exact" or "near"
    pool_id: str
    pool_path: str
    task: str
    split: str
    task_id: str
    task_path: str
    bits: int = 0  # differing hash bits (near); 0 for exact

    def line(self) -> str:
        how = ("is byte-identical to" if self.kind == "exact"
               else f"is a near duplicate ({self.bits} of 64 hash bits differ) of")
        return (f"pool image {self.pool_path} (id {self.pool_id}) {how} task {self.task} {self.split} image "
                f"{self.task_path} (id {self.task_id})")


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise DelbenchError(f"--leaks {policy!r} not understood; use one of {', '.join(POLICIES)}")
    return policy


def _eval_rows(frame: Any) -> Any:
    return frame[(frame["role"] == "task") & frame["split"].isin(EVAL_SPLITS)]


def exact_leaks(frame: Any) -> list[Leak]:
    """Pool rows whose file has the sha256 of a val or test image, each with the first such image."""
    ev = _eval_rows(frame)
    first: dict[str, Any] = {}
    for row in ev.itertuples(index=False):
        first.setdefault(row.sha256, row)
    out = []
    for row in frame[frame["role"] == "pool"].itertuples(index=False):
        hit = first.get(row.sha256)
        if hit is not None:
            out.append(Leak("exact", str(row.id), str(row.path), str(hit.task), str(hit.split), str(hit.id), str(hit.path)))
    return out


def split_leaks(frame: Any) -> list[tuple[str, str, list[str]]]:
    """``(task, video, splits)`` for every video whose task rows lie in more than one split."""
    tasks = frame[(frame["role"] == "task") & frame["video"].notna()]
    out = []
    for (task, video), g in tasks.groupby(["task", "video"], sort=True):
        splits = sorted(set(g["split"].dropna()))
        if len(splits) > 1:
            out.append((str(task), str(video), splits))
    return out


def near_leaks(root: Path, frame: Any, *, pool_hashes: Sequence[str | None] | None = None,
               eval_codes: dict[str, Any] | None = None, workers: int | None = None,
               decode: bool = True) -> list[Leak]:
    """Pool images within ``NEAR_BITS`` of a val or test image that are not the same file.

    ``pool_hashes`` (one per pool row, in order) and ``eval_codes`` (variant codes by row id) are
    taken when a caller has decoded the images already; what is missing is computed from the files
    under ``root`` (the manifest's ``phash`` column first), unless ``decode`` is False (``verify``
    opens no file it has not checked). Images that do not decode are skipped: ``verify`` reports them."""
    from delbench.data import nearhash

    pool = frame[frame["role"] == "pool"].reset_index(drop=True)
    ev = _eval_rows(frame).reset_index(drop=True)
    if not len(pool) or not len(ev):
        return []
    hashes = list(pool_hashes) if pool_hashes is not None else (
        pool["phash"].tolist() if "phash" in pool.columns else [None] * len(pool))
    hashes = [h if isinstance(h, str) and len(h) == 16 else None for h in hashes]
    todo = [i for i, h in enumerate(hashes) if h is None] if decode else []
    for i, h in zip(todo, _map(lambda i: _decoded(root / pool.at[i, "path"], nearhash.base_hash), todo, workers)):
        hashes[i] = h
    codes = dict(eval_codes or {})
    missing = [rid for rid in ev["id"] if rid not in codes] if decode else []
    paths = dict(zip(ev["id"], ev["path"]))
    for rid, c in zip(missing, _map(lambda r: _decoded(root / paths[r], nearhash.variant_codes), missing, workers)):
        codes[rid] = c
    have = [i for i, h in enumerate(hashes) if h is not None]
    usable = [j for j, rid in enumerate(ev["id"]) if codes.get(rid) is not None]
    pairs = nearhash.near_pairs(nearhash.codes([hashes[i] for i in have]), [codes[ev.at[j, "id"]] for j in usable])
    out = []
    for p, e, bits in pairs:
        prow, erow = pool.iloc[have[p]], ev.iloc[usable[e]]
        if prow["sha256"] == erow["sha256"]:
            continue  # the same file: an exact leak, reported as such
        out.append(Leak("near", str(prow["id"]), str(prow["path"]), str(erow["task"]), str(erow["split"]),
                        str(erow["id"]), str(erow["path"]), int(bits)))
    return out


def _decoded(path: Path, fn: Callable[[Any], Any]) -> Any:
    from delbench.data.decode import BadFile, open_image, to_rgb

    try:
        return fn(to_rgb(open_image(path)))
    except BadFile:
        return None


def _map(fn: Callable[[Any], Any], items: list[Any], workers: int | None) -> list[Any]:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
        return list(pool.map(fn, items))


def guard(root: Path, frame: Any, policy: str, *, command: str, workers: int | None = None) -> tuple[Any, list[Leak]]:
    """Apply ``policy`` to the leaks of the root being built at ``root`` (its files in place):
    ``refuse`` raises on an exact leak, ``report`` keeps every row, ``drop`` removes the leaking
    pool rows. Returns the frame to write and every leak found (for ``write_report``)."""
    leaks = exact_leaks(frame)
    if leaks and policy == "refuse":
        raise DelbenchError(refusal(leaks, command))
    leaks += near_leaks(root, frame, workers=workers)
    if policy == "drop" and leaks:
        gone = {leak.pool_id for leak in leaks}
        frame = frame[~((frame["role"] == "pool") & frame["id"].isin(gone))].reset_index(drop=True)
    return frame, leaks


def refusal(leaks: list[Leak], command: str) -> str:
    more = f"; {len({x.pool_id for x in leaks})} pool images are" if len(leaks) > 1 else ""
    return (f"{command}: {leaks[0].line()}{more}. An evaluation image must not be pre-trained on: pass --leaks drop "
            f"to leave such pool images out, or --leaks report to keep them and list them in {REPORT_NAME}")


def write_report(directory: Path, leaks: list[Leak], policy: str) -> Path:
    """``leaks.csv`` in ``directory`` (a root being built): one row per leak and what was done."""
    path = Path(directory) / REPORT_NAME
    fields = ["kind", "pool_id", "pool_path", "task", "split", "task_id", "task_path", "bits", "action"]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for leak in leaks:
            writer.writerow({**asdict(leak), "action": "dropped" if policy == "drop" else "kept"})
    return path


def prune_files(root: Path, before: Any, after: Any) -> None:
    """Remove the files of rows ``before`` had and ``after`` dropped, unless a kept row uses them."""
    kept = {p for col in ("path", "mask_path") for p in after[col].dropna()}
    for col in ("path", "mask_path"):
        for rel in set(before[col].dropna()) - kept:
            (Path(root) / rel).unlink(missing_ok=True)
