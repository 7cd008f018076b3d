"""The ``ssl`` embedder: a small conv encoder trained on the pool itself by SimCLR, in CPU minutes.

The encoder is the CPU protocols' ``ConvEncoder`` (four levels, base width ``[embed] ssl_width``);
the objective is the ``contrastive`` pre-training's (``delbench.pretrain.contrastive``: the same
projector and NT-Xent loss) with other views: the edits that make a near-duplicate rather than the
strong crops that teach a segmentation encoder. A view keeps 70-100% of the image's area, is rotated
by up to 10 degrees either way, flipped left-right at random, partly blurred (the detail a re-encoded
or resized copy loses) and changed in brightness and contrast by up to 20%. Two views of one image
are pulled together and every other image of the batch pushed away, so a copy lands by its original
and distinct frames apart.

The vectors are the projector's input, the globally pooled feature of every encoder level
(15 x width dimensions), centred and scaled per dimension over the pool
(``delbench.embed.vectors.standardise``); the projector itself only serves the loss. Seed, batch, learning rate and schedule are fixed here, so the
vectors are a function of the pool, the image size, ``ssl_steps`` and ``ssl_width`` (bitwise on CPU,
where ``delbench.nets.runtime.setup`` fixes threads and deterministic kernels).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from delbench.errors import DelbenchError
from delbench.progress import Progress

SEED = 0
BATCH = 64
LR = 2e-3
WEIGHT_DECAY = 0.05
WARMUP_FRAC = 0.05
STEPS = 300  # [embed] ssl_steps = 0
WIDTH = 8  # [embed] ssl_width = 0: 120-d vectors


def views() -> Any:
    """The near-duplicate views (built on call: importing this module must not import torch)."""
    from delbench.pretrain.contrastive import Views

    return Views(crop_area=(0.7, 1.0), jitter=0.2, rotate=10.0, blur=1.0, flip_v=False)


def train(images: np.ndarray, steps: int, width: int, *, seed: int = SEED, device: str = "auto",
          progress: Progress | None = None) -> tuple[Any, dict[str, Any]]:
    """The trained ``Contrastive`` model (on its device, in eval mode) and what the training did."""
    import time

    import torch
    from torch import nn

    from delbench.nets.arrays import to_tensor
    from delbench.nets.models import IMAGENET_MEAN, IMAGENET_STD, ConvEncoder
    from delbench.nets.runtime import autocast, setup, step_generator
    from delbench.nets.schedule import lr_at, set_lr
    from delbench.pretrain.contrastive import Contrastive

    n = len(images)
    if n < 2:
        raise DelbenchError(f"[embed] embedder 'ssl' needs at least 2 pool images to contrast, the pool has {n}")
    dev, _ = setup(device)

    class Backbone(nn.Module):  # what ``Contrastive`` wraps: a network with an ``encoder``
        def __init__(self) -> None:
            super().__init__()
            self.encoder = ConvEncoder(width)

    torch.manual_seed(seed)
    model = Contrastive(Backbone(), views()).to(dev)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": no_decay, "weight_decay": 0.0}], lr=LR, betas=(0.9, 0.95))
    batch = min(BATCH, n)
    model.train()
    t0 = time.perf_counter()
    loss = torch.zeros(())
    for step in range(steps):
        set_lr(opt, lr_at(step, steps, LR, WARMUP_FRAC))
        # drawn without replacement: an image twice in a batch would be its own negative
        picks = np.sort(np.random.default_rng([seed, step]).choice(n, size=batch, replace=False))
        x = to_tensor(images[picks], IMAGENET_MEAN, IMAGENET_STD).to(dev)
        with autocast(dev):
            loss = model(x, step_generator(seed, step))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if not torch.isfinite(loss):
            raise DelbenchError(f"[embed] ssl_steps: the ssl embedder's training diverged at step {step + 1}")
        if progress and ((step + 1) % 10 == 0 or step + 1 == steps):
            progress((step + 1) / steps, f"ssl step {step + 1}/{steps} loss {loss.item():.3f}")
    model.eval()
    return model, {"ssl_final_loss": float(loss.item()), "ssl_seconds": round(time.perf_counter() - t0, 1)}


def features(model: Any, images: np.ndarray) -> np.ndarray:
    """float32 [N, 15 x width]: the pooled encoder pyramid of every image (the projector's input)."""
    import torch

    from delbench.embed.settings import default_batch
    from delbench.nets.arrays import to_tensor
    from delbench.nets.models import IMAGENET_MEAN, IMAGENET_STD

    dev = next(model.parameters()).device
    batch = default_batch(images.shape[1])
    outs = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = to_tensor(images[i:i + batch], IMAGENET_MEAN, IMAGENET_STD).to(dev)
            outs.append(model.embed(x).float().cpu().numpy())
    return np.concatenate(outs).astype(np.float32)


def ssl_vectors(images: np.ndarray, steps: int, width: int, *, seed: int = SEED, device: str = "auto",
                progress: Progress | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """The ``ssl`` embedder's vectors for ``images`` (uint8 [N, S, S, 3]), before L2 normalisation,
    and sidecar metadata."""
    from delbench.embed.vectors import standardise

    model, meta = train(images, steps, width, seed=seed, device=device, progress=progress)
    return standardise(features(model, images)), meta
