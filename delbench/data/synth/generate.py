"""The driver: scales, the pool (video by video, streamed to disk) and the tasks, then the manifest."""
from __future__ import annotations

import hashlib
import io
from dataclasses import asdict, dataclass
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from delbench.errors import DelbenchError
from delbench.progress import Progress

# Bumped whenever a root's files or ground truth change, so cached roots (named by it) are regenerated.
# 2: a disruption inside a camera segment no longer splits its clean frames into two groups.
SYNTH_VERSION = 2
INFO_NAME = "synth.json"


@dataclass(frozen=True)
class Scale:
    """How much to generate. Pool frames are square; task images scale by ``task_factor``."""

    name: str
    pool_px: int
    centers: tuple[str, ...]
    videos_per_center: int
    frames_per_video: int
    task_images: int  # per task
    task_factor: float
    disruptive_rate: float = 0.32
    polyp_video_rate: float = 0.5
    # Long dwells: this share of the videos holds each camera position for `hold_frames` frames, so a
    # few scenes fill much of the pool, as in real examinations (near-duplicates that cost a budget).
    hold_rate: float = 0.0
    hold_frames: int = 1
    # Relative frequency of each disruption type; empty = camera.DISRUPTIONS.
    disruption_mix: tuple[tuple[str, float], ...] = ()
    # View drift that starts a new near-duplicate group (camera.segments); smaller = tighter groups.
    group_threshold: float = 0.5

    @property
    def pool_frames(self) -> int:
        return len(self.centers) * self.videos_per_center * self.frames_per_video


_POOL6 = ("c1", "c2", "c3", "c4", "c5", "c6")
SCALES: dict[str, Scale] = {
    s.name: s
    for s in (
        Scale("ci", 64, _POOL6, 3, 16, 48, 0.6),
        # smoke: tight near-duplicate groups and long dwells, so that redundancy costs a subset
        # something; 400 images per task, so that a test split (about 80) measures a difference
        Scale("smoke", 80, _POOL6, 8, 40, 400, 0.8, hold_rate=0.5, hold_frames=20, group_threshold=0.15),
        Scale("small", 96, _POOL6 + ("c8",), 40, 60, 400, 1.0),
        Scale("large", 128, _POOL6 + ("c8",), 480, 32, 1000, 1.5),
    )
}


def get_scale(name: str | Scale) -> Scale:
    if isinstance(name, Scale):
        return name
    if name not in SCALES:
        raise DelbenchError(f"unknown synthetic scale {name!r}; available: {', '.join(SCALES)}")
    return SCALES[name]


