"""``quality``: an image-issue filter on pixels — drop the frames that look worst, whatever their content.

Every pool image is read through ``request.load_images``, reduced to ``size`` x ``size`` pixels (box
filter) and measured in vectorised numpy batches. Each check gives a continuous score where 0 is the
point at which the issue starts to show and 1 a clear case (clean frames score below 0):

``dark``     the frame's bright end is dark: ``(0.45 - q95(grey)) / 0.45``.
``bright``   washed out: the larger of ``(q10(grey) - 0.5) / 0.5`` and ``(white - 0.15) / 0.3``, with
             ``white`` the share of near-white pixels (grey >= 0.9). One clipped channel is not
             enough: endoscopy's red channel clips on ordinary mucosa.
``blank``    low information: the larger of ``(2.5 - H) / 2.5`` with H the grey-level entropy in bits
             (256 levels) and ``(0.02 - std(grey)) / 0.02``.
``pattern``  test patterns (colour bars, flat graphics): ``bands = `` the share of pixels exactly equal,
             in every channel, to their neighbour below (or to their right, whichever is larger);
             camera frames carry sensor noise and score near 0.15, bars near 1. Score
             ``(bands - 0.5) / 0.4``, times ``min(1, std(grey) / 0.1)`` so that a blank frame is blank.
``overlay``  text and menus: the share of near-white achromatic pixels (every channel >= 0.7, spread
             <= 0.15) that are thin strokes (brighter by 0.15 than both pixels two steps away, along x
             or y); ``(share - 0.02) / 0.05``.
``noise``    sensor noise: high-frequency energy without structure, read as the lag-1 autocorrelation
             rho of the grey image (natural images: rho near 0.8-0.9, white noise: 0):
             ``(0.5 - rho) / 0.5``. For a stationary image the Laplacian-to-gradient energy ratio is a
             function of the same neighbour correlations (5 for white noise, small for structure), so
             rho reads the same thing with one scale fewer.
``bubbles``  air bubbles: bright thin rims and glints, read as the share ``g`` of tissue pixels (not
             within 2 pixels of a near-black mask) whose darkest channel stands 0.12 above its 3x3
             grey opening (a white top-hat: a white rim lifts every channel, a red vessel does not),
             against the median ``g`` of the frame's centre: ``(g - median - 0.03) / 0.04``, capped
             at 1 so that text, which is thin and white too, is still named ``overlay``.
``blur``     blur and defocus, three ways. Two are relative: ``whole``, the normalised variance of the
             Laplacian ``var(lap) / var(grey)`` at half resolution over the whole frame, and
             ``middle``, the weakest of the four directional second differences (x, y, both
             diagonals) at half resolution over the middle of the frame (half of each side),
             normalised by its grey variance. The middle is clear of the scope mask, corners and
             on-screen text, which stay sharp when the scene is out of focus. Each is read as a robust
             z-score of its log: halvings below the median of the frame's centre (the pool's
             ``center`` column; the whole pool without one), over 1.4826 x the median absolute
             deviation pooled over the pool, so a pool whose clean frames vary more in sharpness needs
             a larger drop. The third is absolute: ``streak``, log2 of the strongest over the weakest
             directional second difference over the middle at full size; tissue has detail every
             way, a motion smear leaves one way bare. Score the larger of ``max(whole, middle) / 4``
             (screened at 2 robust standard deviations) and ``(streak - 2) / 1``, weighted by
             ``min(1, std(grey) / 0.05)`` and by ``1 - clip(pattern)`` so that a flat, dark or
             graphic frame is not called blurred.
``jpeg``     heavy compression: ``blocks``, how much larger the grey steps are across the 8-pixel
             JPEG grid than between its lines (the weaker of rows and columns, each at its
             best-aligned phase, so a crop that shifted the grid is still read), measured on the image
             at its own size before any reduction. Camera frames and light re-encoding read near 1.
             Score ``(blocks - 1.5) / 1``, capped at 1 so that flat screens keep their own name.

The badness of a frame is the maximum of its scores over the checks in ``issues``; the best
``round(R*N)`` frames are kept (ties broken by a seeded order, so the budget is met exactly), and each
removed frame's reason is ``quality:<issue>`` for its worst issue. Every ratio is a prefix of one
removal order, computed in one pass.

The absolute thresholds are set for frames analysed at 64 pixels (``size``) and were tuned on the
synthetic ``ci`` pool, a seed-1 ``smoke`` pool and that pool with planted disruptions (``delbench data
plant``); blur and bubbles are relative to the frame's centre.
As the first stage of a pipeline the filter screens: it removes every frame with badness of at least
``screen_at`` (0.5), whatever the budget, and passes every survivor's badness on to the later stages,
so ``meddel`` and ``dedup-only`` keep the better frame of two near-duplicates.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from delbench import hookimpl
from delbench.errors import DelbenchError
from delbench.selection import Selection, SelectionRequest, SelectsMany, check_ratio, target_count

# Fixed order: on an exact tie (a black frame is both dark and blank) the earlier issue names the reason.
ISSUES: tuple[str, ...] = ("dark", "bright", "blank", "pattern", "overlay", "noise", "bubbles", "blur", "jpeg")
BATCH = 512
# Tuned on the synthetic ci pool, a seed-1 smoke pool and that pool planted. Blur is screened at two
# robust standard deviations (a clear case at four): the tuning pools' subsets came out best there.
BLUR_CLEAR, BLUR_MIN_SPREAD = 4.0, 0.05
STREAK_FROM, STREAK_CLEAR = 2.0, 1.0
BRIGHT_FROM, BRIGHT_CLEAR = 0.15, 0.3
JPEG_FROM, JPEG_CLEAR = 1.5, 1.0
BUBBLES_FROM, BUBBLES_CLEAR, BUBBLES_CAP = 0.03, 0.04, 1.0


def _slide(a: np.ndarray, axis: int, op: Any) -> np.ndarray:
    """3-wide running min or max along ``axis`` (1 or 2) of a [B, H, W] batch, edges repeated."""
    pad = [(0, 0)] * 3
    pad[axis] = (1, 1)
    p = np.pad(a, pad, mode="edge")
    n = a.shape[axis]
    take = [slice(None)] * 3
    parts = []
    for k in range(3):
        take[axis] = slice(k, k + n)
        parts.append(p[tuple(take)])
    return op(op(parts[0], parts[1]), parts[2])


def _filter3(a: np.ndarray, op: Any) -> np.ndarray:
    """3x3 min (``np.minimum``) or max filter, separable: numpy shifts beat scipy.ndimage on 64-px batches."""
    return _slide(_slide(a, 1, op), 2, op)


def _crop(a: np.ndarray, keep: float) -> np.ndarray:
    """The centre ``keep`` of each side: clear of the dark corners, scope masks and on-screen text."""
    s = a.shape[1]
    k = min(int(round(s * (1 - keep) / 2)), max(0, (s - 3) // 2))  # small sizes keep 3 pixels a side
    return a[:, k : s - k, k : s - k]


def _second_differences(g: np.ndarray) -> np.ndarray:
    """Mean squared second difference along x, y and both diagonals, [B, 4]. A diagonal step is
    sqrt(2) longer, so its second difference is halved in energy terms to compare like with like."""
    c = g[:, 1:-1, 1:-1]
    pairs = ((g[:, 1:-1, 2:], g[:, 1:-1, :-2], 1.0), (g[:, 2:, 1:-1], g[:, :-2, 1:-1], 1.0),
             (g[:, 2:, 2:], g[:, :-2, :-2], 0.5), (g[:, 2:, :-2], g[:, :-2, 2:], 0.5))
    return np.stack([w * ((a + b - 2 * c) ** 2).reshape(g.shape[0], -1).mean(axis=1) for a, b, w in pairs], axis=1)


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    """HxWx3 uint8 -> size x size x 3 float32 in [0, 1] (box filter when shrinking)."""
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    elif img.shape[2] == 4:
        img = img[..., :3]
    elif img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    if img.shape[0] != size or img.shape[1] != size:
        from PIL import Image

        img = np.asarray(Image.fromarray(np.ascontiguousarray(img, dtype=np.uint8)).resize((size, size), Image.BOX))
    return img.astype(np.float32) / 255.0


def _quantile(x: np.ndarray, q: float) -> np.ndarray:
    """Per-image quantile of a [B, P] array (partition, no full sort)."""
    k = int(round(q * (x.shape[1] - 1)))
    return np.partition(x, k, axis=1)[:, k]


def features(batch: np.ndarray) -> dict[str, np.ndarray]:
    """Raw per-image measurements of a [B, S, S, 3] float32 batch in [0, 1]."""
    b = batch.shape[0]
    grey = 0.299 * batch[..., 0] + 0.587 * batch[..., 1] + 0.114 * batch[..., 2]  # [B, S, S]
    flat = grey.reshape(b, -1)
    std = flat.std(axis=1)
    var = std.astype(np.float64) ** 2
    # grey-level entropy over 256 levels
    levels = np.clip(np.rint(flat * 255), 0, 255).astype(np.int64) + 256 * np.arange(b)[:, None]
    hist = np.bincount(levels.ravel(), minlength=256 * b).reshape(b, 256).astype(np.float64) / flat.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(hist > 0, hist * np.log2(hist), 0.0).sum(axis=1)
    r, g, bl = batch[..., 0], batch[..., 1], batch[..., 2]  # channel views: reducing a 3-long axis is slow
    lo, hi = np.minimum(np.minimum(r, g), bl), np.maximum(np.maximum(r, g), bl)
    # washed out: near-white light, not one clipped channel (a clipped red channel is ordinary mucosa)
    pale = (grey >= 0.9).reshape(b, -1).mean(axis=1)
    # sharpness: variance of the 4-neighbour Laplacian over the grey variance
    # (at half resolution, where sensor noise weighs less than detail)
    s2 = grey.shape[1] // 2
    half = grey[:, : 2 * s2, : 2 * s2].reshape(b, s2, 2, s2, 2).mean(axis=(2, 4))
    lap = (half[:, 1:-1, :-2] + half[:, 1:-1, 2:] + half[:, :-2, 1:-1] + half[:, 2:, 1:-1] - 4 * half[:, 1:-1, 1:-1])
    lap_var = lap.reshape(b, -1).var(axis=1).astype(np.float64)
    sharp = lap_var / np.maximum(var, 1e-8)
    # lag-1 autocorrelation along x and y
    c = grey - flat.mean(axis=1)[:, None, None]
    num = (c[:, :, 1:] * c[:, :, :-1]).reshape(b, -1).mean(axis=1) + (c[:, 1:, :] * c[:, :-1, :]).reshape(b, -1).mean(axis=1)
    rho = np.where(var > 1e-8, num / 2 / np.maximum(var, 1e-8), 1.0)
    # bands: share of pixels exactly equal (every channel) to their neighbour below, or to their right
    q8 = np.rint(batch * 255).astype(np.int32)
    rgb = (q8[..., 0] << 16) | (q8[..., 1] << 8) | q8[..., 2]
    same_y = (rgb[:, 1:] == rgb[:, :-1]).reshape(b, -1).mean(axis=1)
    same_x = (rgb[:, :, 1:] == rgb[:, :, :-1]).reshape(b, -1).mean(axis=1)
    bands = np.maximum(same_y, same_x)
    # thin near-white achromatic strokes
    white = (lo >= 0.7) & (hi - lo <= 0.15)
    p = np.pad(grey, ((0, 0), (2, 2), (2, 2)), mode="edge")
    s = grey.shape[1]
    side_x = np.maximum(p[:, 2:-2, :s], p[:, 2:-2, 4:])
    side_y = np.maximum(p[:, :s, 2:-2], p[:, 4:, 2:-2])
    thin = (grey - side_x >= 0.15) | (grey - side_y >= 0.15)
    strokes = (white & thin).reshape(b, -1).mean(axis=1)
    # bubbles: thin bright rims and glints, the white top-hat of the darkest channel (a white rim
    # lifts every channel, a red vessel or fold does not), counted on tissue away from black masks
    tissue = _filter3(_filter3(hi, np.minimum), np.minimum) > 0.08
    tophat = lo - _filter3(_filter3(lo, np.minimum), np.maximum)
    glints = ((tophat >= 0.12) & tissue).reshape(b, -1).sum(axis=1) / np.maximum(tissue.reshape(b, -1).sum(axis=1), 1)
    # detail in the middle of the frame, at half resolution, in its weakest direction: masks, text
    # and corners stay sharp when the scene is defocused, and motion blur smears one direction only
    inner = _crop(grey, 0.5).reshape(b, -1).var(axis=1).astype(np.float64)
    detail = _second_differences(_crop(half, 0.5)).min(axis=1).astype(np.float64) / np.maximum(inner, 1e-8)
    # a smear along one direction: tissue texture has detail every way, motion blur leaves one way bare
    ways = _second_differences(_crop(grey, 0.5)).astype(np.float64)
    streak = np.log2(np.maximum(ways.max(axis=1), 1e-12) / np.maximum(ways.min(axis=1), 1e-12))
    return {
        "std": std.astype(np.float64), "q95": _quantile(flat, 0.95).astype(np.float64),
        "q10": _quantile(flat, 0.10).astype(np.float64), "entropy": entropy, "white": pale.astype(np.float64),
        "sharpness": sharp, "rho": rho.astype(np.float64), "bands": bands.astype(np.float64),
        "strokes": strokes.astype(np.float64), "glints": glints.astype(np.float64), "detail": detail,
        "streak": streak,
    }


def _reference(value: np.ndarray, ok: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """Each frame's reference: the median of ``value`` over the contrasty frames of its group (centre)."""
    return _robust(value, ok, groups)[0]


