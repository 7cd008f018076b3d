"""Image effects for ``delbench data plant``: disruptions and near-duplicate copies of a real frame.

Every effect takes an RGB uint8 array of any size and a NumPy generator and returns an RGB uint8
array of the same size, so a planted frame replaces its source one for one. Sizes (blur lengths,
bubble radii, text) are relative to the frame, so a 64-pixel frame and a 1280-pixel one look alike.
The disruptions reuse the synthetic DataDEL's effects where they fit, so both kinds of pool show the
same artefacts.
"""
from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

from delbench.data.synth.disrupt import color_bars, motion_blur, screen_effect
from delbench.data.synth.noise import grid, spectral_noise

if TYPE_CHECKING:
    from PIL import Image

DISRUPTIONS = ("blur", "defocus", "dark", "bright", "bubbles", "overlay", "blank", "pattern", "jpeg")
COPY_TRANSFORMS = ("rotate", "crop", "brightness", "jpeg")

# Heavy JPEG leaves visible 8x8 blocks and colour bleeding; a copy's re-encoding must not.
DISRUPT_JPEG_QUALITY = (3, 10)
COPY_JPEG_QUALITY = (60, 90)
COPY_KEEP = (0.90, 0.97)  # share of each side a crop keeps
COPY_ANGLE = (1.0, 4.0)  # degrees, either way
COPY_GAIN = (0.05, 0.15)  # brightness change, either way


