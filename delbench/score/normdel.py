"""NormDEL, the benchmark's score: accuracy discounted by how much of the pool was kept.

DEL = mIoU * exp(-alpha * R) and NormDEL = 1 / (1 + exp(-DEL)), with mIoU and the retained fraction R
both in [0, 1]. R = 0 is the ``scratch`` reference (no pre-training data). Scores are only comparable at
equal alpha and on the same task.
"""
from __future__ import annotations

from typing import Union

import numpy as np

from delbench.errors import DelbenchError

__all__ = ["del_score", "normdel"]

ArrayLike = Union[float, "np.ndarray", list]


def _check(miou: ArrayLike, ratio: ArrayLike, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(miou, dtype=np.float64)
    r = np.asarray(ratio, dtype=np.float64)
    if not np.all(np.isfinite(m)) or np.any((m < 0) | (m > 1)):
        raise DelbenchError(
            f"miou must lie in [0, 1], got {m.min() if m.size else m!r}..{m.max() if m.size else m!r}; "
            "pass mIoU as a fraction, not a percentage"
        )
    if not np.all(np.isfinite(r)) or np.any((r < 0) | (r > 1)):
        raise DelbenchError(f"ratio must lie in [0, 1] (fraction of the pool kept), got {ratio!r}")
    if not np.isfinite(alpha) or alpha <= 0:
        raise DelbenchError(f"alpha must be > 0, got {alpha!r}")
    return m, r


def del_score(miou: ArrayLike, ratio: ArrayLike, alpha: float = 1.0) -> np.ndarray | float:
    """DEL = mIoU * exp(-alpha * R), vectorised over arrays (broadcasting)."""
    m, r = _check(miou, ratio, alpha)
    out = m * np.exp(-alpha * r)
    return float(out) if out.ndim == 0 else out


def normdel(miou: ArrayLike, ratio: ArrayLike, alpha: float = 1.0) -> np.ndarray | float:
    """NormDEL = 1 / (1 + exp(-DEL)), in [0.5, 0.5 + ...) for mIoU in [0, 1]; report x100 in tables."""
    d = np.asarray(del_score(miou, ratio, alpha))
    out = 1.0 / (1.0 + np.exp(-d))
    return float(out) if out.ndim == 0 else out
