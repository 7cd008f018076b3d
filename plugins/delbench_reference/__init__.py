"""``oracle`` and ``adversary``: reference selectors that read the pool's ground truth.

They are instruments for checking a protocol, not data-selection methods: on a pool whose manifest
records ``gt_quality`` and ``gt_group`` (the synthetic DataDEL, or a pool made by ``delbench data
plant``), a protocol that ranks data by quality must score ``oracle > random > adversary``
(``delbench validate``). Both rank the whole pool and keep the first round(R*N) items, so the subset
at a small ratio is a prefix of the subset at a larger one.
"""
from __future__ import annotations

import numpy as np

from delbench import hookimpl
from delbench.errors import DelbenchError
from delbench.selection import Selection, SelectionRequest

CLEAN = "clean"
GROUND_TRUTH = ("gt_quality", "gt_group")


def _ground_truth(name: str, request: SelectionRequest) -> tuple[np.ndarray, np.ndarray]:
    pool = request.pool
    missing = [c for c in GROUND_TRUTH if pool is None or c not in pool.columns]
    if missing or pool[list(GROUND_TRUTH)].isna().any().any():
        raise DelbenchError(
            f"{name}: the pool has no ground truth ({', '.join(GROUND_TRUTH)}); it works only on the synthetic "
            "DataDEL or on a pool made by `delbench data plant`"
        )
    return pool["gt_quality"].astype(str).to_numpy() == CLEAN, pool["gt_group"].astype(str).to_numpy()


def _keep(order: np.ndarray, request: SelectionRequest, info: dict[str, object]) -> Selection:
    k = request.target_count
    return Selection(indices=order[:k], reasons={"ranked-out": order[k:]}, info=info)


class OracleSelector:
    """Ground truth: clean frames first, one per near-duplicate group, then further clean frames, then disruptive ones."""

    name = "oracle"

    def select(self, request: SelectionRequest) -> Selection:
        clean, group = _ground_truth(self.name, request)
        rng = request.rng()
        shuffled = rng.permutation(request.n)
        # A random member of each group comes first; which groups lead is random too.
        _, first = np.unique(group[shuffled], return_index=True)
        lead = np.zeros(request.n, dtype=bool)
        lead[shuffled[first]] = True
        tier = np.where(clean & lead, 0, np.where(clean, 1, 2))
        order = shuffled[np.argsort(tier[shuffled], kind="stable")]
        return _keep(order, request, {"clean_distinct": int((clean & lead).sum()), "clean": int(clean.sum())})


class AdversarySelector:
    """Ground truth: disruptive frames first, then clean frames a whole near-duplicate group at a time."""

    name = "adversary"

    def select(self, request: SelectionRequest) -> Selection:
        clean, group = _ground_truth(self.name, request)
        rng = request.rng()
        names, codes = np.unique(group, return_inverse=True)
        group_rank = rng.permutation(names.size)[codes]
        # Disruptive frames first (in random order), then repeats: every member of a group before the next.
        order = np.lexsort((rng.permutation(request.n), group_rank, clean))
        return _keep(order, request, {"disruptive": int((~clean).sum())})


@hookimpl
def delbench_register_selectors(register):
    register(OracleSelector)
    register(AdversarySelector)