def _robust(value: np.ndarray, ok: np.ndarray, groups: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's (median, spread) of ``value``: the median over the contrasty frames of its group
    (centre), or of the whole pool when the group has fewer than 5 of them; the spread is 1.4826 x
    the median absolute deviation from those medians, pooled over the whole pool (centres shift the
    level; a few dozen frames a centre are too few for a steady spread)."""
    if groups is None:
        groups = np.zeros(value.shape[0], dtype=np.int64)
    good = ok if ok.any() else np.ones_like(ok)
    mid = np.full_like(value, np.median(value[good]))
    for g in np.unique(groups):
        member = groups == g
        if (member & good).sum() >= 5:
            mid[member] = np.median(value[member & good])
    spread = 1.4826 * float(np.median(np.abs(value[good] - mid[good])))
    return mid, np.full_like(value, spread)


def _halvings(value: np.ndarray, ok: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """How far below its group's median a frame lies, in halvings, over the pool's robust spread of
    halvings: a robust z-score of log2(value)."""
    logs = np.log2(np.maximum(value, 1e-12))
    mid, spread = _robust(logs, ok, groups)
    return (mid - logs) / np.maximum(spread, BLUR_MIN_SPREAD)


def issue_scores(f: dict[str, np.ndarray], groups: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-issue scores from the raw measurements (0 = the issue starts to show, 1 = a clear case).
    ``groups`` (one label a frame, e.g. its centre) makes blur and bubbles relative to the frame's own group."""
    contrast = np.minimum(1.0, f["std"] / 0.05)
    ok = contrast >= 1
    flat = np.clip((f["bands"] - 0.5) / 0.4, 0.0, 1.0)  # a flat synthetic frame is not "blurred"
    whole, middle = _halvings(f["sharpness"], ok, groups), _halvings(f["detail"], ok, groups)
    soft = np.maximum(whole, middle) / BLUR_CLEAR
    streak = (f["streak"] - STREAK_FROM) / STREAK_CLEAR
    blur = np.maximum(soft, streak) * contrast * (1.0 - flat)
    glints = f["glints"] - _reference(f["glints"], ok, groups)
    return {
        "dark": (0.45 - f["q95"]) / 0.45,
        "bright": np.maximum((f["q10"] - 0.5) / 0.5, (f["white"] - BRIGHT_FROM) / BRIGHT_CLEAR),
        "blank": np.maximum((2.5 - f["entropy"]) / 2.5, (0.02 - f["std"]) / 0.02),
        "pattern": np.minimum(1.0, f["std"] / 0.1) * (f["bands"] - 0.5) / 0.4,
        "overlay": (f["strokes"] - 0.02) / 0.05,
        "noise": (0.5 - f["rho"]) / 0.5,
        "bubbles": np.minimum(BUBBLES_CAP, (glints - BUBBLES_FROM) / BUBBLES_CLEAR),
        "blur": blur,
        "jpeg": np.minimum(1.0, (f["blocks"] - JPEG_FROM) / JPEG_CLEAR),
    }


def blockiness(img: np.ndarray) -> float:
    """JPEG blocks at the file's own resolution: how much larger the grey steps are across the 8-pixel
    grid than between the grid lines, in rows and in columns at their best-aligned phase (a crop may
    have shifted the grid), the weaker of the two: compression blocks both ways, a striped scene one.
    About 1 for camera frames and light compression."""
    img = np.asarray(img)
    grey = img.astype(np.float32) if img.ndim == 2 else img[..., :3].astype(np.float32) @ np.float32([0.299, 0.587, 0.114])
    ratios = []
    for steps in (np.abs(np.diff(grey, axis=1)), np.abs(np.diff(grey, axis=0)).T):
        k = steps.shape[1] // 8
        if k < 2:
            return 1.0
        phase = steps[:, : 8 * k].reshape(steps.shape[0], k, 8).mean(axis=(0, 1))
        best = int(phase.argmax())
        rest = (phase.sum() - phase[best]) / 7
        ratios.append(phase[best] / max(rest, 1e-3))
    return float(min(ratios))


def measure(load_images: Any, n: int, size: int, progress: Any = None) -> dict[str, np.ndarray]:
    """Raw measurements of pool images ``0..n-1``, read in batches."""
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, n, BATCH):
        idx = list(range(start, min(n, start + BATCH)))
        small, blocks = [], []
        for img in load_images(idx):  # one full-size image at a time: large frames are megabytes each
            blocks.append(blockiness(img))
            small.append(_resize(img, size))
        if len(small) != len(idx):
            raise DelbenchError(f"quality: load_images gave {len(small)} images for {len(idx)} indices")
        parts.append(features(np.stack(small)))
        parts[-1]["blocks"] = np.array(blocks, dtype=np.float64)
        if progress is not None:
            progress(min(n, start + BATCH) / n, "quality: measuring images")
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}


