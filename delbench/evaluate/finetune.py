"""Fine-tuning one downstream task.

Model selection uses the **val** split only (best val mIoU, ``delbench.evaluate.measure``, over
evaluations every ``eval_every`` steps); the test split is left to the caller, which measures the
selected weights once.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from delbench.errors import DelbenchError
from delbench.evaluate.measure import metrics, predict, task_arrays
from delbench.nets.arrays import to_tensor
from delbench.nets.models import IMAGENET_MEAN, IMAGENET_STD, build_seg_net, load_matching
from delbench.nets.runtime import autocast, flip_augment, step_generator
from delbench.nets.schedule import lr_at, set_lr
from delbench.progress import Progress


def labelled_subset(n: int, labels: int, seed: int, task: str) -> np.ndarray:
    """The labelled training images used for ``seed`` (low-label regimes); all when ``labels`` is 0."""
    if labels <= 0 or labels >= n:
        return np.arange(n)
    rng = np.random.default_rng([seed, sum(task.encode())])
    return np.sort(rng.permutation(n)[:labels])


def _loss(kind: str, foreground: float = 0.5) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``foreground`` is the polyp share of the labelled pixels; ``balanced-bce`` weighs the two
    classes equally, so a probe over weak features does not settle on all-background."""
    import segmentation_models_pytorch as smp

    if kind == "balanced-bce":
        weight = torch.tensor((1.0 - foreground) / max(foreground, 1e-4))
        return lambda out, y: F.binary_cross_entropy_with_logits(out, y, pos_weight=weight.to(out.device)) / (1.0 + weight.to(out.device)) * 2.0
    dice = smp.losses.DiceLoss(smp.losses.BINARY_MODE, from_logits=True)
    bce = smp.losses.SoftBCEWithLogitsLoss()
    if kind == "dice":
        return dice
    if kind == "bce":
        return bce
    return lambda out, y: dice(out, y) + bce(out, y)


def _frozen_modules(net: torch.nn.Module, mode: str) -> list[torch.nn.Module]:
    """``full``: nothing frozen; ``frozen``: the encoder; ``probe``: everything but the output head
    (for ViTs the head is the decoder, so ``probe`` equals ``frozen``)."""
    if mode == "full":
        return []
    if mode == "frozen" or not hasattr(net, "head"):
        return [net.encoder]
    return [net.encoder, net.decoder]


