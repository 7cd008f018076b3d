"""``contrastive``: SimCLR (Chen et al. 2020) on the conv encoder.

Two augmented views of every image (random resized crop, flips, colour jitter) pass through the
encoder; the pooled feature pyramid goes through a small projector, and an NT-Xent loss pulls the two
views of an image together and pushes every other image of the batch away. Instance discrimination is
what makes the objective sensitive to the data: near-duplicates in a batch are negatives that cannot
be told apart, and blank or featureless frames give views with nothing to match on. Only the
encoder's weights carry over to fine-tuning (the projector is dropped), so the CPU presets read it
with the ``pyramid`` probe. A step's augmentations come from its ``torch.Generator``, so a resumed
run draws what an uninterrupted one would.

``Views`` parametrises the augmentation: the objective's own (``Views()``) and the ``ssl`` embedder's
near-duplicate views (``delbench.embed.ssl``) share this code; a rotation or blur, when asked for, is
drawn after the default draws, so the objective's views stay what they were.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

TEMPERATURE = 0.2
CROP_AREA = (0.3, 1.0)  # share of the image a random resized crop keeps
JITTER = 0.4  # brightness / contrast change, as a fraction
PROJECTION = (256, 64)


@dataclass(frozen=True)
class Views:
    """How ``augment`` draws a view: crop area range, brightness / contrast change, rotation (degrees,
    either way), the largest share of a blurred copy mixed in, and whether to flip vertically too."""

    crop_area: tuple[float, float] = CROP_AREA
    jitter: float = JITTER
    rotate: float = 0.0
    blur: float = 0.0
    flip_v: bool = True


def augment(x: torch.Tensor, gen: torch.Generator, views: Views = Views()) -> torch.Tensor:
    """A random view of each image of a normalised batch: crop, flips, brightness and contrast (and,
    if ``views`` asks, a small rotation and a blur)."""
    b = x.shape[0]
    u = torch.rand(b, 7, generator=gen)
    lo, hi = views.crop_area
    side = (lo + (hi - lo) * u[:, 0]).sqrt()
    flip_x = torch.where(u[:, 1] < 0.5, -1.0, 1.0)
    flip_y = torch.where(u[:, 2] < 0.5, -1.0, 1.0) if views.flip_v else torch.ones(b)
    extra = torch.rand(b, 2, generator=gen) if views.rotate or views.blur else torch.zeros(b, 2)
    angle = torch.deg2rad(views.rotate * (2 * extra[:, 0] - 1))
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(b, 2, 3)  # scale x rotation x flips, then a shift that keeps the crop inside
    theta[:, 0, 0] = side * cos * flip_x
    theta[:, 0, 1] = -side * sin * flip_y
    theta[:, 1, 0] = side * sin * flip_x
    theta[:, 1, 1] = side * cos * flip_y
    theta[:, 0, 2] = (1 - side) * (2 * u[:, 3] - 1)
    theta[:, 1, 2] = (1 - side) * (2 * u[:, 4] - 1)
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if views.blur:
        # a 3x3 box blur mixed in by a random share: the detail a re-encoded or resized copy loses
        mix = (views.blur * extra[:, 1]).to(x.device, x.dtype)[:, None, None, None]
        soft = F.avg_pool2d(F.pad(out, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        out = out + mix * (soft - out)
    gain = (1 + views.jitter * (2 * u[:, 5] - 1)).to(x.device, x.dtype)[:, None, None, None]
    shift = (views.jitter * (2 * u[:, 6] - 1)).to(x.device, x.dtype)[:, None, None, None]
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    return (out - mean) * gain + mean + shift


def nt_xent(z: torch.Tensor, temperature: float = TEMPERATURE) -> torch.Tensor:
    """NT-Xent over 2B embeddings, where rows i and i + B are the two views of one image."""
    z = F.normalize(z.float(), dim=1)
    n = z.shape[0]
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(n, dtype=torch.bool, device=z.device), float("-inf"))
    target = (torch.arange(n, device=z.device) + n // 2) % n
    return F.cross_entropy(sim, target)


class Contrastive(nn.Module):
    """SimCLR on ``net.encoder`` (a conv UNet's); ``net.*`` weights transfer, ``proj.*`` do not."""

    def __init__(self, net: nn.Module, views: Views = Views()) -> None:
        super().__init__()
        self.net = net
        self.views = views
        dims = sum(net.encoder.widths)
        hidden, out = PROJECTION
        self.proj = nn.Sequential(nn.Linear(dims, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([f.mean(dim=(2, 3)) for f in self.net.encoder(x)], dim=1)

    def forward(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        pair = torch.cat([augment(x, gen, self.views), augment(x, gen, self.views)])
        return nt_xent(self.proj(self.embed(pair)))
