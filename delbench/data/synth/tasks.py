"""Downstream polyp-segmentation tasks: polyp-centred views with exact binary masks, fixed splits."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from delbench.data.synth.centers import CENTERS, CenterStyle, apply_style, fov_mask
from delbench.data.synth.mucosa import Camera, World, make_world, render
from delbench.data.synth.noise import grid
from delbench.data.synth.polyps import PolypSpec, random_polyp

SPLIT_FRACTIONS = (("train", 0.6), ("val", 0.2), ("test", 0.2))


@dataclass(frozen=True)
class TaskSpec:
    name: str
    centers: tuple[str, ...]
    size: tuple[int, int]  # (width, height) at scale factor 1
    polyp_screen: tuple[float, float]  # apparent polyp radius, in half image widths
    like: str  # the public dataset whose character it imitates


TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("syn-kvasir", ("c1",), (128, 112), (0.22, 0.6), "Kvasir-SEG: large polyps, close views"),
    TaskSpec("syn-clinic", ("c2",), (128, 96), (0.12, 0.35), "CVC-ClinicDB: 4:3 frames, medium polyps"),
    TaskSpec("syn-etis", ("c7",), (160, 128), (0.07, 0.18), "ETIS-Larib: small polyps, larger frames, unseen centre"),
    TaskSpec("syn-polypgen", ("c3", "c4", "c5", "c6"), (144, 120), (0.08, 0.45), "PolypGen: several centres, mixed sizes"),
)


def split_of(item_id: str) -> str:
    """train/val/test from a hash of the id alone, so a split never depends on seed or scale."""
    x = int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:8], "big") / 2.0**64
    acc = 0.0
    for name, frac in SPLIT_FRACTIONS:
        acc += frac
        if x < acc:
            return name
    return SPLIT_FRACTIONS[-1][0]


PER_WORLD = 4  # task images rendered from one generated wall, each centred on its own polyp


def task_shape(spec: TaskSpec, factor: float) -> tuple[int, int]:
    """(height, width) of the task's images at a scale's ``task_factor``."""
    w = max(32, int(round(spec.size[0] * factor / 8)) * 8)
    h = max(32, int(round(spec.size[1] * factor / 8)) * 8)
    return h, w


def task_batch(spec: TaskSpec, count: int, factor: float, rng: np.random.Generator) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield up to ``count`` (<= PER_WORLD) ``(center, image uint8 [H, W, 3], mask uint8 [H, W] 0/255)``
    views of one generated wall; batches are independent so they can be made in parallel."""
    h, w = task_shape(spec, factor)
    X, Y = grid(h, w)
    nu = int(np.ceil(2.0 * w / 32)) * 32
    center = spec.centers[int(rng.integers(len(spec.centers)))]
    style = CENTERS[center]
    vs = (np.arange(PER_WORLD) + 0.5) * (2 * np.pi / PER_WORLD)
    radii = rng.uniform(0.12, 0.32, PER_WORLD)
    polyps = [random_polyp(rng, rng.uniform(0, 2 * np.pi), v, r) for v, r in zip(vs, radii)]
    world = make_world(rng, nu, nu, polyps)
    for p in polyps[:count]:
        for _attempt in range(6):
            img, mask = _view(world, p, spec, style, X, Y, rng)
            if 0.004 < mask.mean() / 255.0 < 0.7:
                break
        yield center, img, mask


def _view(world: World, polyp: PolypSpec, spec: TaskSpec, style: CenterStyle, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    apparent = rng.uniform(*spec.polyp_screen)
    z0 = float(np.clip(polyp.radius / apparent, 0.35, 4.0))
    target = rng.uniform(-0.35, 0.35, 2) * np.array([1.0, X.shape[0] / X.shape[1]])
    roll = rng.uniform(0, 2 * np.pi)
    phi = polyp.u - roll
    r0 = (1 - polyp.height) / z0
    cam = Camera(cx=float(target[0] - r0 * np.cos(phi)), cy=float(target[1] - r0 * np.sin(phi)), t=polyp.v - z0, roll=roll)
    rgb, mask = render(world, cam, X, Y)
    # masks, like the public sets', cover only what the scope shows
    fov = fov_mask(style, X, Y) > 0.5
    out = apply_style(rgb, style, X, Y, rng, overlay_seed=int(rng.integers(2**31)))
    return (out * 255 + 0.5).astype(np.uint8), ((mask & fov) * 255).astype(np.uint8)