def disrupt(kind: str, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``img`` with the disruption ``kind`` (one of ``DISRUPTIONS``) applied."""
    if kind not in DISRUPTIONS:
        raise ValueError(f"unknown disruption {kind!r}")
    h, w = img.shape[:2]
    if kind == "jpeg":
        return _jpeg(img, int(rng.integers(DISRUPT_JPEG_QUALITY[0], DISRUPT_JPEG_QUALITY[1] + 1)))
    if kind == "defocus":
        from PIL import Image, ImageFilter

        radius = float(rng.uniform(0.02, 0.05)) * min(h, w)
        return np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(radius)))
    f = img.astype(np.float32) / 255.0
    if kind == "blur":
        f = motion_blur(f, rng.normal(0, 1, 2), float(rng.uniform(0.06, 0.15)) * w)
    elif kind == "dark":
        # a real under-exposed frame keeps its sensor noise, which gain no longer hides
        f = f * float(rng.uniform(0.04, 0.15)) + rng.normal(0, 0.008, f.shape).astype(np.float32)
    elif kind == "bright":
        f = f * float(rng.uniform(2.5, 5.0)) + float(rng.uniform(0.1, 0.35))
    elif kind == "bubbles":
        f = bubbles(f, rng)
    elif kind in ("overlay", "blank"):
        f = screen_effect(kind, f, rng, int(rng.integers(0, 3)))
    elif kind == "pattern":
        f = color_bars(h, w)
    return to_uint8(f)


def near_copy(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, tuple[str, ...]]:
    """A near-duplicate of ``img`` and the transforms used: a random non-empty subset of
    ``COPY_TRANSFORMS``, applied in that order (geometry first, re-encoding last, as a copy that was
    re-framed, edited and saved again would be)."""
    from PIL import Image, ImageEnhance

    picked = [t for t in COPY_TRANSFORMS if rng.random() < 0.5]
    if not picked:
        picked = [COPY_TRANSFORMS[int(rng.integers(len(COPY_TRANSFORMS)))]]
    h, w = img.shape[:2]
    im = Image.fromarray(img)
    for t in picked:
        if t == "rotate":
            im = _rotate(im, float(rng.uniform(*COPY_ANGLE)) * float(rng.choice([-1.0, 1.0])))
        elif t == "crop":
            keep = rng.uniform(*COPY_KEEP, 2)
            cw, ch = min(w - 1, int(round(w * keep[0]))), min(h - 1, int(round(h * keep[1])))
            x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            im = im.crop((x0, y0, x0 + max(cw, 1), y0 + max(ch, 1))).resize((w, h), Image.Resampling.BICUBIC)
        elif t == "brightness":
            gain = 1.0 + float(rng.uniform(*COPY_GAIN)) * float(rng.choice([-1.0, 1.0]))
            im = ImageEnhance.Brightness(im).enhance(gain)
        elif t == "jpeg":
            im = Image.fromarray(_jpeg(np.asarray(im), int(rng.integers(COPY_JPEG_QUALITY[0], COPY_JPEG_QUALITY[1] + 1))))
    out = np.asarray(im.convert("RGB"))
    if np.array_equal(out, img):
        # A flat frame survives every transform unchanged; an exact copy is not what the ground truth
        # promises (a file hash would find it), so shift its level by a visible step.
        step = -3 if int(img.mean()) > 127 else 3
        out = np.clip(img.astype(np.int16) + step, 0, 255).astype(np.uint8)
    return out, tuple(picked)


def bubbles(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Air bubbles (bright rims, glints) and, often, a patch of yellow-brown fluid, as the synthetic
    DataDEL draws them, but each bubble computed only inside its own box: on a full-size frame that
    is what keeps this effect from costing seconds."""
    h, w = img.shape[:2]
    X, Y = grid(h, w)
    out = img.copy()
    if rng.random() < 0.45:
        field = spectral_noise(rng, (h, w), [(1.0, 4.0, 2.0)])[0]
        patch = np.clip((field - rng.uniform(0.0, 0.8)) / 0.3, 0, 1)[..., None]
        fluid = np.array([0.75, 0.58, 0.12], np.float32) * (0.6 + 0.4 * img.mean(axis=-1, keepdims=True) / (img.mean() + 1e-6))
        out = out * (1 - 0.7 * patch) + fluid * 0.7 * patch
    half = w / 2  # pixels per unit of the screen grid, both ways (square pixels)
    cx0, cy0 = rng.uniform(-0.5, 0.5, 2)
    for _ in range(int(rng.integers(6, 30))):
        cx, cy = cx0 + rng.normal(0, 0.35), cy0 + rng.normal(0, 0.35)
        rad = rng.uniform(0.03, 0.22)
        px, py, reach = (cx + 1) * half, cy * half + h / 2, 1.5 * rad * half + 2
        x0, x1 = max(0, int(px - reach)), min(w, int(px + reach) + 1)
        y0, y1 = max(0, int(py - reach)), min(h, int(py + reach) + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        bx, by = X[y0:y1, x0:x1], Y[y0:y1, x0:x1]
        d = np.sqrt((bx - cx) ** 2 + (by - cy) ** 2) / rad
        rim = np.exp(-(((d - 1) / 0.12) ** 2))
        glint = np.exp(-(((bx - cx + 0.4 * rad) ** 2 + (by - cy + 0.4 * rad) ** 2) / (0.15 * rad) ** 2))
        box = out[y0:y1, x0:x1]
        box = np.where((d < 1)[..., None], box * 0.85 + 0.12, box)
        out[y0:y1, x0:x1] = box + (0.7 * rim + 1.5 * glint)[..., None]
    return out


def _rotate(im: Image.Image, angle: float) -> Image.Image:
    """Rotate about the centre, then keep the largest centred box of the same shape with no fill
    corners and scale it back, as a slightly tilted re-capture would look."""
    from PIL import Image

    w, h = im.size
    a = np.deg2rad(abs(angle))
    s = 1.0 / (np.cos(a) + max(w / h, h / w) * np.sin(a))
    cw, ch = max(1, int(w * s) - 1), max(1, int(h * s) - 1)
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    rot = im.rotate(angle, resample=Image.Resampling.BICUBIC)
    return rot.crop((x0, y0, x0 + cw, y0 + ch)).resize((w, h), Image.Resampling.BICUBIC)


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def to_uint8(f: np.ndarray) -> np.ndarray:
    return (np.clip(f, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
