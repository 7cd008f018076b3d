"""The manifest: one Parquet file per dataset root (``<root>/manifest.parquet``), one row per image.

Pool index i means row i of the pool rows in manifest order. Synthetic roots add ground-truth
columns (``gt_*``).

Path rule, checked on every read: a path is relative, has no ``..`` part, and resolves inside the
root. The one exception is a root made by ``delbench data import --link``: its image files may be
symlinks whose target lies inside the source folder that ``import.json`` records for a link-mode
import of that row's format. Any other link out of the root is refused.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from delbench.store.atomic import atomic_path, sha256_file
from delbench.errors import DelbenchError

MANIFEST_NAME = "manifest.parquet"
IMPORT_SIDECAR = "import.json"  # written by delbench.data.importer; records --link sources
PATH_COLUMNS = ("path", "mask_path")

# column -> pandas dtype; nullable columns use pandas' nullable dtypes.
COLUMNS: dict[str, str] = {
    "id": "string",
    "path": "string",
    "sha256": "string",
    "width": "int64",
    "height": "int64",
    "source": "string",
    "center": "string",
    "video": "string",
    "frame": "Int64",
    "role": "string",  # "pool" or "task"
    "task": "string",  # task name for task rows
    "split": "string",  # train / val / test for task rows
    "mask_path": "string",
    "mask_sha256": "string",
}
GT_COLUMNS: dict[str, str] = {"gt_quality": "string", "gt_group": "Int64", "gt_polyp": "boolean"}
ROLES = ("pool", "task")
SPLITS = ("train", "val", "test")


def manifest_path(root: str | Path) -> Path:
    return Path(root) / MANIFEST_NAME


def normalise(frame: "Any") -> "Any":
    """Coerce a frame to the manifest schema (missing optional columns become null) and check it."""
    import pandas as pd

    frame = frame.copy()
    for col, dtype in COLUMNS.items():
        if col not in frame.columns:
            frame[col] = pd.Series([pd.NA] * len(frame), dtype=dtype)
        else:
            frame[col] = frame[col].astype(dtype)
    for col, dtype in GT_COLUMNS.items():
        if col in frame.columns:
            frame[col] = frame[col].astype(dtype)
    extra = [c for c in frame.columns if c not in COLUMNS and c not in GT_COLUMNS]
    frame = frame[list(COLUMNS) + [c for c in GT_COLUMNS if c in frame.columns] + extra]
    check(frame)
    return frame.reset_index(drop=True)


def check(frame: "Any", where: str = "manifest") -> None:
    """Raise a one-line error on the first contract breach (duplicate id, bad role/split, escaping path)."""
    dup = frame["id"][frame["id"].duplicated()]
    if len(dup):
        raise DelbenchError(f"{where}: duplicate id {dup.iloc[0]!r}; ids must be unique")
    bad_role = frame.loc[~frame["role"].isin(ROLES), "id"]
    if len(bad_role):
        raise DelbenchError(f"{where}: row {bad_role.iloc[0]!r} has role not in {ROLES}")
    tasks = frame[frame["role"] == "task"]
    bad_split = tasks.loc[~tasks["split"].isin(SPLITS), "id"]
    if len(bad_split):
        raise DelbenchError(f"{where}: task row {bad_split.iloc[0]!r} has split not in {SPLITS}")
    for col in ("path", "mask_path"):
        for rid, rel in zip(frame["id"], frame[col]):
            if isinstance(rel, str) and not is_inside(rel):
                raise DelbenchError(f"{where}: row {rid!r} {col} {rel!r} escapes the dataset root")


def is_inside(rel: str) -> bool:
    p = PurePosixPath(rel)
    return not p.is_absolute() and ".." not in p.parts and not rel.startswith(("/", "\\"))


def write_manifest(root: str | Path, frame: "Any") -> Path:
    """Normalise and write ``<root>/manifest.parquet`` atomically."""
    out = manifest_path(root)
    frame = normalise(frame)
    with atomic_path(out) as tmp:
        frame.to_parquet(tmp, index=False)
    return out


def read_manifest(root: str | Path, *, check_paths: bool = True) -> "Any":
    """The manifest of the root ``root`` (or the manifest file ``root``), its paths checked against
    the path rule above; ``check_paths=False`` is for ``verify``, which reports breaches itself."""
    import pandas as pd

    path = manifest_path(root) if Path(root).is_dir() else Path(root)
    if not path.is_file():
        raise DelbenchError(f"no manifest at {path}: create one with `delbench data synth` or `delbench data import`")
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        raise DelbenchError(
            f"{path}: cannot read the manifest ({type(exc).__name__}), it is truncated or damaged; "
            f"re-import or re-create the dataset root, then run `delbench data verify {path.parent}`"
        ) from None
    # a pool-only manifest (or one read only for its pool) needs no mask column
    needed = ("id", "path") + (("mask_path",) if "role" in frame.columns and (frame["role"] == "task").any()
                               and "split" in frame.columns else ())
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DelbenchError(f"{path}: manifest has no {', '.join(missing)} column; re-create or re-import the dataset root")
    if check_paths:
        for rid, col, rel, why in path_breaches(path.parent, frame):
            raise DelbenchError(
                f"{path}: row {rid!r} {col} {rel!r} {why}; a dataset root may only hold files inside it "
                "(re-import the root, or fix the manifest)"
            )
    return frame


def path_breaches(root: str | Path, frame: "Any") -> Iterator[tuple[str, str, str, str]]:
    """``(id, column, path, why)`` for each manifest path that breaks the path rule: absolute or with
    a ``..`` part (checked on the text), then a file or folder that resolves outside the root
    (checked on disk; missing files are left to ``verify``). Nothing is opened."""
    root = Path(root)
    for col in PATH_COLUMNS:
        if col not in frame.columns:
            continue
        text = frame[col].astype("string")
        bad = text.notna() & (text.str.startswith("/") | text.str.startswith("\\") | text.str.contains(r"(?:^|/)\.\.(?:/|$)"))
        for rid, rel in zip(frame["id"][bad.fillna(False)], text[bad.fillna(False)]):
            yield str(rid), col, str(rel), "is absolute or goes up with '..'"
    yield from escaping_links(root, frame)


def escaping_links(root: Path, frame: "Any") -> Iterator[tuple[str, str, str, str]]:
    """The on-disk half of ``path_breaches``: rows whose file or folder resolves outside the root."""
    real_root = Path(os.path.realpath(root))
    # a folder's real path and whether it stays inside, resolved once per folder: the stages read a
    # manifest many times, so the per-row work is plain strings and one lstat (pathlib is 5x slower)
    real_dirs: dict[str, tuple[Path, bool]] = {}
    base = os.fspath(root)
    link_sources: dict[str, list[Path]] | None = None
    sources = frame["source"].tolist() if "source" in frame.columns else [None] * len(frame)
    for col in PATH_COLUMNS:
        if col not in frame.columns:
            continue
        for rid, rel, source in zip(frame["id"].tolist(), frame[col].tolist(), sources):
            if not isinstance(rel, str):
                continue  # no path
            parent, _, name = rel.rpartition("/")
            if parent not in real_dirs:
                if not is_inside(rel):
                    continue  # already reported from the text
                real = Path(os.path.realpath(os.path.join(base, parent)))
                real_dirs[parent] = (real, real.is_relative_to(real_root))
            real, inside = real_dirs[parent]
            if not inside:
                yield str(rid), col, rel, f"lies in a folder that resolves outside the root ({real})"
                continue
            if name == ".." or rel.startswith(("/", "\\")):
                continue  # already reported from the text
            try:
                is_link = stat.S_ISLNK(os.lstat(os.path.join(base, rel)).st_mode)
            except OSError:
                continue  # missing: verify reports it, readers fail on it by name
            if not is_link:
                continue
            target = Path(os.path.realpath(root / rel))
            if target.is_relative_to(real_root):
                continue
            if link_sources is None:
                link_sources = _link_sources(root)
            if col == "path" and any(target.is_relative_to(s) for s in link_sources.get(str(source), [])):
                continue
            yield str(rid), col, rel, f"is a symlink to {target}, outside the root and not into a `data import --link` source"


def _link_sources(root: Path) -> dict[str, list[Path]]:
    """Source name -> the real source folders of the root's ``--link`` imports, from ``import.json``."""
    side = root / IMPORT_SIDECAR
    try:
        imports = json.loads(side.read_text()).get("imports", []) if side.is_file() else []
    except (OSError, ValueError, AttributeError):
        return {}
    out: dict[str, list[Path]] = {}
    for entry in imports if isinstance(imports, list) else []:
        if isinstance(entry, dict) and entry.get("mode") == "link":
            for key in ("source", "root"):
                if isinstance(entry.get(key), str):
                    name = entry.get("source_name") or entry.get("format")
                    out.setdefault(str(name), []).append(Path(os.path.realpath(entry[key])))
    return out


def pool_rows(frame: "Any") -> "Any":
    return frame[frame["role"] == "pool"].reset_index(drop=True)


def task_rows(frame: "Any", task: str | None = None, split: str | None = None) -> "Any":
    rows = frame[frame["role"] == "task"]
    if task is not None:
        rows = rows[rows["task"] == task]
    if split is not None:
        rows = rows[rows["split"] == split]
    return rows.reset_index(drop=True)


def manifest_sha256(root: str | Path) -> str:
    return sha256_file(manifest_path(root))
