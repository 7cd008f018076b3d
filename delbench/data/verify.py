"""``verify``: re-check a dataset root against its manifest and report every problem, by file.

Besides the files, it runs the leak checks (``delbench.data.leaks``) on the hashes it computes while
decoding: a pool image identical to a val or test image and a video straddling splits are problems,
a pool image resembling a val or test image is a warning."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from delbench.store.atomic import sha256_file
from delbench.data.checks import BadFile, mask_values, strict_binary
from delbench.data.decode import open_image, to_rgb
from delbench.data.manifest import COLUMNS, MANIFEST_NAME, ROLES, SPLITS, escaping_links, is_inside, read_manifest
from delbench.errors import DelbenchError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset root: the file (relative to the root) and what is wrong."""

    file: str
    kind: str  # manifest, escapes-root, missing, hash, corrupt, unsupported, size, mask-size, non-binary-mask,
    # pool-leak, split-leak; near-duplicate (a warning)
    message: str
    id: str | None = None

    def __str__(self) -> str:
        return f"{self.file}: {self.message}" + (f" (id {self.id})" if self.id else "")


@dataclass
class Checked:
    """What ``check_root`` found: problems (the root is not sound) and warnings (worth a look)."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    empty: dict[str, tuple[int, int]] = field(default_factory=dict)  # task -> (empty test masks, test images)


def verify(root: str | Path, *, workers: int | None = None) -> list[Problem]:
    """Every problem found in ``root``: manifest contract, missing files, hash mismatches, images
    that do not decode, sizes that disagree with the manifest, masks of the wrong size or not binary,
    pool images identical to val/test images, videos straddling splits. An empty list means the root
    is sound."""
    return check_root(root, workers=workers).problems


def check_root(root: str | Path, *, workers: int | None = None, leaks: str = "refuse", near: bool = True) -> Checked:
    """``verify`` with warnings: pool images near a val/test image (``near``). ``leaks="report"``
    turns pool images identical to val/test images into warnings too (a root imported with
    ``--leaks report``)."""
    from delbench.data import leaks as L

    root = Path(root)
    if not root.is_dir():
        raise DelbenchError(f"verify: {root} is not a directory; pass a dataset root")
    L.check_policy(leaks)
    frame = read_manifest(root, check_paths=False)
    problems = _contract(frame)
    if problems and problems[0].message.startswith("missing column"):
        return Checked(problems)
    # Files reached through a link out of the root are reported, never opened.
    links = list(escaping_links(root, frame))
    problems += [Problem(rel, "escapes-root", f"{col} {why}", rid) for rid, col, rel, why in links]
    escaped = {(rid, col) for rid, col, _, _ in links}
    rows = frame.to_dict("records")
    hashes: dict[str, Any] = {}
    empty: dict[str, list[int]] = {}
    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
        for row, (found, code, blank) in zip(rows, pool.map(lambda r: _check_row(root, r, escaped, near), rows)):
            problems.extend(found)
            if code is not None:
                hashes[row["id"]] = code
            if row.get("role") == "task" and row.get("split") == "test" and blank is not None:
                tally = empty.setdefault(str(row["task"]), [0, 0])
                tally[0] += int(blank)
                tally[1] += 1
    checked = Checked(problems, empty={t: (e, n) for t, (e, n) in sorted(empty.items())})
    exact = [Problem(x.pool_path, "pool-leak", f"byte-identical to task {x.task} {x.split} image {x.task_path} "
                     f"(id {x.task_id}); drop it from the pool (import with --leaks drop)", x.pool_id)
             for x in L.exact_leaks(frame)]
    (checked.warnings if leaks == "report" else checked.problems).extend(exact)
    checked.problems += [Problem("manifest.parquet", "split-leak", f"task {task}: video {video!r} has frames in "
                                 f"{' and '.join(splits)}; frames of one video must share a split (re-import the root)")
                         for task, video, splits in L.split_leaks(frame)]
    if near:
        pool = frame[frame["role"] == "pool"]
        found = L.near_leaks(root, frame, pool_hashes=[hashes.get(i) for i in pool["id"]],
                             eval_codes={i: c for i, c in hashes.items() if not isinstance(c, str)}, workers=workers,
                             decode=False)
        checked.warnings += [Problem(x.pool_path, "near-duplicate", f"near duplicate ({x.bits} of 64 hash bits differ) of "
                                     f"task {x.task} {x.split} image {x.task_path} (id {x.task_id})", x.pool_id)
                             for x in found]
    return checked


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


def _check_row(root: Path, row: dict[str, Any], escaped: set[tuple[str, str]],
               near: bool) -> tuple[list[Problem], Any, bool | None]:
    """The row's problems, the perceptual hash the leak checks need from its image (pool: the hex
    hash; val/test: the variant codes; None otherwise), and whether its mask is empty (None: no mask read)."""
    from delbench.data import nearhash

    out: list[Problem] = []
    rid, rel = row["id"], row["path"]
    if not isinstance(rel, str) or not is_inside(rel) or (rid, "path") in escaped:
        return out, None, None  # already reported by the contract or link check
    rgb = _check_file(root, rel, row.get("sha256"), rid, out, image=True)
    size = rgb.size if rgb is not None else None
    code = None
    if rgb is not None and near:
        if row.get("role") == "pool":
            code = nearhash.base_hash(rgb)
        elif row.get("role") == "task" and row.get("split") in ("val", "test"):
            code = nearhash.variant_codes(rgb)
    if size is not None and (size[0], size[1]) != (row["width"], row["height"]):
        out.append(Problem(rel, "size", f"image is {size[0]}x{size[1]} but the manifest says {row['width']}x{row['height']}", rid))
    mrel = row.get("mask_path")
    blank = None
    if (rid, "mask_path") in escaped:
        pass
    elif isinstance(mrel, str) and is_inside(mrel):
        blank = _check_mask(root, mrel, row.get("mask_sha256"), rid, size or (row["width"], row["height"]), out)
    elif row.get("role") == "task" and not isinstance(mrel, str):
        out.append(Problem(rel, "manifest", "task row has no mask_path", rid))
    return out, code, blank


def _check_file(root: Path, rel: str, sha: Any, rid: str, out: list[Problem], *, image: bool) -> Any:
    """Check a file's presence and hash; an image comes back decoded (8-bit RGB), or None."""
    path = root / rel
    if not path.is_file():
        out.append(Problem(rel, "missing", "file is missing" + (" (dangling link)" if path.is_symlink() else ""), rid))
        return None
    if isinstance(sha, str) and sha256_file(path) != sha:
        out.append(Problem(rel, "hash", "sha256 differs from the manifest (file changed or corrupted)", rid))
    if not image:
        return None
    try:
        return to_rgb(open_image(path))
    except BadFile as exc:
        out.append(Problem(rel, exc.kind, f"image does not decode: {exc}", rid))
        return None


def _check_mask(root: Path, rel: str, sha: Any, rid: str, size: tuple[int, int], out: list[Problem]) -> bool | None:
    """Check a mask; True when it has no foreground (None when it cannot be read)."""
    _check_file(root, rel, sha, rid, out, image=False)
    if not (root / rel).is_file():
        return None
    try:
        values = mask_values(root / rel)
    except BadFile as exc:
        out.append(Problem(rel, exc.kind, f"mask does not decode: {exc}", rid))
        return None
    if (values.shape[1], values.shape[0]) != tuple(size):
        out.append(Problem(rel, "mask-size", f"mask is {values.shape[1]}x{values.shape[0]} but its image is {size[0]}x{size[1]}", rid))
    if not strict_binary(values):
        out.append(Problem(rel, "non-binary-mask", "mask has values other than 0/255 (or 0/1)", rid))
    return not values.any()