def encode_png(arr: np.ndarray) -> bytes:
    """PNG bytes with no metadata, so equal pixels always give equal files."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def _write(root: Path, rel: str, arr: np.ndarray) -> str:
    data = encode_png(arr)
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def generate(
    out: Path | str,
    scale: str | Scale = "smoke",
    seed: int = 0,
    progress: Progress | None = None,
    overwrite: bool = False,
    workers: int | None = None,
) -> Path:
    """Write a synthetic DataDEL root at ``out`` and return it.

    ``scale`` names an entry of ``SCALES`` (or is a custom ``Scale``). The root is built in a
    temporary directory beside ``out`` and renamed into place, so an interrupted run leaves no
    partial dataset. ``progress(fraction, "pool 120/288")`` is called as images are written. An existing
    non-empty ``out`` is refused unless ``overwrite``. ``workers`` processes share the videos and task
    batches (default: up to 4 CPUs, 1 for tiny scales); the output does not depend on it.
    """
    import pandas as pd

    from delbench.store.atomic import atomic_dir, write_json
    from delbench.data.manifest import write_manifest

    sc = get_scale(scale)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise DelbenchError(f"{out} already exists and is not empty; choose another --out or pass --force")
    if workers is None:
        workers = 1 if sc.pool_frames < 1000 else max(1, min(4, os.cpu_count() or 1))
    with atomic_dir(out) as tmp:
        cols: dict[str, list[Any]] = {}
        totals = {"pool": sc.pool_frames, "tasks": sc.task_images * _n_tasks()}
        done = {"pool": 0, "tasks": 0}
        groups = 0
        for stage, rows in _run(tmp, sc, seed, workers):
            if stage == "pool":
                # group ids are per video in the workers; number them globally in video order
                local = rows["gt_group"]
                rows["gt_group"] = [groups + int(g) for g in local]
                groups += max(local) + 1
            for k, v in rows.items():
                cols.setdefault(k, []).extend(v)
            done[stage] += len(rows["id"])
            if progress is not None:
                progress(sum(done.values()) / sum(totals.values()), f"{stage} {done[stage]}/{totals[stage]}")
        frame = pd.DataFrame(cols)
        write_manifest(tmp, frame)
        pool = frame[frame["role"] == "pool"]
        info: dict[str, Any] = {
            "generator": "delbench.data.synth",
            "version": SYNTH_VERSION,
            "scale": asdict(sc),
            "seed": seed,
            "pool_frames": int(len(pool)),
            "task_images": {k: int(v) for k, v in frame[frame["role"] == "task"].groupby("task").size().items()},
            "quality_counts": {k: int(v) for k, v in pool["gt_quality"].value_counts().sort_index().items()},
            "polyp_frames": int(pool["gt_polyp"].astype(bool).sum()),
        }
        write_json(tmp / INFO_NAME, info)
    return out


_ROW_KEYS = (
    "id", "path", "sha256", "width", "height", "source", "center", "video", "frame", "role", "task", "split",
    "mask_path", "mask_sha256", "gt_quality", "gt_group", "gt_polyp",
)


def _n_tasks() -> int:
    from delbench.data.synth.tasks import TASKS

    return len(TASKS)


def _units(sc: Scale) -> list[tuple[str, int, int]]:
    from delbench.data.synth.tasks import PER_WORLD, TASKS

    units = [("pool", ci, vi) for ci in range(len(sc.centers)) for vi in range(sc.videos_per_center)]
    batches = -(-sc.task_images // PER_WORLD)
    units += [("tasks", ti, b) for ti in range(len(TASKS)) for b in range(batches)]
    return units


def _run(root: Path, sc: Scale, seed: int, workers: int) -> Iterator[tuple[str, dict[str, list[Any]]]]:
    """Each unit (a video, or a batch of task images) in order, in this process or in a pool."""
    args = [(str(root), sc, seed, u) for u in _units(sc)]
    if workers <= 1:
        yield from map(_unit, args)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the caller may hold threads (torch, BLAS) that fork would copy half-alive
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as ex:
        yield from ex.map(_unit, args, chunksize=1)


def _unit(arg: tuple[str, Scale, int, tuple[str, int, int]]) -> tuple[str, dict[str, list[Any]]]:
    root, sc, seed, (stage, i, j) = arg
    rows = _video(Path(root), sc, seed, i, j) if stage == "pool" else _task_batch(Path(root), sc, seed, i, j)
    # every unit returns every column (None where a row has no value), so columns stay aligned
    return stage, {k: [r.get(k) for r in rows] for k in _ROW_KEYS}


def _video(root: Path, sc: Scale, seed: int, ci: int, vi: int) -> list[dict[str, Any]]:
    """Render one video of centre ``ci``; its generator depends only on (seed, ci, vi)."""
    from delbench.data.synth.camera import DISRUPTIONS, frame_groups, hold, make_video
    from delbench.data.synth.centers import CENTERS, apply_style
    from delbench.data.synth.disrupt import SCENE, SCREEN, scene_effect, screen_effect
    from delbench.data.synth.mucosa import make_world, render
    from delbench.data.synth.noise import grid
    from delbench.data.synth.polyps import instrument, random_polyp

    px = sc.pool_px
    X, Y = grid(px, px)
    nu = int(np.ceil(2.0 * px / 32)) * 32
    min_polyp_px = max(4, int(0.003 * px * px))
    kinds = list(DISRUPTIONS)
    center = sc.centers[ci]
    style = CENTERS[center]
    rng = np.random.default_rng([seed, 1, ci, vi])
    n = sc.frames_per_video
    force = kinds[(ci * sc.videos_per_center + vi) % len(kinds)]
    video = make_video(rng, n, start=rng.uniform(0, 2 * np.pi), rate=sc.disruptive_rate, force=force,
                       mix=dict(sc.disruption_mix) or None, seg_threshold=sc.group_threshold)
    if sc.hold_rate > 0:
        # its own generator, so scales without dwells render exactly as before
        dwell = np.random.default_rng([seed, 3, ci, vi])
        if dwell.random() < sc.hold_rate:
            video = hold(video, dwell, sc.hold_frames, sc.group_threshold)
    polyps = []
    if rng.random() < sc.polyp_video_rate:
        for _ in range(int(rng.integers(1, 3))):
            # place the polyp where the camera will look at some frame of the video
            cam = video.cams[int(rng.integers(0, n))]
            d = rng.uniform(-0.45, 0.45, 2) - np.array([cam.cx, cam.cy])
            z = float(np.clip(1.0 / (np.linalg.norm(d) + 1e-3), 0.45, 2.5))
            u = float(np.arctan2(d[1], d[0]) + cam.roll)
            polyps.append(random_polyp(rng, u % (2 * np.pi), (cam.t + z) % (2 * np.pi), rng.uniform(0.08, 0.3)))
    world = make_world(rng, nu, nu, polyps)
    tool = None
    if rng.random() < 0.15:
        tool = (rng.uniform(0, 2 * np.pi), rng.uniform(0.3, 1.0), rng.uniform(0.06, 0.12), int(rng.integers(0, n)))
    overlay_seed = int(rng.integers(2**31))
    video_name = f"{center}-v{vi:04d}"
    rows: list[dict[str, Any]] = []
    groups = frame_groups(video.groups, video.quality)
    for fi, cam in enumerate(video.cams):
        q = video.quality[fi]
        rgb, mask = render(world, cam, X, Y)
        if tool is not None and fi >= tool[3]:
            alpha, col = instrument(X, Y, tool[0] + 0.02 * (fi - tool[3]), tool[1], tool[2])
            rgb = rgb * (1 - alpha[..., None]) + col * alpha[..., None]
            mask = mask & (alpha < 0.5)
        if q in SCENE:
            rgb = scene_effect(q, rgb, X, Y, video.motion[fi], rng)
        img = apply_style(rgb, style, X, Y, rng, overlay_seed)
        if q in SCREEN:
            img = screen_effect(q, img, rng, ci)
        rel = f"pool/{center}/{video_name}/{fi:04d}.png"
        rows.append({
            "id": rel[: -len(".png")],
            "path": rel,
            "sha256": _write(root, rel, (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)),
            "width": px,
            "height": px,
            "source": "synthetic",
            "center": center,
            "video": video_name,
            "frame": fi,
            "role": "pool",
            "gt_quality": q,
            "gt_group": int(groups[fi]),
            "gt_polyp": bool(mask.sum() >= min_polyp_px) and q not in ("blank", "pattern"),
        })
    return rows


def _task_batch(root: Path, sc: Scale, seed: int, ti: int, b: int) -> list[dict[str, Any]]:
    """Render batch ``b`` of task ``ti``; its generator depends only on (seed, ti, b)."""
    from delbench.data.synth.tasks import PER_WORLD, TASKS, split_of, task_batch

    spec = TASKS[ti]
    rng = np.random.default_rng([seed, 2, ti, b])
    count = min(PER_WORLD, sc.task_images - b * PER_WORLD)
    rows = []
    for j, (center, img, mask) in enumerate(task_batch(spec, count, sc.task_factor, rng)):
        k = b * PER_WORLD + j
        stem = f"tasks/{spec.name}"
        rel, mrel = f"{stem}/images/{k:05d}.png", f"{stem}/masks/{k:05d}.png"
        item_id = f"{stem}/{k:05d}"
        rows.append({
            "id": item_id,
            "path": rel,
            "sha256": _write(root, rel, img),
            "width": img.shape[1],
            "height": img.shape[0],
            "source": "synthetic",
            "center": center,
            "role": "task",
            "task": spec.name,
            "split": split_of(item_id),
            "mask_path": mrel,
            "mask_sha256": _write(root, mrel, mask),
            "gt_polyp": True,
        })
    return rows
