"""``verify``: re-check a dataset root against its manifest and report every problem, by file."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from delbench.store.atomic import sha256_file
from delbench.data.checks import BadFile, image_size, mask_values, strict_binary
from delbench.data.manifest import COLUMNS, MANIFEST_NAME, ROLES, SPLITS, escaping_links, is_inside, read_manifest
from delbench.errors import DelbenchError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset root: the file (relative to the root) and what is wrong."""

    file: str
    kind: str  # manifest, escapes-root, missing, hash, corrupt, unsupported, size, mask-size, non-binary-mask
    message: str
    id: str | None = None

    def __str__(self) -> str:
        return f"{self.file}: {self.message}" + (f" (id {self.id})" if self.id else "")


def verify(root: str | Path, *, workers: int | None = None) -> list[Problem]:
    """Every problem found in ``root``: manifest contract, missing files, hash mismatches, images
    that do not decode, sizes that disagree with the manifest, masks of the wrong size or not binary.
    An empty list means the root is sound."""
    root = Path(root)
    if not root.is_dir():
        raise DelbenchError(f"verify: {root} is not a directory; pass a dataset root")
    frame = read_manifest(root, check_paths=False)
    problems = _contract(frame)
    if problems and problems[0].message.startswith("missing column"):
        return problems
    # Files reached through a link out of the root are reported, never opened.
    links = list(escaping_links(root, frame))
    problems += [Problem(rel, "escapes-root", f"{col} {why}", rid) for rid, col, rel, why in links]
    escaped = {(rid, col) for rid, col, _, _ in links}
    rows = frame.to_dict("records")
    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
        for found in pool.map(lambda r: _check_row(root, r, escaped), rows):
            problems.extend(found)
    return problems


def _contract(frame: Any) -> list[Problem]:
    """The manifest contract (as ``manifest.check``), but collecting every breach."""
    out: list[Problem] = []
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        return [Problem(MANIFEST_NAME, "manifest", f"missing column(s) {', '.join(missing)}")]
    dup = frame["id"][frame["id"].duplicated()]
    out += [Problem(MANIFEST_NAME, "manifest", f"duplicate id {i!r}", i) for i in dup.unique()]
    for row in frame.itertuples(index=False):
        if row.role not in ROLES:
            out.append(Problem(MANIFEST_NAME, "manifest", f"role {row.role!r} not in {ROLES}", row.id))
        if row.role == "task" and row.split not in SPLITS:
            out.append(Problem(MANIFEST_NAME, "manifest", f"task row split {row.split!r} not in {SPLITS}", row.id))
        if row.role == "task" and not isinstance(row.task, str):
            out.append(Problem(MANIFEST_NAME, "manifest", "task row has no task name", row.id))
        for col in ("path", "mask_path"):
            rel = getattr(row, col)
            if isinstance(rel, str) and not is_inside(rel):
                out.append(Problem(rel, "manifest", f"{col} escapes the dataset root", row.id))
    return out


def _check_row(root: Path, row: dict[str, Any], escaped: set[tuple[str, str]]) -> list[Problem]:
    out: list[Problem] = []
    rid, rel = row["id"], row["path"]
    if not isinstance(rel, str) or not is_inside(rel) or (rid, "path") in escaped:
        return out  # already reported by the contract or link check
    size = _check_file(root, rel, row.get("sha256"), rid, out, image=True)
    if size is not None and (size[0], size[1]) != (row["width"], row["height"]):
        out.append(Problem(rel, "size", f"image is {size[0]}x{size[1]} but the manifest says {row['width']}x{row['height']}", rid))
    mrel = row.get("mask_path")
    if (rid, "mask_path") in escaped:
        pass
    elif isinstance(mrel, str) and is_inside(mrel):
        _check_mask(root, mrel, row.get("mask_sha256"), rid, size or (row["width"], row["height"]), out)
    elif row.get("role") == "task" and not isinstance(mrel, str):
        out.append(Problem(rel, "manifest", "task row has no mask_path", rid))
    return out


def _check_file(root: Path, rel: str, sha: Any, rid: str, out: list[Problem], *, image: bool) -> tuple[int, int] | None:
    path = root / rel
    if not path.is_file():
        out.append(Problem(rel, "missing", "file is missing" + (" (dangling link)" if path.is_symlink() else ""), rid))
        return None
    if isinstance(sha, str) and sha256_file(path) != sha:
        out.append(Problem(rel, "hash", "sha256 differs from the manifest (file changed or corrupted)", rid))
    if not image:
        return None
    try:
        return image_size(path)
    except BadFile as exc:
        out.append(Problem(rel, exc.kind, f"image does not decode: {exc}", rid))
        return None


def _check_mask(root: Path, rel: str, sha: Any, rid: str, size: tuple[int, int], out: list[Problem]) -> None:
    _check_file(root, rel, sha, rid, out, image=False)
    if not (root / rel).is_file():
        return
    try:
        values = mask_values(root / rel)
    except BadFile as exc:
        out.append(Problem(rel, exc.kind, f"mask does not decode: {exc}", rid))
        return
    if (values.shape[1], values.shape[0]) != tuple(size):
        out.append(Problem(rel, "mask-size", f"mask is {values.shape[1]}x{values.shape[0]} but its image is {size[0]}x{size[1]}", rid))
    if not strict_binary(values):
        out.append(Problem(rel, "non-binary-mask", "mask has values other than 0/255 (or 0/1)", rid))
