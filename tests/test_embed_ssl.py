"""The ``ssl`` embedder (a conv encoder trained on the pool by SimCLR), its settings, and the
standardisation that keeps pooled network features from collapsing (``ssl`` and ``pool``)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from delbench.errors import DelbenchError
from tests.test_pretrain_util import make_root, tiny_protocol

SIZE = 32


def _scenes(n: int, seed: int = 0) -> np.ndarray:
    """Distinct smooth colour images, uint8 [n, 64, 64, 3]."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, 64, 64, 3))
    smooth = np.stack([gaussian_filter(im, sigma=(4, 4, 0)) for im in noise])
    smooth = (smooth - smooth.mean()) / smooth.std()
    return np.clip(128 + 50 * smooth, 0, 255).astype(np.uint8)


def _copy(img: np.ndarray, seed: int) -> np.ndarray:
    """A near-duplicate made as ``delbench data plant`` makes one: a small crop, a slight rotation, a
    brightness change and a JPEG re-encoding."""
    from PIL import Image, ImageEnhance

    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    keep = rng.uniform(0.9, 0.97)
    cw, ch = int(w * keep), int(h * keep)
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    im = Image.fromarray(img).rotate(float(rng.uniform(-4, 4)), resample=Image.BICUBIC)
    im = im.crop((x0, y0, x0 + cw, y0 + ch)).resize((w, h), Image.BICUBIC)
    im = ImageEnhance.Brightness(im).enhance(float(rng.uniform(0.9, 1.1)))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=75)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _small(images: np.ndarray) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(im).resize((SIZE, SIZE), Image.BILINEAR)) for im in images])


@pytest.fixture(scope="module")
def planted() -> tuple[np.ndarray, int]:
    """16 distinct images followed by a copy of each of the first 8."""
    originals = _scenes(16)
    copies = np.stack([_copy(im, i) for i, im in enumerate(originals[:8])])
    return _small(np.concatenate([originals, copies])), 8


def test_ssl_is_deterministic_by_seed(planted: tuple[np.ndarray, int]) -> None:
    from delbench.embed.ssl import ssl_vectors

    images, _ = planted
    a, meta = ssl_vectors(images, 3, 2, seed=0, device="cpu")
    b, _ = ssl_vectors(images, 3, 2, seed=0, device="cpu")
    c, _ = ssl_vectors(images, 3, 2, seed=1, device="cpu")
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert a.shape == (len(images), 15 * 2) and np.isfinite(meta["ssl_final_loss"])


def test_ssl_places_copies_by_their_originals(planted: tuple[np.ndarray, int]) -> None:
    from delbench.embed.ssl import ssl_vectors

    images, n_copies = planted
    vec, _ = ssl_vectors(images, 20, 4, device="cpu")
    unit = vec / np.linalg.norm(vec, axis=1, keepdims=True)
    n_orig = len(images) - n_copies
    sim = unit[n_orig:] @ unit[:n_orig].T  # each copy against every original
    own = sim[np.arange(n_copies), np.arange(n_copies)]
    others = sim.copy()
    others[np.arange(n_copies), np.arange(n_copies)] = -np.inf
    assert (own > others.max(axis=1)).all(), (own, others.max(axis=1))
    assert np.median(own) > np.median(sim[others > -np.inf]) + 0.3


def test_augment_defaults_draw_what_the_objective_always_drew() -> None:
    import torch

    from delbench.nets.runtime import step_generator
    from delbench.pretrain.contrastive import Views, augment

    x = torch.randn(4, 3, 16, 16)
    a, b = step_generator(0, 1), step_generator(0, 1)
    out = augment(x, a)
    torch.rand(4, 7, generator=b)  # the objective's views take seven draws per image, no more
    assert torch.equal(a.get_state(), b.get_state())
    assert torch.equal(out, augment(x, step_generator(0, 1), Views()))
    near = augment(x, step_generator(0, 1), Views(crop_area=(0.7, 1.0), rotate=10.0, blur=1.0, flip_v=False))
    assert near.shape == x.shape and not torch.allclose(near, out)


def test_standardise_centres_and_scales_each_dimension() -> None:
    from delbench.embed.vectors import standardise

    rng = np.random.default_rng(0)
    raw = 5.0 + np.abs(rng.standard_normal((50, 6))) * np.array([1, 10, 0.1, 1, 1, 0])  # last: constant
    out = standardise(raw.astype(np.float32))
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out[:, :5].std(axis=0), 1, rtol=1e-4)
    assert (out[:, 5] == 0).all() and out.dtype == np.float32


def _median_pair_cos(emb: np.ndarray) -> float:
    sim = emb @ emb.T
    return float(np.median(sim[np.triu_indices(len(emb), 1)]))


