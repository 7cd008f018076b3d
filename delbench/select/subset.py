"""Writing a validated selection: ``subset.npy`` (sorted int64 pool indices) + ``subset.json`` sidecar,
plus ``subset.reasons.parquet`` (pool index, reason) when the selector gave removal reasons."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from delbench.store.atomic import atomic_path, write_json, write_npy
from delbench.select.contract import Selection


def subset_paths(out: str | Path) -> tuple[Path, Path, Path]:
    out = Path(out)
    # names like r0.25.npy: only the final .npy is a suffix
    stem = out.name[: -len(".npy")] if out.name.endswith(".npy") else out.name
    return out, out.with_name(f"{stem}.json"), out.with_name(f"{stem}.reasons.parquet")


def write_subset(out: str | Path, selection: Selection, meta: dict[str, Any]) -> dict[str, Any]:
    """Write the subset files; the sidecar is written last, so its presence means the subset is whole."""
    npy, side, reasons_path = subset_paths(out)
    n = int(meta["n"])
    kept = int(selection.indices.size)
    record = {
        **meta,
        "kept": kept,
        "ratio_achieved": kept / n,
        "removed_by_reason": {k: int(v.size) for k, v in selection.reasons.items()},
        "info": selection.info,
    }
    write_npy(npy, np.asarray(selection.indices, dtype=np.int64))
    if selection.reasons:
        import pandas as pd

        frame = pd.DataFrame(
            {
                "index": np.concatenate([v for v in selection.reasons.values()]).astype(np.int64),
                "reason": np.concatenate([[k] * v.size for k, v in selection.reasons.items()]).astype(str),
            }
        ).sort_values("index", kind="stable")
        with atomic_path(reasons_path) as tmp:
            frame.to_parquet(tmp, index=False)
    else:
        reasons_path.unlink(missing_ok=True)
    write_json(side, record)
    return record


def read_subset(out: str | Path) -> tuple[np.ndarray, dict[str, Any]]:
    npy, side, _ = subset_paths(out)
    return np.load(npy, allow_pickle=False), json.loads(side.read_text())
