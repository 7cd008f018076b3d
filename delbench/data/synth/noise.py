"""Numeric building blocks: periodic spectral noise, wrapped bilinear sampling, blurs, smooth paths.

Everything is vectorised NumPy in float32; SciPy is not a dependency, so blurs go through the FFT.
"""
from __future__ import annotations

import functools

import numpy as np


def spectral_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    bands: list[tuple[float, float, float]],
) -> np.ndarray:
    """One periodic noise field per ``(f_lo, f_hi, beta)`` band, stacked as ``[len(bands), *shape]``.

    Frequencies are in cycles per field length along the longer axis. Filtering white noise in the
    Fourier domain makes the fields tile seamlessly, which the tube's angular coordinate needs.
    """
    filt = _band_filters(tuple(shape), tuple(tuple(float(x) for x in b) for b in bands))
    white = rng.standard_normal((len(bands), *shape), dtype=np.float32)
    out = np.fft.irfft2(np.fft.rfft2(white) * filt, s=shape).astype(np.float32)
    out -= out.mean(axis=(1, 2), keepdims=True)
    out /= out.std(axis=(1, 2), keepdims=True) + 1e-8
    return out


@functools.lru_cache(maxsize=32)
def _band_filters(shape: tuple[int, int], bands: tuple[tuple[float, ...], ...]) -> np.ndarray:
    fy = np.fft.fftfreq(shape[0])[:, None] * shape[0]
    fx = np.fft.rfftfreq(shape[1])[None, :] * shape[1]
    scale = max(shape) / np.array(shape, dtype=np.float64)
    f = np.sqrt((fy * scale[0]) ** 2 + (fx * scale[1]) ** 2)
    f[0, 0] = 1.0
    filters = []
    for lo, hi, beta in bands:
        # smooth band edges avoid ringing that would read as artificial stripes
        band = (1.0 / (1.0 + (lo / f) ** 4)) * np.exp(-((f / hi) ** 2))
        filters.append(band * f ** (-beta / 2.0))
    filt = np.stack(filters).astype(np.float32)
    filt[:, 0, 0] = 0.0
    filt.setflags(write=False)
    return filt


def blur_periodic(fields: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``fields[C, U, V]`` that wraps around both axes, as the tube texture does."""
    h, w = fields.shape[-2:]
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    g = np.exp(-2 * (np.pi * sigma) ** 2 * (fy**2 + fx**2)).astype(np.float32)
    return np.fft.irfft2(np.fft.rfft2(fields) * g, s=(h, w)).astype(np.float32)


def sample_wrap(tex: np.ndarray, iu: np.ndarray, iv: np.ndarray) -> np.ndarray:
    """Bilinear lookup of ``tex[C, U, V]`` at fractional texel coordinates, wrapping both axes."""
    nu, nv = tex.shape[1], tex.shape[2]
    u0 = np.floor(iu)
    v0 = np.floor(iv)
    fu = (iu - u0).astype(np.float32)
    fv = (iv - v0).astype(np.float32)
    a = (u0.astype(np.int64) % nu) * nv
    b = v0.astype(np.int64) % nv
    a1 = (a + nv) % (nu * nv)
    b1 = (b + 1) % nv
    # one flat gather per corner is several times faster than 2-D fancy indexing
    flat = tex.reshape(tex.shape[0], -1)
    idx = np.stack([a + b, a1 + b, a + b1, a1 + b1]).reshape(-1)
    g = flat[:, idx].reshape(tex.shape[0], 4, *iu.shape)
    wts = np.stack([(1 - fu) * (1 - fv), fu * (1 - fv), (1 - fu) * fv, fu * fv])
    return (g * wts[None]).sum(axis=1)


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``img[H, W(, C)]`` through the FFT, with reflected borders."""
    if sigma <= 0.05:
        return img
    pad = int(min(3 * sigma + 1, min(img.shape[:2]) - 1))
    widths = [(pad, pad), (pad, pad)] + [(0, 0)] * (img.ndim - 2)
    p = np.pad(img, widths, mode="reflect")
    h, w = p.shape[:2]
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    g = np.exp(-2 * (np.pi * sigma) ** 2 * (fy**2 + fx**2)).astype(np.float32)
    if img.ndim == 3:
        g = g[..., None]
    out = np.fft.irfft2(np.fft.rfft2(p, axes=(0, 1)) * g, s=(h, w), axes=(0, 1))
    return out[pad : pad + img.shape[0], pad : pad + img.shape[1]].astype(np.float32)


def smooth_path(rng: np.random.Generator, n: int, smooth: float, dims: int = 1) -> np.ndarray:
    """A smooth random walk ``[n, dims]`` with unit-ish spread: white noise through a Gaussian kernel."""
    k = max(1, int(3 * smooth))
    noise = rng.standard_normal((n + 2 * k, dims))
    t = np.arange(-k, k + 1)
    kern = np.exp(-0.5 * (t / max(smooth, 1e-3)) ** 2)
    kern /= np.sqrt((kern**2).sum())
    out = np.stack([np.convolve(noise[:, d], kern, mode="valid") for d in range(dims)], axis=1)
    return out[:n].astype(np.float64)


def grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Screen coordinates: x spans [-1, 1] across the width, y keeps square pixels."""
    x = (np.arange(w, dtype=np.float32) + 0.5) / w * 2 - 1
    y = ((np.arange(h, dtype=np.float32) + 0.5) / h * 2 - 1) * (h / w)
    return np.meshgrid(x, y)
