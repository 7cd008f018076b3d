"""``random``: a seeded uniform sample of the pool, optionally stratified by centre and/or video."""
from __future__ import annotations

import numpy as np

from delbench import hookimpl
from delbench.errors import DelbenchError
from delbench.selection import Selection, SelectionRequest


class RandomSelector:
    """Seeded uniform sample; stratify by `center` and/or `video` to keep each group's share."""

    name = "random"

    def __init__(self, stratify: str = "none") -> None:
        keys = [] if stratify in ("", "none", None) else [k.strip() for k in str(stratify).split(",")]
        bad = [k for k in keys if k not in ("center", "video")]
        if bad:
            raise DelbenchError(f"random: stratify={stratify!r} not understood; use none, center, video or center,video")
        self.stratify = keys

    def select(self, request: SelectionRequest) -> Selection:
        rng = request.rng()
        n, k = request.n, request.target_count
        if not self.stratify:
            return Selection(indices=rng.choice(n, size=k, replace=False), info={"stratify": "none"})
        if request.pool is None:
            raise DelbenchError("random: stratify needs the pool manifest (pass --pool manifest.parquet)")
        missing = [c for c in self.stratify if c not in request.pool.columns]
        if missing:
            raise DelbenchError(f"random: the pool manifest has no column {missing[0]!r} to stratify by")
        groups = request.pool.groupby([request.pool[c].fillna("") for c in self.stratify], sort=True).indices
        members = list(groups.values())
        sizes = np.array([len(m) for m in members], dtype=np.float64)
        # Largest-remainder allocation: each group keeps its share of the target, the total is exact.
        exact = sizes * k / n
        alloc = np.floor(exact).astype(int)
        order = np.argsort(-(exact - alloc), kind="stable")
        alloc[order[: k - alloc.sum()]] += 1
        picked = [rng.choice(m, size=a, replace=False) for m, a in zip(members, alloc) if a]
        return Selection(indices=np.concatenate(picked), info={"stratify": ",".join(self.stratify), "groups": len(members)})


@hookimpl
def delbench_register_selectors(register):
    register(RandomSelector)
