"""The ``phash`` embedder: imagehash's bits, computed for a whole pool at once, as +-1 vectors."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from delbench.embed.hashes import grey, hash_vectors, phash_bits
from tests.test_pretrain_util import make_root, tiny_protocol


def _scenes(n: int, side: int = 256, seed: int = 0) -> np.ndarray:
    """Distinct smooth colour images (low-frequency noise), uint8 [n, side, side, 3]."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, side, side, 3))
    smooth = np.stack([gaussian_filter(im, sigma=(side / 16, side / 16, 0)) for im in noise])
    smooth = (smooth - smooth.mean()) / smooth.std()
    return np.clip(128 + 50 * smooth, 0, 255).astype(np.uint8)


def _at(img: np.ndarray, size: int = 32) -> np.ndarray:
    """What the embed stage feeds the hash: the image resized bilinearly (``resized_rgb``)."""
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))


def _copy(img: np.ndarray) -> np.ndarray:
    """A planted near-duplicate: the central 96% of each side scaled back up, 10% brighter, saved as
    JPEG at quality 70."""
    from PIL import Image, ImageEnhance

    h, w = img.shape[:2]
    cw, ch = int(w * 0.96), int(h * 0.96)
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    im = Image.fromarray(img).crop((x0, y0, x0 + cw, y0 + ch))
    im = ImageEnhance.Brightness(im.resize((w, h), Image.BICUBIC)).enhance(1.1)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=70)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _reference_bits(img32: np.ndarray) -> np.ndarray:
    """The slow way, one image at a time: Pillow's grey, scipy.fftpack's DCT on each axis."""
    import scipy.fftpack
    from PIL import Image

    pixels = np.asarray(Image.fromarray(img32).convert("L"), dtype=np.float64)
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)[:8, :8]
    return (dct > np.median(dct)).flatten()


def test_bits_equal_imagehash_and_a_per_image_dct() -> None:
    import imagehash
    from PIL import Image

    images = np.stack([_at(im) for im in _scenes(6)])
    rng = np.random.default_rng(1)
    images = np.concatenate([images, rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)])
    bits = phash_bits(images)
    for img, row in zip(images, bits):
        np.testing.assert_array_equal(row, imagehash.phash(Image.fromarray(img)).hash.flatten())
        np.testing.assert_array_equal(row, _reference_bits(img))
    assert 0 < bits.sum() < bits.size  # not a constant answer


def test_grey_is_pillows_luma() -> None:
    from PIL import Image

    rgb = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    for img, g in zip(rgb, grey(rgb)):
        np.testing.assert_array_equal(g, np.asarray(Image.fromarray(img).convert("L")))


def test_a_planted_copy_is_a_few_bits_away_and_distinct_images_far() -> None:
    scenes = _scenes(8)
    originals = np.stack([_at(im) for im in scenes])
    copies = np.stack([_at(_copy(im)) for im in scenes])
    a, b = phash_bits(originals), phash_bits(copies)
    copy_bits = (a != b).sum(axis=1)
    distinct = [(a[i] != a[j]).sum() for i in range(len(a)) for j in range(i + 1, len(a))]
    # imagehash's usual "same image" threshold is 10 bits; unrelated images sit near 32
    assert copy_bits.max() <= 10 and copy_bits.mean() <= 6, copy_bits
    assert min(distinct) >= 16 and np.median(distinct) >= 24, distinct


def test_cosine_is_one_minus_twice_the_hamming_share() -> None:
    images = np.stack([_at(im) for im in _scenes(4)])
    bits, vec = phash_bits(images), hash_vectors(images)
    assert vec.dtype == np.float32 and set(np.unique(vec)) <= {-1.0, 1.0}
    unit = vec / np.linalg.norm(vec, axis=1, keepdims=True)
    hamming = (bits[:, None, :] != bits[None, :, :]).sum(axis=2)
    np.testing.assert_allclose(unit @ unit.T, 1 - 2 * hamming / 64, atol=1e-6)


def test_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="32, 32, 3"):
        phash_bits(np.zeros((2, 64, 64, 3), np.uint8))


def test_phash_embedder_through_the_stage(tmp_path: Path) -> None:
    from delbench.embed.stage import embed_pool
    from delbench.embed.vectors import load_embeddings, read_sidecar

    root = make_root(tmp_path / "root", n_pool=10, tasks=("alpha",))
    path = embed_pool(root, tiny_protocol(**{"embed.embedder": "phash", "embed.image_size": 0}), tmp_path / "cache")
    emb = load_embeddings(path)
    assert emb.shape == (10, 64)
    np.testing.assert_allclose(np.abs(emb), 1 / 8, rtol=1e-6)  # +-1 over a norm of 8
    assert read_sidecar(path)["image_size"] == 32


def test_phash_refuses_another_image_size() -> None:
    from delbench.errors import DelbenchError

    with pytest.raises(DelbenchError, match=r"\[embed\] image_size.*phash") as err:
        tiny_protocol(**{"embed.embedder": "phash", "embed.image_size": 64})
    assert "\n" not in str(err.value)
