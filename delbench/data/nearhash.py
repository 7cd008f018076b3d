"""Perceptual hashes that find a pool image which is a re-encoded, resized or slightly cropped copy
of an evaluation image.

A pool image gets one 64-bit DCT hash (``imagehash.phash``) of its central ``BASE_SCALE`` region;
an evaluation image gets the same hash over a small grid of scales and shifts around that region
(``variant_codes``). A pool image is a near duplicate of an evaluation image when one variant lies
within ``NEAR_BITS`` bits of the pool hash.

Why the centre: endoscopy frames share black borders, corner masks and text overlays that would
dominate a whole-frame hash, and a slight crop of the border changes the centre only in scale and
position, which the variants cover. On real samples (CVC-ClinicDB, Kvasir-SEG, mucosa crops) this
finds JPEG re-encodes, half-size copies, symmetric crops up to 8% a side and one-sided crops up to
5% within 6 bits, while distinct images (other sequences, other patients) stay 8 bits or more
apart: see docs/data-import.md, leak checks.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

HASH_SIZE = 8  # 8x8 DCT coefficients: a 64-bit hash, 8 bytes
BASE_SCALE = 0.72
SCALES = (0.60, 0.63, 0.66, 0.69, 0.72, 0.75, 0.78)
SHIFT = 0.025  # of the width / height
SHIFTS = ((0.0, 0.0), (SHIFT, 0.0), (-SHIFT, 0.0), (0.0, SHIFT), (0.0, -SHIFT),
          (SHIFT, SHIFT), (-SHIFT, -SHIFT), (SHIFT, -SHIFT), (-SHIFT, SHIFT))
NEAR_BITS = 6
WORK_SIDE = 256  # hashes are taken from a grey copy this large: cheap, and far above phash's 32x32


def prepare(rgb: Any) -> Any:
    """A decoded image (Pillow, as ``delbench.data.decode`` gives it) as the grey working copy."""
    from PIL import Image

    grey = rgb.convert("L")
    scale = WORK_SIDE / max(grey.size)
    if scale < 1:
        grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))), Image.LANCZOS)
    return grey


def _crop(grey: Any, scale: float, dx: float, dy: float) -> Any:
    w, h = grey.size
    cw, ch = w * scale, h * scale
    left, top = (w - cw) / 2 + dx * w, (h - ch) / 2 + dy * h
    return grey.crop((round(left), round(top), round(left + cw), round(top + ch)))


def _code(im: Any) -> np.ndarray:
    import imagehash

    return np.packbits(imagehash.phash(im, hash_size=HASH_SIZE).hash.flatten())


def base_hash(rgb: Any) -> str:
    """The pool-side hash of a decoded image, as 16 hex digits (stored in the manifest's ``phash``)."""
    return _code(_crop(prepare(rgb), BASE_SCALE, 0.0, 0.0)).tobytes().hex()


def variant_codes(rgb: Any) -> np.ndarray:
    """The evaluation-side hashes of a decoded image: uint8 [len(SCALES) * len(SHIFTS), 8]."""
    grey = prepare(rgb)
    return np.stack([_code(_crop(grey, s, dx, dy)) for s in SCALES for dx, dy in SHIFTS])


def codes(hexes: Iterable[str]) -> np.ndarray:
    """Hex hashes as uint8 [N, 8] codes."""
    return np.array([np.frombuffer(bytes.fromhex(h), dtype=np.uint8) for h in hexes], dtype=np.uint8).reshape(-1, 8)


def near_pairs(pool: np.ndarray, variants: list[np.ndarray], bits: int = NEAR_BITS) -> list[tuple[int, int, int]]:
    """``(pool index, evaluation index, differing bits)`` for every pool code within ``bits`` of some
    variant of an evaluation image (the closest variant counts), sorted by evaluation then pool index."""
    import faiss

    if not len(pool) or not variants:
        return []
    owner = np.concatenate([np.full(len(v), j) for j, v in enumerate(variants)])
    index = faiss.IndexBinaryFlat(HASH_SIZE * HASH_SIZE)
    index.add(np.ascontiguousarray(np.concatenate(variants)))
    best: dict[tuple[int, int], int] = {}
    chunk = 65536
    for start in range(0, len(pool), chunk):
        # faiss keeps distances strictly below the radius
        lims, dist, ids = index.range_search(np.ascontiguousarray(pool[start:start + chunk]), bits + 1)
        for q in range(len(lims) - 1):
            for d, v in zip(dist[lims[q]:lims[q + 1]], ids[lims[q]:lims[q + 1]]):
                key = (start + q, int(owner[v]))
                best[key] = min(best.get(key, 64), int(d))
    return sorted(((p, e, d) for (p, e), d in best.items()), key=lambda t: (t[1], t[0]))