class QualityFilter(SelectsMany):
    """Drop the frames with the worst image issue (blur, dark, bright, blank, pattern, overlay, noise, bubbles)."""

    name = "quality"

    def __init__(self, issues: str | Sequence[str] = "all", size: int = 64, screen_at: float = 0.5) -> None:
        if isinstance(issues, str):
            wanted = list(ISSUES) if issues.strip() in ("", "all") else [s.strip() for s in issues.split(",") if s.strip()]
        else:
            wanted = [str(s).strip() for s in issues]
        bad = [s for s in wanted if s not in ISSUES]
        if bad or not wanted:
            raise DelbenchError(f"quality: issues={issues!r} not understood; use all or a comma list of {', '.join(ISSUES)}")
        self.issues = [s for s in ISSUES if s in wanted]
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 8 <= int(size) <= 1024:
            raise DelbenchError(f"quality: size={size!r} is the pixel size analysed and must be an integer in [8, 1024]")
        self.size = int(size)
        if isinstance(screen_at, bool) or not isinstance(screen_at, (int, float)) or not 0.0 < float(screen_at) <= 1.0:
            raise DelbenchError(f"quality: screen_at={screen_at!r} is the badness a screen removes from, in (0, 1]")
        self.screen_at = float(screen_at)
        self._last: tuple[str, Any] | None = None

    def scores(self, request: SelectionRequest) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """(badness [N], worst issue index into self.issues [N], per-issue scores). The last answer is
        kept for the same images (by the pool's ``sha256`` column): a pipeline whose screen leaves too
        few items asks the screen again to meet the budget, and reading every image twice is the
        whole cost."""
        if request.load_images is None:
            raise DelbenchError("quality: needs the pool images (pass --pool manifest.parquet with the images beside it)")
        key = _content_key(request)
        if key is not None and self._last is not None and self._last[0] == key:
            return self._last[1]
        f = measure(request.load_images, request.n, self.size, request.progress)
        groups = None
        if request.pool is not None and "center" in request.pool.columns and len(request.pool) == request.n:
            groups = np.unique(request.pool["center"].astype(str).fillna("").to_numpy(), return_inverse=True)[1]
        every = issue_scores(f, groups)
        table = np.stack([every[s] for s in self.issues], axis=1)
        table = np.where(np.isfinite(table), table, 0.0)
        answer = table.max(axis=1), table.argmax(axis=1), {s: every[s] for s in self.issues}
        self._last = None if key is None else (key, answer)
        return answer

    def screen(self, request: SelectionRequest) -> Selection:
        """As the first stage of a pipeline (``quality>meddel``): keep every frame whose badness is
        below ``screen_at`` (0.5: halfway to a clear case), whatever the budget."""
        badness, worst, _ = self.scores(request)
        bad = badness >= self.screen_at
        reasons = {f"quality:{s}": np.flatnonzero(bad & (worst == i)) for i, s in enumerate(self.issues)}
        return Selection(indices=np.flatnonzero(~bad), reasons={k: v for k, v in reasons.items() if v.size},
                         info={"screen_at": self.screen_at}, badness=badness)

    def select_many(self, request: SelectionRequest, ratios: Iterable[float]) -> dict[float, Selection]:
        from delbench.select.similarity import removal_order

        ratios = [check_ratio(r) for r in ratios]
        n = request.n
        badness, worst, per = self.scores(request)
        order = removal_order(badness, request.seed)
        out = {}
        for r in ratios:
            keep = target_count(r, n)
            removed, kept = order[: n - keep], order[n - keep :]
            reasons = {f"quality:{s}": removed[worst[removed] == i] for i, s in enumerate(self.issues)}
            reasons = {k: v for k, v in reasons.items() if v.size}
            info: dict[str, Any] = {
                "ratio": r, "issues": list(self.issues), "size": self.size,
                "threshold": float(badness[kept].max()) if kept.size else None,
                "removed": {k: int(v.size) for k, v in reasons.items()},
                "flagged": {s: int((per[s] > 0).sum()) for s in self.issues},
            }
            out[r] = Selection(indices=kept, reasons=reasons, info=info)
        return out


def _content_key(request: SelectionRequest) -> str | None:
    """A digest of which images, in which order, a request holds (their files' sha256 and the pool's
    centres, which the blur reference depends on); None when the pool does not record file hashes."""
    import hashlib

    pool = request.pool
    if pool is None or "sha256" not in pool.columns or len(pool) != request.n or pool["sha256"].isna().any():
        return None
    digest = hashlib.sha256("\0".join(pool["sha256"].astype(str)).encode())
    if "center" in pool.columns:
        digest.update(("\1" + "\0".join(pool["center"].fillna("").astype(str))).encode())
    return digest.hexdigest()


@hookimpl
def delbench_register_selectors(register):
    register(QualityFilter)
