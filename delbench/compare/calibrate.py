"""How fast this machine runs a protocol's pieces of work, measured in a second or two before a study.

A measurement rather than a recorded table: the same protocol runs at 14 steps/s on an idle core and
at half that beside another job, and no table knows which machine, or which load, a study meets.
Each rate times the code the stages run (the protocol's own networks at its image size and batch,
AdamW steps, forward passes, image decoding) on random data in memory: nothing is written.

The rates are for one single-threaded process, as each worker is (``DELBENCH_THREADS``); the plan
(``delbench.compare.cost``) turns them into a wall time over the study's workers.
"""
from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from delbench.protocol import Protocol

MIN_SECONDS = 0.25  # each rate is timed over at least this long (or MAX_REPEATS repeats)
MAX_REPEATS = 20
DECODE_SAMPLE = 12  # pool images decoded to time decoding
# Seconds a spawned worker takes to import torch and the stages when the parent cannot time its own
# import (torch was already loaded): the median of five spawns on 2 CPU cores.
WORKER_START_S = 2.5
# Seconds to write one megapixel of the synthetic DataDEL (render, PNG-encode, hash), one process:
# `delbench data synth` at the ci and smoke scales on 2 CPU cores (docs/protocols.md).
SYNTH_S_PER_MPIX = 2.0


@dataclass(frozen=True)
class Rates:
    """Seconds per piece of work, in one single-threaded process on this machine."""

    pretrain_step: float  # one optimiser step of the protocol's pre-training, data preparation included
    forward_image: float  # what a probe reads (``features``) of one image; also the embedding pass
    predict_image: float  # the whole segmentation network on one image (val and test predictions)
    finetune_step: float  # one downstream step: the head on cached features when probing, else the network
    task_setup: float  # building the downstream network, its loss and optimiser for one task
    decode_image: float  # decoding and resizing one pool image (0 when no pool is on disk yet)
    worker_start: float  # a worker process starting: Python, torch and the stages imported
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _timed(fn: Callable[[], Any], sync: Callable[[], None]) -> float:
    """Seconds per call of ``fn``: one warm-up call, then calls until ``MIN_SECONDS`` have passed."""
    fn()
    sync()
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        sync()
        spent = time.perf_counter() - start
        if spent >= MIN_SECONDS or n >= MAX_REPEATS:
            return spent / n


def calibrate(protocol: Protocol, pool_files: list[Path] | None = None) -> Rates:
    """Time the protocol's pieces of work on this machine; ``pool_files``, when given, are a few pool
    images to time decoding on."""
    fresh = "torch" not in sys.modules
    t0 = time.perf_counter()
    import torch
    import torch.nn.functional as F

    from delbench.nets.arrays import to_tensor
    from delbench.nets.models import IMAGENET_MEAN, IMAGENET_STD, build_pretrainer, build_seg_net
    from delbench.nets.runtime import autocast, flip_augment, setup, step_generator

    worker_start = time.perf_counter() - t0 if fresh else WORKER_START_S
    pt, ft, network = protocol.pretrain, protocol.finetune, protocol.network()
    dev, _ = setup(pt.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    rng = np.random.default_rng(0)
    size = network.image_size
    images = rng.integers(0, 255, (max(pt.batch_size, 64), size, size, 3), dtype=np.uint8)
    threads = torch.get_num_threads()
    rng_state = torch.get_rng_state()  # the calibration draws from torch's generator: leave it as found
    try:
        model = build_pretrainer(pt).to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=pt.lr, betas=tuple(pt.betas))
        count = iter(range(1 << 30))

        def pretrain_step() -> None:
            gen = step_generator(0, next(count), 0)
            x = to_tensor(images[: pt.batch_size], IMAGENET_MEAN, IMAGENET_STD)
            x, _ = flip_augment(x, gen)
            with autocast(dev):
                loss = model(x.to(dev), gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        pretrain = _timed(pretrain_step, sync)
        del model, opt

        def build() -> Any:
            return build_seg_net(network, out_channels=1, head=ft.head).to(dev)

        start = time.perf_counter()
        net = build()
        setup_s = time.perf_counter() - start
        net.eval()
        batch = to_tensor(images[:64], IMAGENET_MEAN, IMAGENET_STD).to(dev)
        probing = ft.mode == "probe" and hasattr(net, "features")
        with torch.no_grad():
            forward = _timed(lambda: net.features(batch) if probing else net(batch), sync) / len(batch)
            predict = _timed(lambda: net(batch), sync) / len(batch)
        bs = ft.batch_size
        y = torch.zeros((bs, 1, size, size), device=dev)
        if probing:
            with torch.no_grad():
                feats = net.features(batch[:1]).expand(bs, -1, -1, -1).contiguous()
            head_opt = torch.optim.AdamW(net.head.parameters(), lr=ft.lr)

            def finetune_step() -> None:
                loss = F.binary_cross_entropy_with_logits(net.head(feats).float(), y)
                head_opt.zero_grad(set_to_none=True)
                loss.backward()
                head_opt.step()
        else:
            net.train()
            full_opt = torch.optim.AdamW(net.parameters(), lr=ft.lr)
            x = batch[:bs] if bs <= len(batch) else batch[:1].expand(bs, -1, -1, -1)

            def finetune_step() -> None:
                with autocast(dev):
                    out = net(x)
                loss = F.binary_cross_entropy_with_logits(out.float(), y)
                full_opt.zero_grad(set_to_none=True)
                loss.backward()
                full_opt.step()

        finetune = _timed(finetune_step, sync)
    finally:
        torch.set_rng_state(rng_state)
        torch.set_num_threads(threads)
    return Rates(pretrain_step=pretrain, forward_image=forward, predict_image=predict, finetune_step=finetune,
                 task_setup=setup_s, decode_image=decode_seconds(pool_files or [], size),
                 worker_start=worker_start, device=dev.type)


def decode_seconds(files: list[Path], size: int) -> float:
    """Seconds to decode and resize one of ``files`` (their median), 0 without files."""
    from delbench.data.decode import BadFile, resized_rgb

    times = []
    for path in files[:DECODE_SAMPLE]:
        start = time.perf_counter()
        try:
            resized_rgb(path, size)
        except BadFile:
            continue  # the stage that decodes it reports it; a plan only needs a rate
        times.append(time.perf_counter() - start)
    return float(np.median(times)) if times else 0.0
