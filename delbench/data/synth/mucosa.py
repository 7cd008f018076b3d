"""Procedural colon: a textured tube wall and a camera looking down it.

The wall lives in tube coordinates ``(u, v)``: u is arc length around the tube (radius 1, so it wraps
at 2π) and v is distance along it. A pixel at radius r from the lumen centre sees the wall at depth
z = f·(1 − h)/r (perspective onto a cylinder, h = inward height), which gives the dark vanishing lumen,
bright near wall and ring-shaped folds of real colonoscopy for free. With the lumen centre far off
screen the same formula yields a close-up of the wall, the usual view of a polyp.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from delbench.data.synth.noise import blur, blur_periodic, sample_wrap, spectral_noise
from delbench.data.synth.polyps import PolypSpec, stamp_polyps

TWO_PI = float(2 * np.pi)

# texture channels
ALB_R, ALB_G, ALB_B, HEIGHT, POLYP, WET = range(6)


@dataclass(frozen=True)
class Camera:
    """One view: lumen centre on screen, position along the tube, roll and focal length."""

    cx: float
    cy: float
    t: float
    roll: float = 0.0
    f: float = 1.0


@dataclass
class World:
    tex: np.ndarray  # [9, nu, nv] float32: the 6 channels, then blurred albedo

    du: float
    polyps: list[PolypSpec] = field(default_factory=list)


def palette(rng: np.random.Generator) -> np.ndarray:
    """A mucosa base colour: from pale pink through salmon to orange-red, as seen across patients."""
    pink = np.array([0.95, 0.50, 0.44])
    orange = np.array([0.98, 0.56, 0.30])
    red = np.array([0.88, 0.34, 0.24])
    a, b = rng.dirichlet([2.0, 1.5, 1.0]), rng.normal(0, 0.03, 3)
    return np.clip(a[0] * pink + a[1] * orange + a[2] * red + b, 0.05, 1.0)


def make_world(
    rng: np.random.Generator,
    nu: int,
    nv: int,
    polyps: list[PolypSpec] | None = None,
    base: np.ndarray | None = None,
) -> World:
    """Generate wall texture, folds, vessels and polyps on an ``nu × nv`` texel grid."""
    du = TWO_PI / nu
    length = nv * du

    def cyc(wavelength: float) -> float:
        return length / wavelength

    warp, bumps, cvar, vis, ves_a, ves_b, grain, pits, gloss = spectral_noise(
        rng,
        (nu, nv),
        [
            (0.5, cyc(2.5), 2.0),
            (cyc(3.0), cyc(0.6), 1.0),
            (0.5, cyc(1.5), 2.0),
            (0.5, cyc(1.2), 2.0),
            (cyc(1.0), cyc(0.35), 0.0),
            (cyc(0.35), cyc(0.12), 0.0),
            (cyc(0.08), cyc(0.02), 0.0),
            (cyc(0.05), cyc(0.02), 0.0),
            (cyc(0.15), cyc(0.05), 0.0),
        ],
    )
    v = (np.arange(nv, dtype=np.float32) * du)[None, :]
    period = rng.uniform(0.7, 1.4)
    amp = rng.uniform(0.10, 0.22)
    # haustral folds: narrow inward ridges across the tube, warped so they are never perfect rings
    phase = (v + 0.7 * warp) / period
    ridge = (0.5 + 0.5 * np.cos(TWO_PI * phase)) ** rng.uniform(3.0, 5.0)
    fold_gain = np.clip(0.7 + 0.5 * vis + 0.2 * bumps, 0.0, 1.3)
    # the low-frequency term keeps the tube's cross-section irregular, so folds are not bullseyes
    height = amp * ridge * fold_gain + 0.15 * np.clip(cvar, -2, 2) + 0.012 * bumps + 0.0015 * grain

    base = palette(rng) if base is None else base
    tint = np.array([1.0, 1.5, 1.7], dtype=np.float32)[:, None, None]
    alb = base.astype(np.float32)[:, None, None] * (1 + 0.07 * cvar[None] * tint)
    alb = alb * (1 - 0.04 * grain[None])
    # vessels: zero crossings of band-pass noise give a branching network, visible in patches
    vis_a = np.clip(0.55 + 0.45 * vis, 0, 1)
    vessels = np.exp(-((ves_a / 0.09) ** 2)) * vis_a * rng.uniform(0.45, 0.8)
    vessels = np.maximum(vessels, np.exp(-((ves_b / 0.07) ** 2)) * vis_a * rng.uniform(0.25, 0.5))
    ves_col = np.array([0.82, 0.45, 0.55], dtype=np.float32)[:, None, None]
    alb = alb * (1 - vessels[None] * (1 - ves_col))
    # folds catch more light scatter: their crests look slightly paler
    alb = alb * (1 + 0.12 * ridge[None] * np.array([0.2, 0.8, 0.8], dtype=np.float32)[:, None, None])

    wet = np.clip(0.5 + 0.25 * gloss, 0, 1)
    tex = np.concatenate([alb, height[None], np.zeros((1, nu, nv), np.float32), wet[None]]).astype(np.float32)
    polyps = list(polyps or [])
    if polyps:
        stamp_polyps(tex, du, polyps, pits, rng)
    # the blurred copy serves where the view minifies the wall
    both = np.concatenate([tex, blur_periodic(tex[:3], 2.0)])
    return World(tex=both, du=du, polyps=polyps)


def render(world: World, cam: Camera, X: np.ndarray, Y: np.ndarray, zmax: float = 7.0) -> tuple[np.ndarray, np.ndarray]:
    """Render RGB ``[H, W, 3]`` (auto-exposed, highlights above 1) and the polyp mask ``[H, W]``."""
    w = X.shape[1]
    dx = X - cam.cx
    dy = Y - cam.cy
    r = np.sqrt(dx * dx + dy * dy) + 1e-4
    theta = np.arctan2(dy, dx) + cam.roll
    iu = theta / world.du
    z = np.minimum(cam.f / r, zmax)
    for _ in range(2):
        hh = sample_wrap(world.tex[HEIGHT : HEIGHT + 1], iu, (cam.t + z) / world.du)[0]
        z = np.minimum(cam.f * (1 - hh) / r, zmax)
    iv = (cam.t + z) / world.du
    both = sample_wrap(world.tex, iu, iv)
    sharp, soft = both[:6], both[6:]
    # texels per pixel: where the view minifies the wall, use the blurred copy to avoid aliasing
    foot = (2.0 / w) * np.maximum(z * z, z) / cam.f / world.du
    mix = np.clip((foot - 1.0) / 2.0, 0, 1)
    alb = sharp[:3] * (1 - mix) + soft * mix

    # bilinear texels are flat facets; smoothing depth over a texel keeps magnified shading round
    px_per_texel = 1.0 / max(float(np.median(foot)), 1e-3)
    zs = blur(z, float(np.clip(0.6 * px_per_texel, 0.7, 6.0)))
    P = np.stack([dx * zs / cam.f, dy * zs / cam.f, zs])
    gy = np.gradient(P, axis=1)
    gx = np.gradient(P, axis=2)
    n = np.cross(gx, gy, axis=0)
    n /= np.linalg.norm(n, axis=0, keepdims=True) + 1e-9
    dist = np.linalg.norm(P, axis=0) + 1e-6
    ndv = -(n * P).sum(axis=0) / dist
    ndv = np.abs(ndv)
    dist2 = dist * dist
    # the lumen fades into darkness rather than ending on the clipping plane
    diffuse = ndv / (dist2 + 0.02) ** 0.7 * np.clip((zmax - z) / (0.4 * zmax), 0, 1) ** 2
    expo = 1.0 / (np.percentile(diffuse, 97) + 1e-6)
    diffuse = diffuse * expo
    alb = np.moveaxis(alb, 0, -1)
    rgb = alb * (0.03 + diffuse)[..., None]
    # wet mucosa: sharp white highlights where the surface faces the co-located light
    near = np.minimum(expo / (dist2 + 0.02), 3.0)
    sparkle = np.clip((sharp[WET] - 0.92) / 0.04, 0, 1)
    spec = (ndv**120) * (0.8 + 1.5 * sharp[WET]) * near + sparkle * (ndv**10) * near * 2.5
    rgb = rgb + spec[..., None] * np.array([1.0, 0.97, 0.95], dtype=np.float32)
    # polyps deep in the dark lumen are invisible, so they are not labelled either
    mask = (sharp[POLYP] > 0.5) & (z < 2.5)
    return rgb.astype(np.float32), mask
