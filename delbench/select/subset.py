"""Writing a validated selection: ``subset.npy`` (sorted int64 pool indices) + ``subset.json`` sidecar,
plus ``subset.reasons.parquet`` (pool index, reason) when the selector gave removal reasons, and
``subset.ids.parquet`` (pool index, manifest ``id``, kept) when the pool's manifest was at hand, so
that a subset names its items, not only their row numbers. Subsets written before the ids file
existed stay readable: their indices are rows of the pool the sidecar's ``pool_sha256`` names."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from delbench.store.atomic import atomic_path, write_json, write_npy
from delbench.select.contract import Selection


def subset_paths(out: str | Path) -> tuple[Path, Path, Path]:
    out = Path(out)
    # names like r0.25.npy: only the final .npy is a suffix
    stem = out.name[: -len(".npy")] if out.name.endswith(".npy") else out.name
    return out, out.with_name(f"{stem}.json"), out.with_name(f"{stem}.reasons.parquet")


def ids_path(out: str | Path) -> Path:
    npy = subset_paths(out)[0]
    return npy.with_name(npy.name[: -len(".npy")] + ".ids.parquet") if npy.name.endswith(".npy") else npy.with_name(npy.name + ".ids.parquet")


def subset_files(out: str | Path) -> tuple[Path, ...]:
    """Every file a subset may have, for copying it whole."""
    return (*subset_paths(out), ids_path(out))


def write_subset(out: str | Path, selection: Selection, meta: dict[str, Any],
                 pool_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """Write the subset files; the sidecar is written last, so its presence means the subset is whole.
    ``pool_ids`` (the manifest ``id`` of every pool row) adds the ids file."""
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
    if pool_ids is not None:
        import pandas as pd

        kept_mask = np.zeros(n, dtype=bool)
        kept_mask[np.asarray(selection.indices, dtype=np.int64)] = True
        frame = pd.DataFrame({"index": np.arange(n, dtype=np.int64), "id": np.asarray(pool_ids, dtype=str), "kept": kept_mask})
        with atomic_path(ids_path(out)) as tmp:
            frame.to_parquet(tmp, index=False)
    else:
        ids_path(out).unlink(missing_ok=True)
    write_json(side, record)
    return record


def read_subset(out: str | Path) -> tuple[np.ndarray, dict[str, Any]]:
    npy, side, _ = subset_paths(out)
    return np.load(npy, allow_pickle=False), json.loads(side.read_text())
