"""The manifest: one Parquet file per dataset root (``<root>/manifest.parquet``), one row per image.

Pool index i means row i of the pool rows in manifest order. Paths are relative to the root and must
stay inside it. Synthetic roots add ground-truth columns (``gt_*``).
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from delbench.atomic import atomic_path, sha256_file
from delbench.errors import DelbenchError

MANIFEST_NAME = "manifest.parquet"

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


def read_manifest(root: str | Path) -> "Any":
    import pandas as pd

    path = manifest_path(root) if Path(root).is_dir() else Path(root)
    if not path.is_file():
        raise DelbenchError(f"no manifest at {path}: create one with `delbench data synth` or `delbench data import`")
    return pd.read_parquet(path)


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
