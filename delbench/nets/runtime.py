"""Process setup shared by training paths: device, determinism, and torchrun (DDP) discovery."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

import torch

# One thread by default: small networks gain little from intra-op threads, a shared machine makes
# extra threads spin, and a fixed count keeps CPU results bitwise reproducible.
THREADS = int(os.environ.get("DELBENCH_THREADS", "1"))


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device: str = "auto") -> tuple[torch.device, Dist]:
    """Pick the device, fix threads and deterministic kernels, join a torchrun group when present."""
    torch.set_num_threads(max(1, THREADS))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if not use_cuda:
        torch.use_deterministic_algorithms(True, warn_only=True)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if use_cuda else "gloo")
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dev = torch.device("cuda", torch.cuda.current_device()) if use_cuda else torch.device("cpu")
    return dev, Dist(rank, world)


def barrier(d: Dist) -> None:
    if d.world > 1:
        import torch.distributed as dist

        dist.barrier()


def step_generator(*parts: Any) -> torch.Generator:
    """A generator seeded from (seed, step, rank, ...) so each step's randomness is reproducible alone."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))


def epoch_indices(n: int, batch: int, step: int, seed: int) -> "Any":
    """Items of global ``step``: the step-th window of a stream of per-epoch permutations of range(n)."""
    import numpy as np

    pos = np.arange(step * batch, (step + 1) * batch)
    out = np.empty(batch, dtype=np.int64)
    for epoch in np.unique(pos // n):
        perm = np.random.default_rng([seed, int(epoch)]).permutation(n)
        sel = pos // n == epoch
        out[sel] = perm[pos[sel] % n]
    return out


def flip_augment(x: torch.Tensor, gen: torch.Generator, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Random horizontal/vertical flips per sample (endoscopy has no canonical orientation)."""
    b = x.shape[0]
    h = torch.rand(b, generator=gen) < 0.5
    v = torch.rand(b, generator=gen) < 0.5
    x = torch.where(h[:, None, None, None], x.flip(-1), x)
    x = torch.where(v[:, None, None, None], x.flip(-2), x)
    if y is not None:
        y = torch.where(h[:, None, None, None], y.flip(-1), y)
        y = torch.where(v[:, None, None, None], y.flip(-2), y)
    return x, y


def autocast(dev: torch.device) -> Any:
    """bf16 autocast on CUDA only; CPU runs stay in fp32 so they are bitwise reproducible."""
    import contextlib

    if dev.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
