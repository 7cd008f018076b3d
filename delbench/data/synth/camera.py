"""Camera paths for videos, near-duplicate grouping, and disruption schedules."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from delbench.data.synth.mucosa import Camera
from delbench.data.synth.noise import smooth_path

# Disruption types and their relative frequency among disruptive frames.
DISRUPTIONS: dict[str, float] = {
    "blur": 0.26,
    "defocus": 0.12,
    "dark": 0.12,
    "bright": 0.11,
    "bubbles": 0.15,
    "overlay": 0.10,
    "blank": 0.08,
    "pattern": 0.06,
}
QUALITIES: tuple[str, ...] = ("clean", *DISRUPTIONS)


@dataclass(frozen=True)
class Video:
    cams: list[Camera]
    motion: np.ndarray  # [n, 2] screen-space motion per frame, drives motion blur
    groups: np.ndarray  # [n] near-duplicate segment index within the video
    quality: list[str]


def trajectory(rng: np.random.Generator, n: int, start: float) -> tuple[list[Camera], np.ndarray]:
    """A smooth path: the lumen wanders across (and at times off) the screen while the scope advances."""
    wander = smooth_path(rng, n, smooth=rng.uniform(12, 30), dims=2)
    reach = rng.uniform(0.3, 0.8)
    # some stretches look at the wall from close by, with the lumen far off screen
    offset = rng.normal(0, 0.5, 2) * (rng.random() < 0.35) * 2.0
    cx = offset[0] + reach * wander[:, 0]
    cy = offset[1] + reach * wander[:, 1]
    speed = rng.uniform(0.006, 0.025) * (1 + 0.6 * smooth_path(rng, n, smooth=8)[:, 0])
    t = start + np.cumsum(speed)
    roll = rng.uniform(0, 2 * np.pi) + 0.25 * np.cumsum(smooth_path(rng, n, smooth=10)[:, 0]) / max(np.sqrt(n), 1)
    jitter = rng.normal(0, 0.004, (n, 2))
    cams = [Camera(cx=float(cx[i] + jitter[i, 0]), cy=float(cy[i] + jitter[i, 1]), t=float(t[i]), roll=float(roll[i])) for i in range(n)]
    motion = np.stack([np.gradient(cx), np.gradient(cy)], axis=1) + np.abs(speed)[:, None] * 0.5
    return cams, motion


def segments(cams: list[Camera], threshold: float) -> np.ndarray:
    """Cut a video where the view has drifted by ``threshold`` since the segment began."""
    groups = np.zeros(len(cams), dtype=np.int64)
    g, ref = 0, cams[0]
    for i, c in enumerate(cams):
        drift = abs(c.cx - ref.cx) + abs(c.cy - ref.cy) + 2.0 * abs(c.t - ref.t) + 0.5 * abs(c.roll - ref.roll)
        if drift > threshold:
            g, ref = g + 1, c
        groups[i] = g
    return groups


def frame_groups(segment: np.ndarray, quality: list[str]) -> np.ndarray:
    """Ground-truth near-duplicate groups, numbered 0, 1, ... in order of first frame.

    A group is one camera segment and one quality. A disruption does not cut the segment: the clean
    frames before and after a burst show the same view, so they are copies of each other. Its frames
    get a group of their own (one per segment and type), so that a group never mixes a usable view
    with junk, as in planted pools, and the oracle's one member per group is always a clean one.
    """
    ids: dict[tuple[int, str], int] = {}
    return np.array([ids.setdefault((int(s), q), len(ids)) for s, q in zip(segment, quality)], dtype=np.int64)


def schedule(rng: np.random.Generator, n: int, rate: float, force: str | None = None,
             mix: dict[str, float] | None = None) -> list[str]:
    """Which frames are disrupted: bursts of one type, plus blank/test-pattern lead-ins, as in recordings.

    ``force`` guarantees one burst of that type, so that even a tiny root holds every type.
    """
    quality = ["clean"] * n
    mix = mix or DISRUPTIONS
    names = list(mix)
    probs = np.array(list(mix.values()), dtype=float)
    probs /= probs.sum()
    if rng.random() < 0.3:
        lead = int(rng.integers(1, max(2, n // 10)))
        kind = "blank" if rng.random() < 0.6 else "pattern"
        quality[:lead] = [kind] * lead
    mean_run = 3.0
    # starts per frame so that about `rate` of the frames end up disrupted
    p_start = rate / (mean_run * (1 - rate) + rate)
    i = 0
    while i < n:
        if quality[i] == "clean" and rng.random() < p_start:
            kind = names[int(rng.choice(len(names), p=probs))]
            run = int(rng.geometric(1 / mean_run))
            for j in range(i, min(n, i + run)):
                quality[j] = kind
            i += run
        else:
            i += 1
    if force is not None and force not in quality:
        run = min(n, int(rng.integers(1, 4)))
        at = int(rng.integers(0, n - run + 1))
        quality[at : at + run] = [force] * run
    return quality


def make_video(
    rng: np.random.Generator, n: int, start: float, rate: float, seg_threshold: float = 0.5, force: str | None = None,
    mix: dict[str, float] | None = None,
) -> Video:
    cams, motion = trajectory(rng, n, start)
    return Video(cams=cams, motion=motion, groups=segments(cams, seg_threshold), quality=schedule(rng, n, rate, force, mix))


def hold(video: Video, rng: np.random.Generator, frames: int, seg_threshold: float = 0.5) -> Video:
    """The scope dwells: the camera stays (up to a tremor) at one position for ``frames`` frames at a
    time, as in long examinations where a scene fills many seconds of video. Disruptions keep their
    schedule; near-duplicate groups are recut from the held path."""
    n = len(video.cams)
    base = (np.arange(n) // frames) * frames
    tremor = rng.normal(0, 0.002, (n, 2))
    cams = [Camera(cx=video.cams[b].cx + float(tremor[i, 0]), cy=video.cams[b].cy + float(tremor[i, 1]),
                   t=video.cams[b].t, roll=video.cams[b].roll) for i, b in enumerate(base)]
    motion = np.abs(tremor) + 1e-3
    return Video(cams=cams, motion=motion, groups=segments(cams, seg_threshold), quality=video.quality)
