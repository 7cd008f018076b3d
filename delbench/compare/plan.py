"""What a compare run will do: the configuration and the units of work it expands to."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from delbench.errors import DelbenchError


def default_cache() -> Path:
    """Where datasets and stage outputs are cached across runs: $DELBENCH_CACHE or ~/.cache/delbench."""
    env = os.environ.get("DELBENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "delbench"


def default_jobs(jobs: int | None) -> int:
    """One worker per CPU (each runs single-threaded, so results do not depend on it), at most 4."""
    if jobs is not None:
        if jobs < 1:
            raise DelbenchError(f"--jobs {jobs}: give a number of worker processes >= 1")
        return jobs
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class CompareConfig:
    selectors: tuple[str, ...]
    protocol: str = "smoke"
    out: Path | None = None
    data: Path | None = None
    ratios: tuple[float, ...] | None = None
    seeds: tuple[int, ...] | None = None
    tasks: tuple[str, ...] | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    cache: Path | None = None
    jobs: int = 1
    cross: bool = False

    def run_dir(self) -> Path:
        return self.out or Path("runs") / f"{Path(self.protocol).stem}-{'-'.join(self.selectors)}"

    def cache_dir(self) -> Path:
        return self.cache or default_cache()


@dataclass(frozen=True)
class Unit:
    """One pre-train + evaluate job: a subset (None = no pre-training) under one seed."""

    selector: str
    ratio_target: float
    ratio_achieved: float
    seed: int
    subset: Path | None  # subset.npy, or None for the whole pool (full) or no pre-training (scratch)
    pretrain: bool
    select_seconds: float
    kept_bytes: int


def split_params(items: dict[str, Any], selectors: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``{"meddel.k": 50}`` -> ``{"meddel": {"k": 50}}``; a parameter for a selector not in the run is an error."""
    out: dict[str, dict[str, Any]] = {s: {} for s in selectors}
    for key, value in items.items():
        sel, dot, name = key.partition(".")
        if not dot or not name:
            raise DelbenchError(f"--param {key}={value!r}: write it as SELECTOR.KEY=VALUE (e.g. meddel.k=100)")
        if sel not in out:
            raise DelbenchError(f"--param {key}: selector {sel!r} is not part of this run ({', '.join(selectors)})")
        out[sel][name] = value
    return out


def parse_ratios(text: str | None) -> tuple[float, ...] | None:
    if not text:
        return None
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise DelbenchError(f"--ratios {text!r}: give comma-separated fractions, e.g. 0.05,0.2,0.5") from None
    bad = [v for v in values if not 0 < v <= 1]
    if bad:
        raise DelbenchError(f"--ratios: {bad[0]:g} is not in (0, 1]")
    return values


def parse_seeds(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise DelbenchError(f"--seeds {text!r}: give comma-separated integers, e.g. 0,1,2") from None
