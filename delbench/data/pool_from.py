"""A pool taken from a task's training split: the same files, unlabelled, as pool rows.

The task keeps its rows (fine-tuning still needs them); each pool row points at the task image's
file and gets the id ``<task row id>#pool``. Only the train split may be pooled: val and test images
are what the leak checks keep out of pre-training.
"""
from __future__ import annotations

from typing import Any, Sequence

from delbench.errors import DelbenchError

SUFFIX = "#pool"


def parse(spec: str) -> tuple[str, str]:
    """``TASK`` or ``TASK:SPLIT`` -> (task, split); the split must be train."""
    task, _, split = spec.partition(":")
    split = split or "train"
    if not task:
        raise DelbenchError(f"--pool-from-task {spec!r}: give TASK or TASK:train")
    if split != "train":
        raise DelbenchError(f"--pool-from-task {spec!r}: only a task's train split can become pool; its {split} "
                            "images are held out for evaluation")
    return task, split


def add_pool_rows(frame: Any, specs: Sequence[str]) -> Any:
    """``frame`` with pool rows appended for each ``TASK[:train]`` in ``specs``."""
    import pandas as pd

    parts = [frame]
    for spec in specs:
        task, split = parse(spec)
        rows = frame[(frame["role"] == "task") & (frame["task"] == task) & (frame["split"] == split)]
        if rows.empty:
            present = sorted(frame.loc[frame["role"] == "task", "task"].dropna().unique())
            raise DelbenchError(f"--pool-from-task {spec!r}: no {split} rows of task {task!r} "
                                f"(tasks here: {', '.join(map(str, present)) or 'none'})")
        pool = rows.copy()
        pool["id"] = pool["id"] + SUFFIX
        pool["role"] = "pool"
        for col in ("task", "split", "mask_path", "mask_sha256"):
            pool[col] = None
        clash = sorted(set(pool["id"]) & set(frame["id"]))
        if clash:
            raise DelbenchError(f"--pool-from-task {spec!r}: id {clash[0]!r} is already in the root; was this "
                                "task pooled before?")
        parts.append(pool)
    out = pd.concat(parts, ignore_index=True)
    if "label" in out.columns:
        out["label"] = out["label"].astype("string")
    return out
