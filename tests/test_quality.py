"""The ``quality`` selector: planted image issues rank below clean frames and are named; on the synthetic
``ci`` pool it removes most disruptive frames; it keeps the selector contract."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from delbench.data.plant_effects import bubbles, disrupt
from delbench.errors import DelbenchError
from delbench.selection import SelectionRequest, run_selector
from delbench.testing import check_selector, registered_selector
from delbench_quality import ISSUES, QualityFilter

S = 64


def _field(rng: np.random.Generator, power: float = 1.2, size: int = S) -> np.ndarray:
    """A 1/f^power random field, scaled to [0, 1]: textured, natural-looking detail at every scale."""
    f = np.fft.fftfreq(size)
    r = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    r[0, 0] = 1.0
    spec = (rng.standard_normal((size, size)) + 1j * rng.standard_normal((size, size))) / r**power
    x = np.real(np.fft.ifft2(spec))
    return (x - x.min()) / (x.max() - x.min())


def _gauss(img: np.ndarray, sigma: float) -> np.ndarray:
    f = np.fft.fftfreq(S)
    k = np.exp(-2 * (np.pi * sigma) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
    return np.stack([np.real(np.fft.ifft2(np.fft.fft2(img[..., c]) * k)) for c in range(3)], axis=-1)


def _u8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


def _clean(rng: np.random.Generator, size: int = S) -> np.ndarray:
    g = _field(rng, size=size)
    tint = np.array([0.9, 0.45, 0.35]) * rng.uniform(0.8, 1.0)
    img = 0.1 + 0.8 * g[..., None] * tint + 0.08 * _field(rng, 1.0, size)[..., None]
    return img + 0.01 * rng.standard_normal((size, size, 3))


def _bars() -> np.ndarray:
    bars = np.array([[0.75, 0.75, 0.75], [0.75, 0.75, 0], [0, 0.75, 0.75], [0, 0.75, 0],
                     [0.75, 0, 0.75], [0.75, 0, 0], [0, 0, 0.75]])
    img = np.broadcast_to(bars[np.minimum(np.arange(S) * 7 // S, 6)][None], (S, S, 3)).copy()
    img[int(S * 0.72):] = np.linspace(0, 1, S)[None, :, None]
    return img


def _text(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = img.copy()
    for row in range(6, S - 8, 9):  # lines of 1-pixel glyph strokes, 5 pixels high
        for col in range(4, S - 5, 5):
            glyph = rng.random((5, 3)) < 0.5
            out[row:row + 5, col:col + 3][glyph] = 0.97
    return out


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(0)
    clean = [_clean(rng) for _ in range(10)]
    defects = {
        "blur": _gauss(clean[0], 2.5),
        "dark": np.zeros((S, S, 3)),
        "bright": np.ones((S, S, 3)),
        "blank": np.full((S, S, 3), 0.5),
        "pattern": _bars(),
        "noise": rng.random((S, S, 3)),
        "overlay": _text(clean[1], rng),
        "bubbles": bubbles(clean[2].astype(np.float32), np.random.default_rng(3)),
    }
    images = [_u8(x) for x in clean] + [_u8(x) for x in defects.values()]
    return images, len(clean), list(defects)


def _request(images, ratio: float = 0.5, pool=None) -> SelectionRequest:
    n = len(images)
    emb = np.eye(n, 8, dtype=np.float32)
    emb[:, 0] += 1.0
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)

    def load(indices):
        for i in indices:
            yield images[int(i)]

    return SelectionRequest(ratio=ratio, seed=0, embeddings=emb, pool=pool, load_images=load)


def test_screen_passes_its_badness_on(planted) -> None:
    images, n_clean, _ = planted
    selector = QualityFilter()
    request = _request(images)
    answer = selector.screen(request)
    badness, _, _ = selector.scores(request)
    assert answer.badness is not None and np.array_equal(answer.badness, badness)
    assert (badness[answer.indices] < selector.screen_at).all()
    assert (badness[n_clean:] > badness[:n_clean].max()).all()  # every planted defect is worse than every clean frame


def test_a_pipeline_that_falls_back_to_the_screen_reads_each_image_once(planted) -> None:
    """At R above the screen's survivors, the screen meets the budget itself: it must not measure the
    images a second time, and a pool without file hashes (nothing to recognise them by) still works."""
    import pandas as pd

    from delbench.plugin.manager import get_plugins

    images, n_clean, _ = planted
    n = len(images)
    reads: list[int] = []

    def counted(pool):
        request = _request(images, ratio=0.9, pool=pool)
        base = request.load_images

        def load(indices):
            indices = list(indices)
            reads.extend(indices)
            yield from base(indices)

        return SelectionRequest(ratio=0.9, seed=0, embeddings=request.embeddings, pool=pool, load_images=load)

    hashed = pd.DataFrame({"id": [f"f{i}" for i in range(n)], "sha256": [f"{i:064x}" for i in range(n)]})
    pipeline = get_plugins().selectors.get("quality>random").create()
    answer = pipeline.select(counted(hashed))
    assert answer.info["budget_met_by"] == "quality" and len(answer.indices) == round(0.9 * n)
    assert sorted(reads) == list(range(n))
    reads.clear()
    again = get_plugins().selectors.get("quality>random").create().select(counted(hashed.drop(columns="sha256")))
    assert np.array_equal(np.sort(again.indices), np.sort(answer.indices))
    assert sorted(reads) == sorted(list(range(n)) * 2)  # no hashes: measured again, same answer


def test_other_images_are_measured_afresh(planted) -> None:
    import pandas as pd

    images, _, _ = planted
    n = len(images)
    selector = QualityFilter()
    pool = pd.DataFrame({"id": [f"f{i}" for i in range(n)], "sha256": [f"{i:064x}" for i in range(n)]})
    first = selector.scores(_request(images, pool=pool))[0]
    swapped = images[::-1]
    other = pool.assign(sha256=pool["sha256"][::-1].to_numpy())  # the same files, in the other order
    second = selector.scores(_request(swapped, pool=other))[0]
    assert np.allclose(second, first[::-1])


def test_planted_defects_rank_below_clean_and_are_named(planted) -> None:
    images, n_clean, kinds = planted
    badness, worst, _ = QualityFilter().scores(_request(images))
    issues = QualityFilter().issues
    clean_worst = badness[:n_clean].max()
    for j, kind in enumerate(kinds):
        i = n_clean + j
        assert badness[i] > clean_worst, (kind, badness[i], clean_worst)
        assert issues[worst[i]] == kind, (kind, issues[worst[i]])


def test_reasons_name_the_worst_issue(planted) -> None:
    images, n_clean, kinds = planted
    n = len(images)
    sel = QualityFilter().select(_request(images, ratio=n_clean / n))
    assert sorted(sel.indices.tolist()) == list(range(n_clean))
    for j, kind in enumerate(kinds):
        assert n_clean + j in sel.reasons[f"quality:{kind}"].tolist()


def test_issues_param_limits_the_checks(planted) -> None:
    images, n_clean, kinds = planted
    sel = QualityFilter(issues="dark,bright")
    badness, worst, per = sel.scores(_request(images))
    assert set(per) == {"dark", "bright"}
    assert {sel.issues[w] for w in worst[[n_clean + kinds.index("dark"), n_clean + kinds.index("bright")]]} == {"dark", "bright"}
    with pytest.raises(DelbenchError, match="issues"):
        QualityFilter(issues="dark,fuzzy")
    with pytest.raises(DelbenchError, match="size"):
        QualityFilter(size=2)


def test_size_resamples_larger_images(planted) -> None:
    images, n_clean, kinds = planted
    big = [np.kron(x, np.ones((2, 2, 1), dtype=np.uint8)) for x in images]
    badness, worst, _ = QualityFilter(size=64).scores(_request(big))
    for j, kind in enumerate(kinds):
        assert badness[n_clean + j] > badness[:n_clean].max(), kind


def test_bubbles_and_defocus_score_above_their_clean_sources(planted) -> None:
    """Each planted disruption scores higher on its own check than every clean frame, its source included."""
    images, n_clean, _ = planted
    clean = images[:n_clean]
    rng = np.random.default_rng(7)
    extra = {"bubbles": [bubbles(x.astype(np.float32) / 255, rng) for x in clean[:4]],
             "blur": [disrupt("defocus", x, rng) for x in clean[4:8]]}
    pool = clean + [_u8(x) for x in extra["bubbles"]] + extra["blur"]
    _, worst, per = QualityFilter().scores(_request(pool))
    issues = QualityFilter().issues
    for j, i in enumerate(range(n_clean, n_clean + 4)):
        assert per["bubbles"][i] > per["bubbles"][:n_clean].max(), (j, per["bubbles"][i])
        assert per["bubbles"][i] > per["bubbles"][j]
        assert issues[worst[i]] == "bubbles"
    for j, i in enumerate(range(n_clean + 4, n_clean + 8)):
        assert per["blur"][i] > per["blur"][:n_clean].max(), (j, per["blur"][i])
        assert per["blur"][i] > per["blur"][4 + j]
        assert issues[worst[i]] == "blur"


def _reencode(img: np.ndarray, quality: int) -> np.ndarray:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def test_heavy_jpeg_is_named_and_light_reencoding_is_not(planted) -> None:
    images, n_clean, _ = planted
    clean = images[:n_clean]
    # the last heavy one is cropped by 3 pixels, so its 8-pixel grid no longer starts at 0
    heavy = [_reencode(x, 5) for x in clean[:3]] + [np.pad(_reencode(clean[3], 5)[3:, 3:], ((0, 3), (0, 3), (0, 0)), mode="edge")]
    light = [_reencode(x, 85) for x in clean[4:8]]
    _, worst, per = QualityFilter().scores(_request(clean + heavy + light))
    issues = QualityFilter().issues
    jpeg = per["jpeg"]
    assert (jpeg[n_clean : n_clean + 4] >= 0.5).all(), jpeg[n_clean : n_clean + 4]
    assert (jpeg[:n_clean] < 0.5).all() and (jpeg[n_clean + 4 :] < 0.5).all(), jpeg
    assert all(issues[worst[i]] == "jpeg" for i in range(n_clean, n_clean + 4))


def test_motion_blur_is_read_from_its_direction() -> None:
    """A smear along one direction leaves that direction bare: ``streak`` alone flags it, with no
    reference to the rest of the pool. Frames are 256 pixels, smeared, then analysed at 64."""
    from delbench_quality import _resize, features

    rng = np.random.default_rng(5)
    frames = [_u8(_clean(rng, 256)) for _ in range(10)]
    smeared = [disrupt("blur", x, rng) for x in frames]
    streak_clean = features(np.stack([_resize(x, S) for x in frames]))["streak"]
    streak_blur = features(np.stack([_resize(x, S) for x in smeared]))["streak"]
    assert streak_clean.max() < 1.0 and np.median(streak_blur) >= 2.5, (streak_clean, streak_blur)
    _, worst, per = QualityFilter().scores(_request(smeared))
    assert np.mean(per["blur"] >= 0.5) >= 0.7, per["blur"]


def test_a_clipped_red_channel_is_not_bright(planted) -> None:
    images, n_clean, kinds = planted
    red = [x.copy() for x in images[:4]]
    for x in red:
        x[..., 0] = np.maximum(x[..., 0], 250)  # endoscopy's red channel clips on ordinary mucosa
    badness, worst, per = QualityFilter().scores(_request(list(images) + red))
    n = len(images)
    assert (per["bright"][n:] < 0).all(), per["bright"][n:]
    assert per["bright"][n_clean + kinds.index("bright")] >= 1


def test_blur_is_relative_to_the_pools_spread() -> None:
    """The same drop in sharpness is blur in a pool of uniformly sharp frames and ordinary in a pool
    whose clean frames vary by as much."""
    from delbench_quality import issue_scores

    rng = np.random.default_rng(0)
    n = 200

    def pool(spread: float) -> dict[str, np.ndarray]:
        base = {"std": np.full(n, 0.2), "q95": np.full(n, 0.8), "q10": np.full(n, 0.2), "entropy": np.full(n, 7.0),
                "white": np.zeros(n), "rho": np.full(n, 0.9), "bands": np.full(n, 0.1), "strokes": np.zeros(n),
                "glints": np.zeros(n), "streak": np.full(n, 1.0), "blocks": np.ones(n)}
        sharp = 2.0 ** (rng.standard_normal(n) * spread)
        sharp[0] = 2.0 ** -1.5  # one and a half halvings below the median
        return dict(base, sharpness=sharp, detail=sharp.copy())

    steady, varied = issue_scores(pool(0.25))["blur"][0], issue_scores(pool(1.0))["blur"][0]
    assert steady >= 1.0 > 0.5 > varied, (steady, varied)


def test_scores_are_deterministic(planted) -> None:
    images, _, _ = planted
    a = QualityFilter().scores(_request(images))
    b = QualityFilter().scores(_request(images))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    for k in a[2]:
        assert np.array_equal(a[2][k], b[2][k]), k
    s1 = QualityFilter().select(_request(images, ratio=0.5))
    s2 = QualityFilter().select(_request(images, ratio=0.5))
    assert np.array_equal(s1.indices, s2.indices)


def test_needs_images() -> None:
    emb = np.eye(4, dtype=np.float32)
    with pytest.raises(DelbenchError, match="images"):
        QualityFilter().select(SelectionRequest(ratio=0.5, seed=0, embeddings=emb))


def test_contract() -> None:
    with registered_selector(QualityFilter, replace=True):  # the installed entry point, or this copy
        check_selector("quality")
        check_selector("quality", params={"issues": "blur,noise", "size": 32})


def test_every_issue_documented() -> None:
    import delbench_quality

    doc = Path(__file__).resolve().parents[1] / "docs" / "selectors.md"
    text = doc.read_text()
    for issue in ISSUES:
        assert f"``{issue}``" in delbench_quality.__doc__
        assert f"`quality:{issue}`" in text, issue


# --- the synthetic ci pool -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ci_pool(tmp_path_factory):
    from delbench.data.manifest import pool_rows, read_manifest
    from delbench.data.synth import generate
    from delbench.select.stage import image_loader

    root = generate(tmp_path_factory.mktemp("synth-quality") / "ci", scale="ci", seed=0)
    pool = pool_rows(read_manifest(root)).reset_index(drop=True)
    return pool, image_loader(root, pool)


def test_ci_pool_removes_most_disruptive_frames(ci_pool) -> None:
    pool, load = ci_pool
    n = len(pool)
    emb = np.zeros((n, 4), dtype=np.float32)
    emb[:, 0] = 1.0
    req = SelectionRequest(ratio=0.5, seed=0, embeddings=emb, pool=pool, load_images=load)
    answers = run_selector(QualityFilter(), req, ratios=[0.5, 0.8])
    kinds = pool["gt_quality"].astype(str).to_numpy()
    kept = np.zeros(n, dtype=bool)
    kept[answers[0.5].indices] = True
    disruptive = kinds != "clean"
    removed_share = (~kept[disruptive]).mean()
    per_type = {k: float((~kept[kinds == k]).mean()) for k in np.unique(kinds)}
    print("quality on ci at R=0.5: disruptive removed", round(removed_share, 3), per_type)
    assert removed_share >= 0.7, per_type
    assert per_type["clean"] <= 0.4, per_type
    for k in ("dark", "bright", "blank", "pattern", "overlay"):
        assert per_type[k] >= 0.9, (k, per_type)
    for k in ("bubbles", "defocus"):  # 0.94, 0.90 when recorded
        assert per_type[k] >= 0.8, (k, per_type)
    # 0.68 when recorded (0.91 when blur was screened at 1.5 robust deviations, with 3x the clean frames)
    assert per_type["blur"] >= 0.6, per_type
    # the screen, exposure and bubble defects are named for what they are
    for k in ("dark", "overlay", "bubbles"):
        named = answers[0.5].reasons.get(f"quality:{k}", np.array([], dtype=np.int64))
        assert np.isin(np.flatnonzero(kinds == k), named).mean() >= 0.75, k
    # a larger budget removes a subset of the smaller one's removals
    kept8 = np.zeros(n, dtype=bool)
    kept8[answers[0.8].indices] = True
    assert not (kept & ~kept8).any()


def test_ci_pool_screen_keeps_clean_frames(ci_pool) -> None:
    """As a pipeline's screen, the filter removes what is clearly wrong and few clean frames."""
    pool, load = ci_pool
    n = len(pool)
    emb = np.zeros((n, 4), dtype=np.float32)
    emb[:, 0] = 1.0
    kept = np.zeros(n, dtype=bool)
    kept[QualityFilter().screen(SelectionRequest(ratio=0.5, seed=0, embeddings=emb, pool=pool, load_images=load)).indices] = True
    kinds = pool["gt_quality"].astype(str).to_numpy()
    per_type = {k: float((~kept[kinds == k]).mean()) for k in np.unique(kinds)}
    assert per_type["clean"] <= 0.08, per_type  # 0.04 when recorded
    for k in ("dark", "bright", "blank", "pattern", "overlay"):
        assert per_type[k] >= 0.9, (k, per_type)
