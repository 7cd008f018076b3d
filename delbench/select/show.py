"""What a subset kept and removed, file by file: the rows behind ``delbench subset show``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from delbench.errors import DelbenchError
from delbench.select.subset import ids_path, subset_paths

COLUMNS = ("index", "id", "path", "status", "reason")


def subset_items(subset: str | Path, root: str | Path) -> tuple["Any", list[str]]:
    """One row per pool item (``index``, ``id``, ``path``, ``status`` kept/removed, ``reason``) and
    warnings. Items are matched to ``root``'s manifest by id where the subset carries ids (so a
    re-ordered manifest still lines up), else by pool row for subsets written before ids."""
    import pandas as pd

    from delbench.data.manifest import manifest_path, pool_rows, read_manifest
    from delbench.store.atomic import sha256_file

    npy, side, reasons_file = subset_paths(subset)
    if not npy.is_file() or not side.is_file():
        raise DelbenchError(f"subset {npy}: no such subset (need {npy.name} and its sidecar {side.name}); "
                            "pass the .npy that `delbench select` or `compare` wrote")
    import json

    meta = json.loads(side.read_text())
    kept = np.load(npy, allow_pickle=False).astype(np.int64)
    n = int(meta.get("n", 0))
    pool = pool_rows(read_manifest(Path(root))).reset_index(drop=True)
    warnings: list[str] = []
    ids_file = ids_path(subset)
    if ids_file.is_file():
        carried = pd.read_parquet(ids_file)
        ids = carried["id"].astype(str).to_numpy()
        where = pd.Index(pool["id"].astype(str)).get_indexer(ids)
        if (where < 0).any():
            lost = ids[where < 0]
            raise DelbenchError(f"subset {npy}: {lost.size} of its items are not in the pool of {root} "
                                f"(first: {lost[0]!r}); pass the --root the subset was selected from")
        paths = pool["path"].to_numpy()[where]
    else:
        if n and n != len(pool):
            raise DelbenchError(f"subset {npy} was selected from a pool of {n} items but {root} has {len(pool)}: "
                                "pass the --root the subset was selected from")
        ids, paths = pool["id"].astype(str).to_numpy(), pool["path"].to_numpy()
        recorded = meta.get("pool_sha256")
        if recorded and recorded != sha256_file(manifest_path(root)):
            warnings.append(f"subset {npy} carries no pool ids and {root}'s manifest differs from the one it was "
                            "selected from: rows are matched by position")
    status = np.full(len(ids), "removed", dtype=object)
    status[kept] = "kept"
    reason = np.full(len(ids), "", dtype=object)
    if reasons_file.is_file():
        frame = pd.read_parquet(reasons_file)
        reason[frame["index"].to_numpy(dtype=np.int64)] = frame["reason"].astype(str).to_numpy()
    rows = pd.DataFrame({"index": np.arange(len(ids), dtype=np.int64), "id": ids, "path": paths,
                         "status": status, "reason": reason})
    return rows, warnings
