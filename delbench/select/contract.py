"""The selector contract: what a selector receives, what it returns, and what the harness checks.

A selector owns one decision, which pool items to keep. The harness validates the answer, sorts it,
records the achieved ratio and writes the subset (see ``delbench.select.subset``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from delbench.errors import DelbenchError
from delbench.progress import Progress, no_progress

if TYPE_CHECKING:
    import pandas as pd

ImageLoader = Callable[[Sequence[int]], Iterator[np.ndarray]]

__all__ = [
    "COUNT_TOLERANCE", "Selection", "SelectionRequest", "Selector", "SelectsMany", "check_ratio", "run_selector",
    "target_count", "validate_selection",
]

# A selector may miss round(R*N) by at most this fraction (and always by at most one item).
COUNT_TOLERANCE = 0.01


@dataclass(frozen=True)
class SelectionRequest:
    """Everything a selector may look at.

    ``embeddings`` is a read-only float32 [N, D] matrix, L2-normalised, one row per pool index.
    ``pool`` holds the pool's manifest rows in the same order (or None when selecting from embeddings
    alone). ``load_images(indices)`` yields HxWx3 uint8 arrays for pixel-level methods (None when no
    images are available). ``progress(fraction, message)`` reports progress in [0, 1].

    ``badness`` is set inside a pipeline (``quality>meddel``): a read-only float64 [N], how bad each
    item looked to the screens before this stage (higher worse; None outside a pipeline or when no
    screen scored). A stage that drops one of two near-duplicates may use it to keep the better one.
    """

    ratio: float
    seed: int
    embeddings: np.ndarray
    pool: "pd.DataFrame | None" = None
    load_images: ImageLoader | None = None
    progress: Progress = no_progress
    badness: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def target_count(self) -> int:
        return target_count(self.ratio, self.n)

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)


@dataclass
class Selection:
    """A selector's answer: pool ``indices`` to keep.

    ``reasons`` optionally maps a removal reason (``outlier``, ``duplicate``, ...) to the pool indices
    removed for it. ``info`` records the parameters actually used (a calibrated threshold, say).
    A screen (a pipeline stage's ``screen``) may also give ``badness``: one float per item of its
    request, higher worse; the pipeline passes it to the later stages as ``request.badness``.
    """

    indices: np.ndarray
    reasons: Mapping[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    badness: np.ndarray | None = None


@runtime_checkable
class Selector(Protocol):
    name: str

    def select(self, request: SelectionRequest) -> Selection: ...


class SelectsMany:
    """Base for a selector that answers every ratio from one pass: define ``select_many`` and
    ``select`` is its one-ratio case, so the two agree by construction (``check_selector`` checks it)."""

    def select(self, request: SelectionRequest) -> Selection:
        return self.select_many(request, [request.ratio])[request.ratio]  # type: ignore[attr-defined]


def target_count(ratio: float, n: int) -> int:
    """round(R * N), at least one item."""
    return max(1, int(round(ratio * n)))


def check_ratio(ratio: float) -> float:
    r = float(ratio)
    if not (0.0 < r <= 1.0):
        raise DelbenchError(f"ratio must be in (0, 1] (fraction of the pool to keep), got {ratio!r}")
    return r


def validate_selection(selector_name: str, selection: Any, ratio: float, n: int) -> Selection:
    """Check a selector's answer and return it with ``indices`` sorted int64; raise one clear line if bad."""
    where = f"selector {selector_name!r}"
    if not isinstance(selection, Selection):
        raise DelbenchError(f"{where} returned {type(selection).__name__}, expected delbench.selection.Selection")
    idx = np.asarray(selection.indices)
    if idx.ndim != 1:
        raise DelbenchError(f"{where} returned indices of shape {idx.shape}, expected a 1-D array")
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise DelbenchError(f"{where} returned indices of dtype {idx.dtype}, expected integers (pool row numbers)")
    idx = idx.astype(np.int64, copy=False)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)][0]
        raise DelbenchError(f"{where} returned index {int(bad)}, outside the pool [0, {n})")
    idx = np.sort(idx)
    dup = idx[1:][idx[1:] == idx[:-1]]
    if dup.size:
        raise DelbenchError(f"{where} returned index {int(dup[0])} more than once ({dup.size} duplicates)")
    want = target_count(ratio, n)
    tol = max(1.0, COUNT_TOLERANCE * want)
    if abs(idx.size - want) > tol:
        raise DelbenchError(
            f"{where} kept {idx.size} items at ratio {ratio:g} of N={n}; expected {want} "
            f"(round(R*N), within 1%)"
        )
    reasons = {}
    for reason, removed in (selection.reasons or {}).items():
        r = np.asarray(removed)
        if r.size and not np.issubdtype(r.dtype, np.integer):
            raise DelbenchError(f"{where} returned reasons[{reason!r}] of dtype {r.dtype}, expected integers")
        reasons[str(reason)] = np.sort(r.astype(np.int64, copy=False))
    return Selection(indices=idx, reasons=reasons, info=dict(selection.info or {}))


def run_selector(
    selector: Any,
    request: SelectionRequest,
    *,
    ratios: Iterable[float] | None = None,
) -> dict[float, Selection]:
    """Run ``selector`` for one or several ratios and validate each answer.

    A selector that defines ``select_many(request, ratios) -> {ratio: Selection}`` answers every ratio
    of a study from one pass (thresholds as quantiles of per-item scores); otherwise ``select`` runs
    once per ratio.
    """
    from dataclasses import replace

    wanted = [check_ratio(r) for r in (ratios if ratios is not None else [request.ratio])]
    name = getattr(selector, "name", type(selector).__name__)
    if len(wanted) > 1 and hasattr(selector, "select_many"):
        answers = selector.select_many(request, wanted)
        missing = [r for r in wanted if r not in answers]
        if missing:
            raise DelbenchError(f"selector {name!r}: select_many gave no answer for ratio {missing[0]:g}")
    else:
        answers = {r: selector.select(replace(request, ratio=r)) for r in wanted}
    return {r: validate_selection(name, answers[r], r, request.n) for r in wanted}