def finetune(root: Path, protocol: Any, cache_dir: Path, frame: Any, *, task: str,
             state: dict[str, torch.Tensor] | None, seed: int, dev: torch.device,
             progress: Progress | None = None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Fine-tune a fresh network (initialised from ``state`` where names and shapes match, else from
    scratch) on the task's labelled train images; return the val-selected network and a record."""
    size = protocol.network().image_size
    train = task_arrays(root, frame, task, "train", size, cache_dir)
    val = task_arrays(root, frame, task, "val", size, cache_dir)
    return fit(protocol, train, val, task=task, state=state, seed=seed, dev=dev, progress=progress)


def fit(protocol: Any, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], *, task: str,
        state: dict[str, torch.Tensor] | None, seed: int, dev: torch.device,
        progress: Progress | None = None) -> tuple[torch.nn.Module, dict[str, Any]]:
    """``finetune`` on arrays in memory: train and val images ([N, S, S, 3] uint8) with their masks."""
    network, ft = protocol.network(), protocol.finetune
    (xs, ys), (xv, yv) = train, val
    chosen = labelled_subset(len(xs), ft.labels, seed, task)
    torch.manual_seed(seed)
    net = build_seg_net(network, out_channels=1, head=ft.head, standardize=ft.standardize,
                        levels=ft.probe_levels)
    loaded = load_matching(net, state) if state is not None else []
    if state is not None and not any(k.startswith("encoder.") for k in loaded):
        raise DelbenchError("checkpoint holds no encoder weights matching the protocol's [pretrain] arch/encoder")
    net.to(dev)
    frozen = _frozen_modules(net, ft.mode)
    for module in frozen:
        for p in module.parameters():
            p.requires_grad_(False)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=ft.lr, weight_decay=ft.weight_decay)
    loss_fn = _loss(ft.loss, float(np.asarray(ys[chosen]).mean()))
    bs = min(ft.batch_size, max(1, len(chosen)))
    best: tuple[float, int, dict[str, torch.Tensor] | None] = (-1.0, 0, None)
    t0 = time.perf_counter()
    if ft.standardize:
        net.head[0].fit(*feature_stats(net, xs[chosen], dev))
    cache = _probe_cache(net, xs, chosen, xv, dev) if ft.mode == "probe" and hasattr(net, "features") else None
    if cache is not None:
        # one reused batch buffer: a fresh [bs, C, H, W] tensor (63 MB on `small`) would be mapped
        # and faulted in anew every step
        flat = cache["train"].flatten(0, 1)
        batch = torch.empty((bs, *flat.shape[1:]), dtype=flat.dtype, device=flat.device)
    for step in range(ft.steps):
        net.train()
        for module in frozen:
            module.eval()  # BatchNorm statistics belong to the features being probed
        set_lr(opt, lr_at(step, ft.steps, ft.lr, ft.warmup_frac))
        gen = step_generator("finetune", seed, task, step)
        pick = chosen[torch.randint(0, len(chosen), (bs,), generator=gen).numpy()]
        pick = np.sort(pick)
        y = torch.from_numpy(np.array(ys[pick], copy=True)).float()[:, None]
        if cache is None:
            x = to_tensor(xs[pick], IMAGENET_MEAN, IMAGENET_STD)
            x, y = flip_augment(x, gen, y)
            x, y = x.to(dev), y.to(dev)
            with autocast(dev):
                out = net(x)
        else:
            # the same flips as flip_augment draws, read from the features of pre-flipped images
            h, v = torch.rand(bs, generator=gen) < 0.5, torch.rand(bs, generator=gen) < 0.5
            y = torch.where(h[:, None, None, None], y.flip(-1), y)
            y = torch.where(v[:, None, None, None], y.flip(-2), y)
            pos = torch.from_numpy(np.searchsorted(chosen, pick))
            rows = (h.long() + 2 * v.long()) * len(chosen) + pos
            feats = torch.index_select(flat, 0, rows.to(flat.device), out=batch)
            y = y.to(dev)
            with autocast(dev):
                out = net.head(feats)
        loss = loss_fn(out.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done = step + 1
        if done % ft.eval_every == 0 or done == ft.steps:
            if cache is None:
                val = metrics(predict(net, xv, dev), yv)["miou"]
            else:
                net.eval()
                with torch.no_grad():
                    val = metrics((net.head(cache["val"]).float() > 0).long().cpu(), yv)["miou"]
            if val > best[0]:
                best = (val, done, {k: v.detach().clone() for k, v in net.state_dict().items()})
            if progress:
                progress(done / ft.steps, f"{task} step {done}/{ft.steps} val mIoU {val:.3f}")
    assert best[2] is not None
    net.load_state_dict(best[2])
    record = {"val_miou": best[0], "best_step": best[1], "train_images": int(len(chosen)),
              "finetune_seconds": time.perf_counter() - t0, "loaded_tensors": len(loaded)}
    return net, record


def feature_stats(net: torch.nn.Module, images: np.ndarray, dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of the frozen features of ``images`` (streamed in
    batches, accumulated in float64 so the result does not depend on the batch size)."""
    net.eval()
    total, sq, count = None, None, 0
    with torch.no_grad():
        for i in range(0, len(images), 64):
            x = to_tensor(images[i:i + 64], IMAGENET_MEAN, IMAGENET_STD).to(dev)
            with autocast(dev):
                f = net.features(x).double()
            s1, s2 = f.sum(dim=(0, 2, 3)), (f * f).sum(dim=(0, 2, 3))
            total, sq = (s1, s2) if total is None else (total + s1, sq + s2)
            count += f.shape[0] * f.shape[2] * f.shape[3]
    assert total is not None and sq is not None
    mean = total / count
    var = (sq / count - mean * mean).clamp_min(0.0)
    return mean.float().cpu(), var.sqrt().float().cpu()


# `small` needs 1.1 GB (4 x 50 labelled + 80 val images x 240 channels at 64 px); two workers fit easily
PROBE_CACHE_BYTES = 2 << 30


def _probe_cache(net: torch.nn.Module, xs: np.ndarray, chosen: np.ndarray, xv: np.ndarray,
                 dev: torch.device) -> dict[str, torch.Tensor] | None:
    """Frozen features for a linear probe, computed once: the labelled images under each of the four
    flips, and the val images. Training the head then costs no network pass. None (train through the
    network) when they would not fit in ``PROBE_CACHE_BYTES``."""
    net.eval()
    with torch.no_grad():
        probe = net.features(to_tensor(xs[chosen[:1]], IMAGENET_MEAN, IMAGENET_STD).to(dev))
    per_image = probe[0].numel() * probe.element_size()
    if per_image * (4 * len(chosen) + len(xv)) > PROBE_CACHE_BYTES:
        return None

    def feats(images: np.ndarray, flip_h: bool = False, flip_v: bool = False) -> torch.Tensor:
        out = []
        with torch.no_grad():
            for i in range(0, len(images), 64):
                x = to_tensor(images[i:i + 64], IMAGENET_MEAN, IMAGENET_STD).to(dev)
                x = x.flip(-1) if flip_h else x
                x = x.flip(-2) if flip_v else x
                with autocast(dev):
                    out.append(net.features(x).float())
        return torch.cat(out)

    # index = h + 2 * v, matching the draw order in the training loop
    train = torch.stack([feats(xs[chosen], bool(c & 1), bool(c & 2)) for c in range(4)])
    return {"train": train, "val": feats(xv)}
