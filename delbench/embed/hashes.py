"""The ``phash`` embedder: a 64-bit DCT perceptual hash of every pool image, as a +-1 vector.

The hash is imagehash's ``phash`` (grey, 32x32, 2-D DCT-II, the top-left 8x8 low frequencies, a bit
set where a coefficient is above their median), computed for the whole pool at once with
``scipy.fft`` instead of one image at a time. The input is the pool's 32-px array (resized from the
file bilinearly by the embed stage); on it the bits equal ``imagehash.phash`` of the same 32-px image
exactly, the grey conversion being Pillow's own integer ITU-R 601-2 luma. Hashed from the full-size
file, imagehash resizes after the grey conversion and with Lanczos, so a few bits may differ.

Bit b becomes +1 (set) or -1 (clear) in dimension b, so every vector has norm 8 and the cosine of two
is ``1 - 2 * hamming / 64``: an exact copy is at 1, a copy within 4 bits at 0.875 or more, and two
unrelated images, about 32 bits apart, near 0.
"""
from __future__ import annotations

import numpy as np

HASH_SIZE = 8  # 8x8 low frequencies: 64 bits
SIDE = 32  # imagehash's hash_size * highfreq_factor (4)
_BLOCK = 4096  # images per DCT call: float64 [4096, 32, 32] is 32 MiB


def grey(images: np.ndarray) -> np.ndarray:
    """uint8 [N, S, S, 3] RGB as uint8 [N, S, S] luma, bit for bit what Pillow's ``convert("L")`` gives."""
    rgb = np.asarray(images, dtype=np.uint32)
    # Pillow's fixed-point weights (0.299, 0.587, 0.114 scaled by 2**16), rounded half up
    luma = rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000
    return (luma >> 16).astype(np.uint8)


def phash_bits(images: np.ndarray) -> np.ndarray:
    """bool [N, 64]: the phash of each 32x32 RGB image, row-major over the 8x8 coefficients."""
    from scipy.fft import dctn

    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != (SIDE, SIDE, 3):
        raise ValueError(f"phash needs uint8 [N, {SIDE}, {SIDE}, 3] images, got {images.shape}")
    out = np.empty((len(images), HASH_SIZE * HASH_SIZE), dtype=bool)
    for start in range(0, len(images), _BLOCK):
        pixels = grey(images[start:start + _BLOCK]).astype(np.float64)
        # unnormalised DCT-II along both axes, as scipy.fftpack.dct applies it (any uniform scale
        # would do: only the order of the coefficients counts)
        low = dctn(pixels, type=2, axes=(1, 2))[:, :HASH_SIZE, :HASH_SIZE].reshape(len(pixels), -1)
        out[start:start + len(pixels)] = low > np.median(low, axis=1, keepdims=True)
    return out


def hash_vectors(images: np.ndarray) -> np.ndarray:
    """float32 [N, 64] of +-1: the phash bits as signs (see the module docstring for why)."""
    return np.where(phash_bits(images), 1.0, -1.0).astype(np.float32)
