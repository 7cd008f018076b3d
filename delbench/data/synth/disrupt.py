"""Disruptive-frame effects. Scene effects act on the rendered light (before the centre's processing);
screen effects replace or cover the displayed frame (after it)."""
from __future__ import annotations

import numpy as np

from delbench.data.synth.centers import paste, text_mask
from delbench.data.synth.noise import blur, spectral_noise

SCENE = ("blur", "defocus", "dark", "bright", "bubbles")
SCREEN = ("overlay", "blank", "pattern")


def motion_blur(img: np.ndarray, direction: np.ndarray, length: float) -> np.ndarray:
    """Average of shifted copies along ``direction`` (pixels), as a moving scope smears the frame."""
    d = direction / (np.linalg.norm(direction) + 1e-9)
    steps = max(3, int(length))
    pad = int(np.ceil(length / 2)) + 1
    p = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    h, w = img.shape[:2]
    acc = np.zeros_like(img)
    for s in np.linspace(-length / 2, length / 2, steps):
        dy, dx = int(round(s * d[1])), int(round(s * d[0]))
        acc += p[pad + dy : pad + dy + h, pad + dx : pad + dx + w]
    return acc / steps


def bubbles(img: np.ndarray, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Air bubbles (bright rims, glints) and, often, a patch of yellow-brown fluid."""
    out = img.copy()
    h, w = img.shape[:2]
    if rng.random() < 0.45:
        field = spectral_noise(rng, (h, w), [(1.0, 4.0, 2.0)])[0]
        patch = np.clip((field - rng.uniform(0.0, 0.8)) / 0.3, 0, 1)[..., None]
        fluid = np.array([0.75, 0.58, 0.12], np.float32) * (0.6 + 0.4 * img.mean(axis=-1, keepdims=True) / (img.mean() + 1e-6))
        out = out * (1 - 0.7 * patch) + fluid * 0.7 * patch
    cx0, cy0 = rng.uniform(-0.5, 0.5, 2)
    for _ in range(int(rng.integers(6, 30))):
        cx, cy = cx0 + rng.normal(0, 0.35), cy0 + rng.normal(0, 0.35)
        rad = rng.uniform(0.03, 0.22)
        d = np.sqrt((X - cx) ** 2 + (Y - cy) ** 2) / rad
        rim = np.exp(-(((d - 1) / 0.12) ** 2))
        inside = (d < 1)[..., None]
        glint = np.exp(-(((X - cx + 0.4 * rad) ** 2 + (Y - cy + 0.4 * rad) ** 2) / (0.15 * rad) ** 2))
        out = np.where(inside, out * 0.85 + 0.12, out)
        out = out + (0.7 * rim + 1.5 * glint)[..., None] * np.array([1.0, 1.0, 1.0], np.float32)
    return out


def scene_effect(kind: str, img: np.ndarray, X: np.ndarray, Y: np.ndarray, motion: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    w = img.shape[1]
    if kind == "blur":
        direction = motion if np.linalg.norm(motion) > 1e-4 else rng.normal(0, 1, 2)
        return motion_blur(img, direction, rng.uniform(0.08, 0.2) * w)
    if kind == "defocus":
        return blur(img, rng.uniform(0.03, 0.07) * w)
    if kind == "dark":
        return img * rng.uniform(0.05, 0.2)
    if kind == "bright":
        # the light source saturates when the tip touches the wall
        return img * rng.uniform(3.0, 7.0) + rng.uniform(0.1, 0.4)
    if kind == "bubbles":
        return bubbles(img, X, Y, rng)
    return img


def color_bars(h: int, w: int) -> np.ndarray:
    """A processor test pattern: the seven SMPTE bars over a grey ramp."""
    bars = np.array(
        [[0.75, 0.75, 0.75], [0.75, 0.75, 0], [0, 0.75, 0.75], [0, 0.75, 0], [0.75, 0, 0.75], [0.75, 0, 0], [0, 0, 0.75]],
        np.float32,
    )
    cols = np.minimum((np.arange(w) * 7) // w, 6)
    img = np.broadcast_to(bars[cols][None], (h, w, 3)).copy()
    split = int(h * 0.72)
    ramp = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    img[split:] = ramp
    return img


def screen_effect(kind: str, img: np.ndarray, rng: np.random.Generator, center_index: int) -> np.ndarray:
    h, w = img.shape[:2]
    scale = max(1, w // 96)
    if kind == "overlay":
        out = img.copy()
        # menus and reports drawn over the live image
        out[int(h * rng.uniform(0.1, 0.3)) : int(h * rng.uniform(0.65, 0.95)), int(w * rng.uniform(0.05, 0.3)) : int(w * rng.uniform(0.7, 0.97))] *= 0.25
        lines = max(3, h // (8 * scale))
        paste(out, text_mask(rng, lines, w // (4 * scale) - 3, scale), int(h * 0.12), int(w * 0.08), (0.95, 0.95, 0.95))
        return out
    if kind == "blank":
        tone = [(0.0, 0.0, 0.0), (0.02, 0.02, 0.12), (0.3, 0.3, 0.3)][center_index % 3]
        out = np.empty_like(img)
        out[:] = np.asarray(tone, np.float32) + rng.uniform(0, 0.03)
        if rng.random() < 0.5:
            paste(out, text_mask(rng, 2, 10, scale), h // 2 - 6 * scale, w // 4, (0.85, 0.85, 0.85))
        return out
    if kind == "pattern":
        return color_bars(h, w)
    return img
