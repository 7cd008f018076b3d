"""Pre-training throughput per protocol: the harness's step (uint8 batch -> tensor, flips, per-step
generator, objective, AdamW, schedule) against a bare torch forward/backward/step loop over the same
network on an already-prepared batch. The ratio is the harness overhead.

    python benchmarks/bench_pretrain.py [--protocols ci smoke small] [--steps 20]
    python benchmarks/bench_pretrain.py --protocol paper --device cuda [--batch-size 64]

``paper`` (MAE ViT-B/16 at 224 px) is skipped unless named: on a CPU one step takes seconds. On CUDA
the step is the stage's own: bf16 autocast and channels-last tensors (target for ViT-B/16 MAE at
224 px on an H100-class GPU: >= 1,500 images/s).
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def bench(name: str, steps: int, warmup: int = 3, rounds: int = 3, device: str | None = None,
          batch_size: int | None = None) -> dict[str, float]:
    import torch
    import torch.nn.functional as F

    from delbench.protocol import load_protocol
    from delbench.nets.arrays import to_tensor
    from delbench.nets.models import IMAGENET_MEAN, IMAGENET_STD
    from delbench.pretrain.objectives import build_pretrainer
    from delbench.nets.runtime import THREADS, autocast, flip_augment, setup, step_generator
    from delbench.nets.schedule import lr_at, set_lr

    p = load_protocol(name)
    overrides: dict[str, object] = {}
    if device:
        overrides["pretrain.device"] = device
    if batch_size:
        overrides["pretrain.batch_size"] = batch_size
    p = p.with_overrides(overrides) if overrides else p
    pt = p.pretrain
    dev, _ = setup(pt.device)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (pt.batch_size * 4, pt.image_size, pt.image_size, 3), dtype=np.uint8)
    torch.manual_seed(0)
    model = build_pretrainer(pt).to(dev)
    if dev.type == "cuda":  # as the pretrain stage runs it
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=pt.lr, betas=tuple(pt.betas))

    def harness(step: int) -> None:
        set_lr(opt, lr_at(step, 1000, pt.lr, pt.warmup_frac))
        gen = step_generator(0, step, 0)
        idx = np.sort(rng.choice(len(images), pt.batch_size, replace=False))
        x = to_tensor(images[idx], IMAGENET_MEAN, IMAGENET_STD)
        x, _ = flip_augment(x, gen)
        x = x.to(dev, non_blocking=True)
        if dev.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(dev):
            loss = model(x, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    # The bare loop: the same network, the same prepared batch, the plainest loss for it.
    x0 = to_tensor(images[: pt.batch_size], IMAGENET_MEAN, IMAGENET_STD).to(dev)
    if pt.objective == "mae":
        vit = model.encoder

        def bare(step: int) -> None:
            with autocast(dev):
                loss = vit.forward_features(x0).float().square().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    else:
        net = model.net

        def bare(step: int) -> None:
            with autocast(dev):
                loss = F.mse_loss(net(x0).float(), x0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    out: dict[str, float] = {"threads": float(THREADS)}
    for fn in (harness, bare):
        for s in range(warmup):
            fn(s)
    # Alternating rounds and keeping each loop's best round makes the ratio robust to a busy machine.
    best = {"harness": float("inf"), "bare": float("inf")}
    for _ in range(rounds):
        for label, fn in (("harness", harness), ("bare", bare)):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            for s in range(steps):
                fn(s)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            best[label] = min(best[label], (time.perf_counter() - t) / steps)
    for label, sec in best.items():
        out[f"{label}_steps_s"] = 1 / sec
        out[f"{label}_images_s"] = pt.batch_size / sec
    out["overhead"] = out["bare_steps_s"] / out["harness_steps_s"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocols", nargs="+", default=["ci", "smoke", "small"])
    ap.add_argument("--protocol", action="append", default=[], help="a protocol to bench (repeatable; replaces --protocols)")
    ap.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: the protocol's device")
    ap.add_argument("--batch-size", type=int, default=None, help="default: the protocol's batch size")
    ap.add_argument("--steps", type=int, default=10, help="steps per timed round (3 rounds each)")
    args = ap.parse_args()
    if args.protocol:
        args.protocols = args.protocol
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("bench_pretrain: --device cuda: no CUDA device here")
        print(f"device: {torch.cuda.get_device_name()}, bf16 autocast, channels-last")
    print(f"{'protocol':<8} {'harness steps/s':>16} {'images/s':>10} {'bare steps/s':>13} {'images/s':>10} {'ratio':>6}")
    for name in args.protocols:
        r = bench(name, args.steps, device=args.device, batch_size=args.batch_size)
        print(f"{name:<8} {r['harness_steps_s']:>16.2f} {r['harness_images_s']:>10.1f} {r['bare_steps_s']:>13.2f} "
              f"{r['bare_images_s']:>10.1f} {r['overhead']:>6.2f}")


if __name__ == "__main__":
    main()
