"""``coreset``: k-center greedy (Sener & Savarese 2018) on the embeddings.

Repeatedly add the item farthest (Euclidean) from the chosen set, starting from a seeded random item.
The answer is a 2-approximation of the optimal covering radius. Memory is O(N): only the running
min squared distance of every item to the chosen set is kept. For L2-normalised rows
``|x - c|^2 = 2 - 2 x.c``, so each chosen centre costs one matrix-vector product over the embeddings —
one pass over memory, which bounds the speed (``benchmarks/bench_select.py`` measures it).

``approx_dim`` > 0 runs the same greedy on a seeded Gaussian random projection to that many
dimensions (Johnson-Lindenstrauss), cutting the memory traffic per centre by D / approx_dim; the
info then says ``mode: "random-projection"`` and reports the covering radius both in the projected
space and, measured exactly, in the original one.
"""
from __future__ import annotations

import numpy as np

from delbench import hookimpl
from delbench.errors import DelbenchError
from delbench.selection import Selection, SelectionRequest

_BLOCK = 16384


def _project(x: np.ndarray, dim: int, seed: int) -> np.ndarray:
    """Seeded Gaussian projection to ``dim`` columns, computed in row blocks."""
    rng = np.random.default_rng([seed, 7])
    proj = (rng.standard_normal((x.shape[1], dim)) / np.sqrt(dim)).astype(np.float32)
    out = np.empty((x.shape[0], dim), dtype=np.float32)
    for s in range(0, x.shape[0], _BLOCK):
        out[s : s + _BLOCK] = x[s : s + _BLOCK] @ proj
    return out


def covering_radius(x: np.ndarray, centres: np.ndarray, block: int = 8192) -> float:
    """max over items of the Euclidean distance to the nearest of ``centres`` (rows of unit-norm ``x``)."""
    c = np.ascontiguousarray(x[centres].T)
    worst = 0.0
    for s in range(0, x.shape[0], block):
        best = (x[s : s + block] @ c).max(axis=1)
        worst = max(worst, float(np.maximum(2.0 - 2.0 * best.astype(np.float64), 0.0).max()))
    return float(np.sqrt(worst))


def k_center_greedy(x: np.ndarray, count: int, first: int, sq_norms: np.ndarray | None = None,
                    progress=None) -> tuple[np.ndarray, float]:
    """Greedy k-center on rows of ``x``: ``count`` centres and the covering radius they reach.

    Without ``sq_norms`` rows are unit-norm, so the farthest item is the one whose best similarity to
    a chosen centre is lowest: only a running max of ``x . c`` is kept (one GEMV and one pass over N
    floats per centre). With ``sq_norms`` (projected rows) ``|x - c|^2 = |x|^2 + |c|^2 - 2 x.c``.
    """
    n = x.shape[0]
    chosen = np.empty(count, dtype=np.int64)
    unit = sq_norms is None
    # unit: running max similarity (farthest = lowest); else: running min squared distance, negated.
    best = np.full(n, -np.inf, dtype=np.float32)
    d = np.empty(n, dtype=np.float32)
    j = int(first)
    step = max(1, count // 100)
    for i in range(count):
        chosen[i] = j
        c = np.array(x[j])  # a private copy, so the GEMV never aliases the matrix
        np.dot(x, c, out=d)
        if not unit:
            d *= 2.0
            d -= sq_norms
            d -= sq_norms[j]
        np.maximum(best, d, out=best)
        # A chosen item is never picked again, even among exact duplicates that round to distance > 0.
        best[j] = np.inf
        j = int(np.argmin(best))
        if progress is not None and i % step == 0:
            progress(i / count, "k-center greedy")
    rest = best[best < np.inf]
    if not rest.size:
        return chosen, 0.0
    worst = 2.0 - 2.0 * float(rest.min()) if unit else -float(rest.min())
    return chosen, float(np.sqrt(max(worst, 0.0)))


class KCenterGreedy:
    """k-center greedy coreset: repeatedly keep the item farthest from those already kept."""

    name = "coreset"

    def __init__(self, approx_dim: int = 0) -> None:
        if int(approx_dim) < 0:
            raise DelbenchError(f"coreset: approx_dim={approx_dim!r} must be 0 (exact) or a projected dimension > 0")
        self.approx_dim = int(approx_dim)

    def select(self, request: SelectionRequest) -> Selection:
        x = request.embeddings
        n, d = x.shape
        count = request.target_count
        first = int(request.rng().integers(n))
        info: dict = {"first_centre": first}
        if self.approx_dim and self.approx_dim < d:
            xp = _project(x, self.approx_dim, request.seed)
            sq = np.einsum("ij,ij->i", xp, xp)
            chosen, radius_proj = k_center_greedy(xp, count, first, sq, progress=request.progress)
            del xp
            info.update(mode="random-projection", approx_dim=self.approx_dim, covering_radius_projected=radius_proj,
                        covering_radius=covering_radius(x, chosen))
        else:
            chosen, radius = k_center_greedy(x, count, first, progress=request.progress)
            info.update(mode="exact", covering_radius=radius)
        request.progress(1.0, "done")
        return Selection(indices=chosen, info=info)


@hookimpl
def delbench_register_selectors(register):
    register(KCenterGreedy)
