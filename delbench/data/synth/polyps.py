"""Polyps (raised, smooth, lobulated domes stamped into the wall texture) and instruments (screen space)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PolypSpec:
    """A polyp on the wall: centre (u, v) in tube units, base radius, inward height and look."""

    u: float
    v: float
    radius: float
    height: float
    lobes: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
    phases: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
    tint: tuple[float, float, float] = (1.0, 0.85, 0.85)
    profile: float = 0.6


def random_polyp(rng: np.random.Generator, u: float, v: float, radius: float) -> PolypSpec:
    """A polyp of the given footprint with random elongation, lobulation, height and colour."""
    lobes = tuple(float(x) for x in rng.uniform(0, 1, 4) * np.array([0.18, 0.09, 0.06, 0.04]))
    phases = tuple(float(x) for x in rng.uniform(0, 2 * np.pi, 4))
    kind = rng.random()
    if kind < 0.5:  # reddish adenoma
        tint = (1.0, rng.uniform(0.62, 0.78), rng.uniform(0.7, 0.85))
    elif kind < 0.8:  # pale hyperplastic
        tint = (1.05, rng.uniform(1.0, 1.12), rng.uniform(1.05, 1.25))
    else:  # darker, congested
        tint = (0.85, rng.uniform(0.6, 0.7), rng.uniform(0.65, 0.75))
    return PolypSpec(
        u=float(u),
        v=float(v),
        radius=float(radius),
        height=float(min(0.45, radius * rng.uniform(0.7, 1.3))),
        lobes=lobes,
        phases=phases,
        tint=tuple(float(x) for x in tint),
        profile=float(rng.uniform(0.35, 0.9)),
    )


def stamp_polyps(tex: np.ndarray, du: float, polyps: list[PolypSpec], pits: np.ndarray, rng: np.random.Generator) -> None:
    """Raise each polyp into ``tex`` (in place): height, albedo, polyp indicator and wetness."""
    nu, nv = tex.shape[1], tex.shape[2]
    for p in polyps:
        reach = p.radius * 1.35 / du
        cu, cv = p.u / du, p.v / du
        iu = np.arange(int(np.floor(cu - reach)), int(np.ceil(cu + reach)) + 1)
        iv = np.arange(int(np.floor(cv - reach)), int(np.ceil(cv + reach)) + 1)
        du_ = (iu - cu)[:, None] * du
        dv_ = (iv - cv)[None, :] * du
        ang = np.arctan2(dv_, du_)
        lob = sum(a * np.cos((k + 2) * ang + ph) for k, (a, ph) in enumerate(zip(p.lobes, p.phases)))
        rho = np.sqrt(du_**2 + dv_**2) / (p.radius * (1 + lob))
        inside = rho < 1.0
        a = iu[:, None] % nu
        b = iv[None, :] % nv
        sub_pits = pits[a, b]
        dome = p.height * np.clip(1 - rho**2, 0, 1) ** p.profile
        dome = dome * (1 + 0.015 * sub_pits)
        tex[3, a, b] = tex[3, a, b] + dome
        w = np.clip((1.05 - rho) / 0.2, 0, 1)
        local = tex[0:3, a, b]
        mean = local.reshape(3, -1).mean(axis=1)[:, None, None]
        tint = np.array(p.tint, dtype=np.float32)[:, None, None]
        pit_col = 1 - 0.05 * np.clip(sub_pits, -1.5, 1.5)[None] * np.array([0.5, 1.0, 1.0])[:, None, None]
        # a shadowed, slightly darker collar where the polyp rises from the wall
        collar = 1 - 0.12 * np.exp(-(((rho - 0.95) / 0.12) ** 2))[None]
        look = mean * tint * pit_col
        # the polyp surface hides most of the vessel network beneath it
        tex[0:3, a, b] = (local * (1 - 0.75 * w) + look * (0.75 * w) + (local - mean) * 0.15 * w) * collar
        tex[4, a, b] = np.maximum(tex[4, a, b], inside.astype(np.float32))
        tex[5, a, b] = np.maximum(tex[5, a, b], tex[5, a, b] + 0.12 * w)


def instrument(X: np.ndarray, Y: np.ndarray, angle: float, reach: float, width: float) -> tuple[np.ndarray, np.ndarray]:
    """A metal shaft entering from the rim toward the centre: returns (alpha, rgb)."""
    d = np.array([np.cos(angle), np.sin(angle)], dtype=np.float32)
    ex, ey = -1.3 * d
    sx, sy = X - ex, Y - ey
    along = sx * d[0] + sy * d[1]
    perp = -sx * d[1] + sy * d[0]
    length = 1.3 - 1.0 + reach
    # perspective: the shaft narrows as it goes deeper
    wid = width * np.clip(1.2 - 0.5 * along / max(length, 1e-3), 0.5, 1.2)
    q = perp / wid
    tip = np.clip((length - along) / 0.02, 0, 1)
    alpha = np.clip((1 - np.abs(q)) / 0.15, 0, 1) * tip * (along > 0)
    shade = np.sqrt(np.clip(1 - q * q, 0, 1))
    base = np.array([0.62, 0.66, 0.72], dtype=np.float32)
    rgb = base * (0.25 + 0.75 * shade)[..., None]
    glint = np.exp(-(((q + 0.35) / 0.12) ** 2))
    rgb = rgb + 0.9 * glint[..., None]
    return alpha.astype(np.float32), rgb.astype(np.float32)