def test_pool_embedder_no_longer_collapses(tmp_path: Path) -> None:
    # Pooled post-ReLU features share one mean direction: raw, every pair of frames had a cosine
    # near 1 (0.99 on this pool). Standardised, distinct frames are spread about 0.
    from delbench.embed.stage import embed_pool
    from delbench.embed.vectors import load_embeddings

    root = make_root(tmp_path / "root", n_pool=16, tasks=("alpha",))
    emb = load_embeddings(embed_pool(root, tiny_protocol(**{"embed.embedder": "pool"}), tmp_path / "cache"))
    assert abs(_median_pair_cos(emb)) < 0.3
    mean = emb.mean(axis=0) / np.linalg.norm(emb.mean(axis=0))
    assert float(np.median(emb @ mean)) < 0.5  # no shared direction dominates


def test_ssl_embedder_through_the_stage(tmp_path: Path) -> None:
    from delbench.embed.stage import embed_pool
    from delbench.embed.vectors import load_embeddings, read_sidecar

    root = make_root(tmp_path / "root", n_pool=12, tasks=("alpha",))
    p = tiny_protocol(**{"embed.embedder": "ssl", "embed.ssl_steps": 2, "embed.ssl_width": 2})
    path = embed_pool(root, p, tmp_path / "cache")
    emb = load_embeddings(path)
    assert emb.shape == (12, 30)
    side = read_sidecar(path)
    assert side["ssl_steps"] == 2 and side["ssl_width"] == 2 and side["embedder"] == "ssl"
    assert abs(_median_pair_cos(emb)) < 0.3


def test_ssl_settings_are_in_the_cache_key(tmp_path: Path) -> None:
    from delbench.embed.ssl import STEPS, WIDTH
    from delbench.embed.stage import stage_config

    root = make_root(tmp_path / "root", n_pool=4, tasks=("alpha",))

    def key(**kw: object) -> dict:
        return stage_config(root, tiny_protocol(**{"embed.embedder": "ssl", **kw}), None)

    base = key()
    assert base["embed"]["ssl_steps"] == STEPS and base["embed"]["ssl_width"] == WIDTH
    assert key(**{"embed.ssl_steps": STEPS, "embed.ssl_width": WIDTH}) == base  # 0 is the default written out
    assert key(**{"embed.ssl_steps": STEPS + 1}) != base
    assert key(**{"embed.ssl_width": WIDTH * 2}) != base
    assert key(**{"embed.image_size": 48}) != base
    assert "ssl_steps" not in stage_config(root, tiny_protocol(), None)["embed"]  # thumb's key as it was


@pytest.mark.parametrize("overrides, field", [
    ({"embed.embedder": "ssl", "embed.ssl_steps": -1}, r"\[embed\] ssl_steps"),
    ({"embed.embedder": "ssl", "embed.ssl_width": -2}, r"\[embed\] ssl_width"),
    ({"embed.ssl_steps": 10}, r"\[embed\] ssl_steps .*embedder 'ssl' only"),
    ({"embed.embedder": "pool", "embed.ssl_width": 4}, r"\[embed\] ssl_width .*embedder 'ssl' only"),
    ({"embed.embedder": "sssl"}, r"\[embed\] embedder must be .*'ssl'"),
])
def test_ssl_settings_are_checked(overrides: dict, field: str) -> None:
    with pytest.raises(DelbenchError, match=field) as err:
        tiny_protocol(**overrides)
    assert "\n" not in str(err.value)


def test_ssl_settings_leave_published_hashes_alone() -> None:
    from delbench.protocol import load_protocol

    p = load_protocol("smoke")
    assert p.with_overrides({"embed.ssl_steps": 0}).hash() == p.hash()
    q = p.with_overrides({"embed.embedder": "ssl"})
    assert q.with_overrides({"embed.ssl_steps": 40}).hash() != q.hash()


def test_ssl_needs_two_images() -> None:
    from delbench.embed.ssl import ssl_vectors

    with pytest.raises(DelbenchError, match="at least 2 pool images"):
        ssl_vectors(np.zeros((1, SIZE, SIZE, 3), np.uint8), 1, 2, device="cpu")


def test_the_plan_prices_the_ssl_training() -> None:
    from delbench.compare.calibrate import Rates
    from delbench.compare.cost import ssl_seconds

    rates = Rates(pretrain_step=0.0, forward_image=1e-3, predict_image=0.0, finetune_step=0.0, task_setup=0.0,
                  eval_image=0.0, decode_image=0.0, worker_start=0.0)
    p = tiny_protocol(**{"embed.embedder": "ssl", "embed.ssl_steps": 10, "embed.image_size": 32})
    assert ssl_seconds(p, rates) > 0
    assert ssl_seconds(p.with_overrides({"embed.ssl_steps": 20}), rates) == pytest.approx(2 * ssl_seconds(p, rates))
    assert ssl_seconds(p.with_overrides({"embed.image_size": 64}), rates) == pytest.approx(4 * ssl_seconds(p, rates))
