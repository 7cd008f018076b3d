"""``data merge``: one dataset root from several that are already imported (and verified).

Rows keep their ids, paths and splits; the files are hard-linked into the new root (copied where the
filesystem cannot link; a ``--link`` root's symlinks stay symlinks), so nothing is re-imported and
no input is written to. The merged manifest lists the inputs' rows in the order the roots are given.
The leak checks run on the merged rows, where a pool from one root first meets the tasks of another.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from delbench.store.atomic import atomic_dir, sha256_file, write_json
from delbench.data.leaks import Leak
from delbench.data.manifest import IMPORT_SIDECAR, MANIFEST_NAME, PATH_COLUMNS, read_manifest, write_manifest
from delbench.errors import DelbenchError

INFO_NAME = "merge.json"


@dataclass
class MergeResult:
    root: Path
    rows: int
    pool: int
    tasks: dict[str, dict[str, int]]  # task -> split -> count
    sources: dict[str, int]  # source -> rows
    leaks: list[Leak] = field(default_factory=list)
    leak_report: Path | None = None


def merge_roots(roots: Sequence[str | Path], out: str | Path, *, force: bool = False, leaks: str = "refuse",
                pool_from_task: Sequence[str] = (), workers: int | None = None) -> MergeResult:
    """Write the root ``out`` holding every row of ``roots``; see the module docstring. ``leaks`` and
    ``pool_from_task`` are as for ``import_dataset``."""
    import pandas as pd

    from delbench.data.importer import check_apart
    from delbench.data.leaks import check_policy, guard, prune_files, write_report
    from delbench.data.pool_from import add_pool_rows, parse

    check_policy(leaks)
    for spec in pool_from_task:
        parse(spec)
    roots, out = [Path(r) for r in roots], Path(out)
    if not roots:
        raise DelbenchError("merge: give at least one dataset root")
    seen: dict[Path, Path] = {}
    for r in roots:
        if not (r / MANIFEST_NAME).is_file():
            raise DelbenchError(f"merge: {r} is not a dataset root (no {MANIFEST_NAME}); import it first")
        if r.resolve() in seen:
            raise DelbenchError(f"merge: {r} is given twice (also as {seen[r.resolve()]})")
        seen[r.resolve()] = r
        check_apart("merge", r, out)
    if out.is_dir() and any(out.iterdir()) and not force:
        raise DelbenchError(f"merge: output {out} is not empty; pass --force to replace it")
    frames = [read_manifest(r) for r in roots]
    _refuse_clashes(roots, frames)
    frame = pd.concat(frames, ignore_index=True)
    if "label" in frame.columns:
        frame["label"] = frame["label"].astype("string")
    with atomic_dir(out) as tmp:
        for r, f in zip(roots, frames):
            _link_files(r, f, tmp)
        if pool_from_task:
            frame = add_pool_rows(frame, pool_from_task)
        kept, found = guard(tmp, frame, leaks, command="merge", workers=workers)
        if len(kept) != len(frame):
            prune_files(tmp, frame, kept)
        frame = kept
        write_manifest(tmp, frame)
        report = write_report(tmp, found, leaks) if found else None
        _write_sidecars(tmp, roots, frames, leaks, pool_from_task)
    tasks: dict[str, dict[str, int]] = {}
    for (task, split), n in frame[frame["role"] == "task"].groupby(["task", "split"]).size().items():
        tasks.setdefault(str(task), {})[str(split)] = int(n)
    return MergeResult(out, len(frame), int((frame["role"] == "pool").sum()), tasks,
                       {str(k): int(v) for k, v in frame["source"].value_counts().sort_index().items()},
                       found, out / report.name if report else None)


def _refuse_clashes(roots: list[Path], frames: list[Any]) -> None:
    """Two roots may share neither an id nor a file path: either would make one row shadow another."""
    for col, what in (("id", "id"), ("path", "file"), ("mask_path", "file")):
        owner: dict[str, Path] = {}
        for r, f in zip(roots, frames):
            for value in f[col].dropna().unique():
                if value in owner:
                    hint = ("the same release imported into both? import it once" if col == "id"
                            else "re-import one of them with --source NAME")
                    raise DelbenchError(f"merge: {what} {value!r} is in both {owner[value]} and {r}; {hint}")
            for value in f[col].dropna().unique():
                owner.setdefault(value, r)


def _link_files(src_root: Path, frame: Any, tmp: Path) -> None:
    for col in PATH_COLUMNS:
        for rel in frame[col].dropna().unique():
            src, dest = src_root / rel, tmp / rel
            if not os.path.lexists(src):
                raise DelbenchError(f"merge: {src} is listed in {src_root / MANIFEST_NAME} but missing; "
                                    f"run `delbench data verify {src_root}`")
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dest, follow_symlinks=False)
            except OSError:
                shutil.copy2(src, dest, follow_symlinks=False)


def _write_sidecars(tmp: Path, roots: list[Path], frames: list[Any], leaks: str, pool_from_task: Sequence[str]) -> None:
    """``import.json`` keeps every input's import entries (a ``--link`` root's symlinks stay allowed);
    ``merge.json`` names the inputs and carries their other JSON sidecars (``synth.json``, ...)."""
    imports: list[Any] = []
    inputs = []
    for r, f in zip(roots, frames):
        sidecars = {}
        for p in sorted(r.glob("*.json")):
            try:
                sidecars[p.name] = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
        imports += (sidecars.get(IMPORT_SIDECAR) or {}).get("imports", [])
        inputs.append({"root": str(r.resolve()), "manifest_sha256": sha256_file(r / MANIFEST_NAME), "rows": int(len(f)),
                       "sidecars": {k: v for k, v in sidecars.items() if k != IMPORT_SIDECAR}})
    if imports:
        write_json(tmp / IMPORT_SIDECAR, {"imports": imports, "rows_total": int(sum(len(f) for f in frames))})
    from delbench import __version__

    write_json(tmp / INFO_NAME, {"inputs": inputs, "leaks": leaks, "pool_from_task": list(pool_from_task),
                                 "delbench": __version__})
