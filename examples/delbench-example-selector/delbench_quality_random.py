"""``quality-random``: drop blurred, badly exposed and low-information images, then sample at random.

An image-quality filter in the spirit of CleanVision, computed on pixels (so it needs the pool
images: ``delbench select quality-random --pool manifest.parquet ...``):

* blur: the spread of the Laplacian relative to the spread of the grey levels (a contrast-free
  measure of how much fine detail is left);
* dark / bright: the 99th / 50th brightness percentile (an image whose brightest pixels are still
  dark is under-exposed; one whose median pixel is near white is over-exposed);
* low information: the entropy of the grey-level histogram, in bits / 8.

All are measured on the central part of the image (``center``, half of each side by default):
endoscopy frames have a black border outside the circular field of view, whose edge would read as
detail and whose pixels as under-exposure.

The worst items are removed first, each under the first issue it fails in the order dark, bright,
low-information, blur (bad exposure also flattens the histogram and the detail, so it explains them). If fewer than
``round(R * N)`` items are clean, the least-bad flagged ones fill the gap; if more are clean, a seeded
random sample of them is kept and the rest are marked ``sampled-out``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from delbench import hookimpl
from delbench.errors import DelbenchError
from delbench.selection import Selection, SelectionRequest

__version__ = "0.1.0"

ISSUES: tuple[str, ...] = ("dark", "bright", "low-information", "blur")


def _grey(image: np.ndarray, max_side: int, center: float = 1.0) -> np.ndarray:
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 3:
        img = img[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32) if img.shape[2] >= 3 else img[..., 0]
    img = img / 255.0
    if center < 1.0:
        h, w = img.shape
        dy, dx = int(round(h * (1 - center) / 2)), int(round(w * (1 - center) / 2))
        img = img[dy : h - dy, dx : w - dx]
    # Block-average large images so the blur measure does not depend on resolution.
    f = int(np.ceil(max(img.shape) / max_side))
    if f > 1:
        h, w = (img.shape[0] // f) * f, (img.shape[1] // f) * f
        img = img[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3))
    return img


def image_quality(image: np.ndarray, max_side: int = 256, center: float = 0.5) -> dict[str, float]:
    """Quality measures of one HxWx3 uint8 image: sharpness, p99/p50 brightness and entropy in [0, 1]."""
    g = _grey(image, max_side, center)
    lap = 4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
    sharpness = float(lap.std() / (g.std() + 1e-3)) if lap.size else 0.0
    hist = np.bincount(np.clip(g * 255 + 0.5, 0, 255).astype(np.int64).ravel(), minlength=256)
    p = hist[hist > 0] / g.size
    entropy = float(-(p * np.log2(p)).sum() / 8.0)
    # Percentiles from the histogram: exact to one grey level, and far cheaper than sorting pixels.
    cdf = np.cumsum(hist) / g.size
    p50, p99 = np.searchsorted(cdf, [0.5, 0.99]) / 255.0
    return {"sharpness": sharpness, "p99": float(p99), "p50": float(p50), "entropy": entropy}


class QualityRandomSelector:
    """Remove blurred, dark, over-exposed and low-information images first, then sample at random."""

    name = "quality-random"

    def __init__(
        self,
        blur_threshold: float = 0.4,
        dark_threshold: float = 0.25,
        bright_threshold: float = 0.7,
        entropy_threshold: float = 0.3,
        center: float = 0.5,
        max_side: int = 256,
    ) -> None:
        self.thresholds = {
            "blur": float(blur_threshold),
            "dark": float(dark_threshold),
            "bright": float(bright_threshold),
            "low-information": float(entropy_threshold),
        }
        if not 0.0 < self.thresholds["dark"] < self.thresholds["bright"] < 1.0:
            raise DelbenchError(
                "quality-random: need 0 < dark_threshold < bright_threshold < 1 "
                f"(got {dark_threshold} and {bright_threshold})"
            )
        if self.thresholds["blur"] <= 0 or not 0.0 < self.thresholds["low-information"] <= 1.0:
            raise DelbenchError(
                f"quality-random: need blur_threshold > 0 and 0 < entropy_threshold <= 1 "
                f"(got {blur_threshold} and {entropy_threshold})"
            )
        if not 0.0 < float(center) <= 1.0:
            raise DelbenchError(f"quality-random: center is the measured fraction of each side, in (0, 1] (got {center})")
        self.center = float(center)
        if int(max_side) < 8:
            raise DelbenchError(f"quality-random: max_side must be at least 8 pixels (got {max_side})")
        self.max_side = int(max_side)

    def badness(self, request: SelectionRequest) -> tuple[np.ndarray, np.ndarray]:
        """Per item: how far past its worst threshold it is (0 = clean, up to 1) and its primary issue."""
        if request.load_images is None:
            raise DelbenchError(
                "quality-random needs the pool images: pass --pool manifest.parquet "
                "(the manifest of the dataset root the embeddings came from)"
            )
        t = self.thresholds
        n = request.n
        scores = np.zeros((n, len(ISSUES)), dtype=np.float64)
        step = max(1, n // 20)
        for i, image in enumerate(request.load_images(range(n))):
            q = image_quality(image, self.max_side, self.center)
            scores[i] = (
                (t["dark"] - q["p99"]) / t["dark"],
                (q["p50"] - t["bright"]) / (1.0 - t["bright"]),
                (t["low-information"] - q["entropy"]) / t["low-information"],
                (t["blur"] - q["sharpness"]) / t["blur"],
            )
            if i % step == 0:
                request.progress(i / n, "scoring image quality")
        request.progress(1.0, "scoring image quality")
        primary = (scores > 0).argmax(axis=1)
        return np.clip(scores.max(axis=1), 0.0, None), primary

    def select(self, request: SelectionRequest) -> Selection:
        return self.select_many(request, [request.ratio])[request.ratio]

    def select_many(self, request: SelectionRequest, ratios: Sequence[float]) -> dict[float, Selection]:
        """One pass over the images answers every ratio (the scores do not depend on the ratio)."""
        from dataclasses import replace

        bad, primary = self.badness(request)
        return {r: self._pick(replace(request, ratio=r), bad, primary) for r in ratios}

    def _pick(self, request: SelectionRequest, bad: np.ndarray, primary: np.ndarray) -> Selection:
        n, k = request.n, request.target_count
        flagged = np.flatnonzero(bad > 0)
        # Worst first; ties broken by index so the order is the same on every machine.
        order = flagged[np.lexsort((flagged, -bad[flagged]))]
        dropped = order[: n - k]
        candidates = np.setdiff1d(np.arange(n), dropped)
        kept = np.sort(request.rng().choice(candidates, size=k, replace=False))
        reasons: dict[str, Any] = {issue: dropped[primary[dropped] == j] for j, issue in enumerate(ISSUES)}
        reasons["sampled-out"] = np.setdiff1d(candidates, kept)
        info = {
            "thresholds": dict(self.thresholds),
            "center": self.center,
            "max_side": self.max_side,
            "flagged": int(flagged.size),
            "flagged_kept": int(flagged.size - dropped.size),
        }
        return Selection(indices=kept, reasons=reasons, info=info)


@hookimpl
def delbench_register_selectors(register):
    register(QualityRandomSelector)
