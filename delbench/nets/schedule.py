"""Learning-rate schedule on optimiser steps: linear warmup, then cosine decay to ``min_frac``."""
from __future__ import annotations

import math


def lr_at(step: int, total: int, peak: float, warmup_frac: float, min_frac: float = 0.0) -> float:
    """Learning rate for 0-based ``step`` of ``total``; defined on steps so every ratio gets the same curve."""
    warm = int(round(warmup_frac * total))
    if warm and step < warm:
        return peak * (step + 1) / warm
    span = max(1, total - warm)
    t = min(1.0, (step - warm) / span)
    floor = peak * min_frac
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * t))


def set_lr(optimizer: object, lr: float) -> None:
    for group in optimizer.param_groups:  # type: ignore[attr-defined]
        group["lr"] = lr
