"""Fixed train/val/test splits for task rows: the one place that says how they are drawn.

Splits depend only on the set of ids (and groups) in each stratum, never on file order, the
machine or a random seed, so a given dataset release always gets the same split. Changing
``SPLIT_RATIOS`` or ``SPLIT_SALT`` changes every score: bump protocol versions if you do.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Sequence

SPLIT_RATIOS: tuple[tuple[str, float], ...] = (("train", 0.7), ("val", 0.1), ("test", 0.2))
SPLIT_SALT = "delbench-splits-v1"


def unit_hash(key: str) -> str:
    return hashlib.sha256(f"{SPLIT_SALT}\0{key}".encode()).hexdigest()


def assign_splits(
    ids: Sequence[str],
    strata: Sequence[str],
    groups: Sequence[str | None] | None = None,
    fixed: Sequence[str | None] | None = None,
) -> list[str]:
    """One split per id.

    ``strata`` (e.g. task and centre) are split separately so each keeps the ratios; rows sharing a
    ``group`` (e.g. frames of one video) land in the same split so near-duplicates never straddle
    train and test. ``fixed`` carries a published split: ``test`` is kept, ``train`` is divided
    into train and val at the train:val ratio — unless the release also publishes a ``val`` split,
    in which case all three are kept as published.
    """
    n = len(ids)
    groups = groups if groups is not None else [None] * n
    fixed = fixed if fixed is not None else [None] * n
    keep_all = "val" in fixed
    out: list[str | None] = [None] * n
    buckets: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i in range(n):
        if fixed[i] == "test" or (keep_all and fixed[i] in ("train", "val")):
            out[i] = fixed[i]
            continue
        pool = "train-only" if fixed[i] == "train" else "all"
        unit = f"g:{groups[i]}" if groups[i] else f"i:{ids[i]}"
        buckets[(strata[i], pool)][unit].append(i)
    for (stratum, pool), units in buckets.items():
        ratios = SPLIT_RATIOS if pool == "all" else tuple((s, r) for s, r in SPLIT_RATIOS if s != "test")
        for unit, split in _split_units(stratum, units, ratios).items():
            for i in units[unit]:
                out[i] = split
    return [s or "train" for s in out]


def _split_units(stratum: str, units: dict[str, list[int]], ratios: Sequence[tuple[str, float]]) -> dict[str, str]:
    order = sorted(units, key=lambda u: unit_hash(f"{stratum}\0{u}"))
    total = sum(len(units[u]) for u in order)
    norm = sum(r for _, r in ratios)
    cuts, acc = [], 0.0
    for name, r in ratios:
        acc += r / norm
        cuts.append((acc, name))
    assigned: dict[str, str] = {}
    done = 0
    for u in order:
        # A unit goes where the middle of its share of the stratum falls, so sizes match the
        # ratios as closely as whole units allow.
        mid = (done + len(units[u]) / 2) / total
        assigned[u] = next((name for cut, name in cuts if mid < cut), cuts[-1][1])
        done += len(units[u])
    # Small strata: make sure every split exists when there are enough units for it.
    names = [name for name, _ in ratios]
    if len(order) >= len(names):
        for name in reversed(names[1:]):
            if name not in assigned.values():
                train_units = [u for u in order if assigned[u] == names[0]]
                if len(train_units) > 1:
                    assigned[train_units[-1]] = name
    return assigned
