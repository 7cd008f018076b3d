"""Per-centre looks: colour calibration, field-of-view shape, vignetting, sensor noise, on-screen overlays.

Styles are fixed tables, not drawn from the seed, so a centre looks the same in every generated root.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CenterStyle:
    name: str
    gains: tuple[float, float, float]  # white balance of the processor
    saturation: float
    gamma: float
    fov: str  # "octagon" (circle cut by the frame), "rounded" (rounded rectangle), "circle", "full"
    fov_radius: float  # in half-widths
    vignette: float
    noise: float  # sensor noise std in [0, 1] units
    overlay: str  # "box" (text + black box lower left), "text", "bar", "none"


CENTERS: dict[str, CenterStyle] = {
    s.name: s
    for s in (
        CenterStyle("c1", (1.00, 0.93, 0.88), 1.15, 0.95, "octagon", 1.15, 0.30, 0.010, "box"),
        CenterStyle("c2", (1.00, 0.90, 0.82), 1.10, 1.05, "rounded", 0.92, 0.35, 0.015, "text"),
        CenterStyle("c3", (1.00, 0.85, 0.80), 1.05, 0.90, "circle", 0.98, 0.45, 0.020, "text"),
        CenterStyle("c4", (0.95, 0.95, 0.95), 0.90, 1.00, "octagon", 1.25, 0.25, 0.008, "bar"),
        CenterStyle("c5", (1.00, 0.80, 0.62), 1.30, 1.10, "full", 1.00, 0.50, 0.025, "none"),
        CenterStyle("c6", (0.92, 0.86, 0.92), 1.00, 0.85, "circle", 0.90, 0.20, 0.012, "box"),
        CenterStyle("c7", (1.00, 0.90, 0.78), 1.10, 1.00, "rounded", 1.02, 0.40, 0.030, "text"),
        CenterStyle("c8", (0.98, 0.84, 0.84), 1.25, 0.95, "octagon", 1.08, 0.30, 0.018, "bar"),
    )
}


def fov_mask(style: CenterStyle, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Soft mask of the lit field of view, 1 inside."""
    w = X.shape[1]
    soft = 2.5 / w
    r = np.sqrt(X * X + Y * Y)
    if style.fov == "full":
        return np.ones_like(X)
    if style.fov == "rounded":
        ymax = np.abs(Y).max()
        ax, ay = np.abs(X) / style.fov_radius, np.abs(Y) / (ymax * style.fov_radius)
        # a superellipse: the rounded-rectangle window of many colonoscopy processors
        d = (ax**6 + ay**6) ** (1 / 6)
        return np.clip((1 - d) / soft + 0.5, 0, 1)
    inside = np.clip((style.fov_radius - r) / soft + 0.5, 0, 1)
    if style.fov == "octagon":
        cut = np.clip((1.35 - (np.abs(X) + np.abs(Y)) / np.sqrt(2) * 1.25) / soft + 0.5, 0, 1)
        inside = inside * cut
    return inside


_GLYPHS = (np.random.default_rng(20240117).random((48, 5, 3)) < 0.5).astype(np.float32)


def text_mask(rng: np.random.Generator, lines: int, chars: int, scale: int) -> np.ndarray:
    """Pseudo-text: rows of glyph-like 5x3 bitmaps, as a float mask."""
    idx = rng.integers(0, len(_GLYPHS), (lines, chars))
    blank = rng.random((lines, chars)) < 0.18
    g = _GLYPHS[idx] * (~blank)[..., None, None]
    g = np.pad(g, ((0, 0), (0, 0), (0, 2), (0, 1)))
    rows = g.transpose(0, 2, 1, 3).reshape(lines * 7, chars * 4)
    return np.kron(rows, np.ones((scale, scale), dtype=np.float32))


def paste(img: np.ndarray, mask: np.ndarray, y: int, x: int, color: tuple[float, float, float]) -> None:
    """Draw ``mask`` in ``color`` onto ``img`` at (y, x), clipped to the image, in place."""
    h, w = img.shape[:2]
    mh, mw = min(mask.shape[0], h - y), min(mask.shape[1], w - x)
    if mh <= 0 or mw <= 0:
        return
    m = mask[:mh, :mw, None]
    img[y : y + mh, x : x + mw] = img[y : y + mh, x : x + mw] * (1 - m) + m * np.asarray(color, np.float32)


@functools.lru_cache(maxsize=64)
def overlay_layer(style: CenterStyle, seed: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """The processor's on-screen display as (alpha, rgb), identical across a video (``seed`` is per video)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w, 1), np.float32)
    scale = max(1, w // 128)
    lines = 2 if w < 100 else 4

    def put(mask: np.ndarray, y: int, x: int, color: tuple[float, float, float]) -> None:
        paste(img, mask, y, x, color)
        paste(alpha, mask, y, x, (1.0,))

    if style.overlay in ("box", "text"):
        put(text_mask(rng, lines, int(rng.integers(3, 7)), scale), scale, scale, (0.92, 0.92, 0.92))
    if style.overlay == "box":
        bh, bw = int(h * 0.28), int(w * 0.25)
        alpha[h - bh :, :bw] = 1.0
        put(np.ones((scale * 2, bw // 3), np.float32), h - bh // 2, bw // 5, (0.2, 0.75, 0.3))
    if style.overlay == "bar":
        alpha[h - 7 * scale :, :] = 1.0
        img[h - 7 * scale :, :] = 0.05
        put(text_mask(rng, 1, w // (5 * scale) - 2, scale), h - 7 * scale, 2 * scale, (0.85, 0.85, 0.2))
    if style.overlay == "text":
        put(text_mask(rng, 2, 4, scale), h - 15 * scale, w - 17 * scale, (0.9, 0.9, 0.9))
    img.setflags(write=False)
    alpha.setflags(write=False)
    return alpha, img


def apply_style(
    rgb: np.ndarray, style: CenterStyle, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, overlay_seed: int | None
) -> np.ndarray:
    """Turn rendered linear RGB into the centre's display image, float in [0, 1]."""
    out = rgb * np.asarray(style.gains, np.float32)
    lum = out.mean(axis=-1, keepdims=True)
    out = lum + style.saturation * (out - lum)
    out = out * (1 - style.vignette * np.clip(X * X + Y * Y, 0, 2)[..., None] * 0.3)
    # a soft shoulder instead of a hard clip keeps highlights white without banding
    out = np.where(out > 0.8, 0.8 + 0.2 * np.tanh((out - 0.8) / 0.2), out)
    out = np.clip(out, 0, 1) ** (style.gamma / 1.25)
    out = out + style.noise * rng.standard_normal(out.shape, dtype=np.float32)
    out = out * fov_mask(style, X, Y)[..., None]
    out = np.clip(out, 0, 1).astype(np.float32)
    if overlay_seed is not None and style.overlay != "none":
        alpha, layer = overlay_layer(style, overlay_seed, *out.shape[:2])
        out = out * (1 - alpha) + layer
    return out
