from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from delbench.errors import DelbenchError
from delbench.testing import check_selector

from delbench_quality_random import QualityRandomSelector, image_quality


def scene(seed: int, size: int = 64) -> np.ndarray:
    """A sharp, well-exposed image: random coloured blocks plus a little sensor noise."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(60, 200, size=(8, 8, 3))
    img = np.kron(blocks, np.ones((size // 8, size // 8, 1))) + rng.normal(0, 3, (size, size, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def blurred(img: np.ndarray, radius: int = 3) -> np.ndarray:
    """A box blur (twice is close to a Gaussian)."""
    out = np.zeros(img.shape, dtype=np.float64)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            out += np.roll(img.astype(np.float64), (dy, dx), axis=(0, 1))
    return (out / (2 * radius + 1) ** 2).astype(np.uint8)


BAD = {
    "blur": lambda s: blurred(blurred(scene(s))),
    "dark": lambda s: (scene(s) * 0.1).astype(np.uint8),
    "bright": lambda s: (255 - (255 - scene(s).astype(int)) * 0.05).astype(np.uint8),
    "low-information": lambda s: np.full((64, 64, 3), 120, np.uint8),
}


def images() -> tuple[list[np.ndarray], dict[str, list[int]]]:
    """40 images: 4 of each defect at known indices, the rest clean."""
    imgs, planted = [], {k: [] for k in BAD}
    for i in range(40):
        kind = list(BAD)[i % 10] if i % 10 < len(BAD) else None
        imgs.append(BAD[kind](i) if kind else scene(i))
        if kind:
            planted[kind].append(i)
    return imgs, planted


def request_for(imgs: list[np.ndarray], ratio: float, delbench_request):
    emb = delbench_request.embeddings[: len(imgs)]
    return replace(delbench_request, ratio=ratio, embeddings=emb, pool=None, load_images=lambda idx: (imgs[i] for i in idx))


def test_contract() -> None:
    check_selector("quality-random")


def test_contract_with_params() -> None:
    check_selector("quality-random", params={"blur_threshold": 0.5, "max_side": 16}, ratios=(0.1, 0.9))


def test_measures_separate_clean_from_defects() -> None:
    clean = image_quality(scene(0))
    assert image_quality(BAD["blur"](0))["sharpness"] < 0.4 < clean["sharpness"]
    assert image_quality(BAD["dark"](0))["p99"] < 0.25 < clean["p99"]
    assert image_quality(BAD["bright"](0))["p50"] > 0.7 > clean["p50"]
    assert image_quality(BAD["low-information"](0))["entropy"] < 0.3 < clean["entropy"]


def test_removes_defects_first_with_their_reason(delbench_request) -> None:
    imgs, planted = images()
    sel = QualityRandomSelector().select(request_for(imgs, 0.5, delbench_request))
    for reason, idx in planted.items():
        assert sorted(sel.reasons[reason].tolist()) == idx, reason
    assert not set(np.concatenate(list(planted.values()))) & set(sel.indices.tolist())
    assert len(sel.indices) == 20 and len(sel.reasons["sampled-out"]) == 4


def test_keeps_least_bad_when_too_few_are_clean(delbench_request) -> None:
    imgs, planted = images()
    sel = QualityRandomSelector().select(request_for(imgs, 0.9, delbench_request))
    assert len(sel.indices) == 36 and sel.info["flagged_kept"] == 12
    assert len(sel.reasons["sampled-out"]) == 0


@pytest.mark.parametrize("params", [{"dark_threshold": 0.95}, {"blur_threshold": 0}, {"entropy_threshold": 2}, {"max_side": 2}, {"center": 0}])
def test_bad_parameters_are_refused(params) -> None:
    with pytest.raises(DelbenchError, match="quality-random"):
        QualityRandomSelector(**params)


def test_needs_images(delbench_request) -> None:
    with pytest.raises(DelbenchError, match="--pool"):
        QualityRandomSelector().select(replace(delbench_request, load_images=None))
