"""Measuring a segmentation network on one task split.

Every score comes from ``smp.metrics`` on masks at the protocol's image size, prediction = logit > 0:

- ``miou``: foreground IoU of each image that has a polyp, averaged over those images (the
  polyp-literature mIoU). An image without a polyp scores 1 when nothing is predicted and 0 on a
  single stray pixel, so averaging it in would reward predicting nothing; where no image has a
  polyp, all images are averaged. This is the score's mIoU (docs/protocols.md).
- ``miou_all``: the same over every image, images without a polyp included.
- ``miou_dataset``: IoU of foreground and of background over the whole split (pixels pooled),
  averaged over the two classes.
- ``dice``: foreground Dice (F1) of each image with a polyp, averaged over those images.
- ``empty_share``: the share of images without a polyp (at the protocol's image size).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from delbench.data.manifest import manifest_path, task_rows
from delbench.errors import DelbenchError
from delbench.nets.arrays import image_array, to_tensor
from delbench.nets.models import IMAGENET_MEAN, IMAGENET_STD
from delbench.nets.runtime import autocast


def task_arrays(root: Path, frame: Any, task: str, split: str, size: int, cache_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The images and {0, 1} masks of one task split at ``size``, from the array cache."""
    rows = task_rows(frame, task, split)
    if not len(rows):
        raise DelbenchError(f"task {task!r} has no {split!r} rows in {manifest_path(root)}")
    return image_array(root, rows, size, cache_dir), image_array(root, rows, size, cache_dir, column="mask_path")


def predict(net: torch.nn.Module, images: np.ndarray, dev: torch.device, batch: int = 64) -> torch.Tensor:
    """Binary predictions [N, 1, S, S] of ``net`` in eval mode."""
    net.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = to_tensor(images[i:i + batch], IMAGENET_MEAN, IMAGENET_STD).to(dev)
            with autocast(dev):
                outs.append((net(x).float() > 0).long().cpu())
    return torch.cat(outs)


def metrics(pred: torch.Tensor, masks: np.ndarray) -> dict[str, float]:
    """The scores above, of binary predictions against {0, 1} masks."""
    import segmentation_models_pytorch as smp

    target = torch.from_numpy(np.array(masks, copy=True)).long()[:, None]
    tp, fp, fn, tn = smp.metrics.get_stats(pred, target, mode="binary")
    fg = smp.metrics.iou_score(tp, fp, fn, tn, reduction="micro")
    bg = smp.metrics.iou_score(tn, fn, fp, tp, reduction="micro")
    iou = smp.metrics.iou_score(tp, fp, fn, tn, reduction="none")[:, 0]
    dice = smp.metrics.f1_score(tp, fp, fn, tn, reduction="none")[:, 0]
    polyp = (tp + fn)[:, 0] > 0
    scored = polyp if bool(polyp.any()) else torch.ones_like(polyp)
    return {
        "miou": float(iou[scored].mean()),
        "miou_all": float(iou.mean()),
        "miou_dataset": float((fg + bg) / 2),
        "dice": float(dice[scored].mean()),
        "empty_share": float(1.0 - polyp.float().mean()),
    }


def measure(net: torch.nn.Module, root: Path, frame: Any, task: str, split: str, size: int, cache_dir: Path,
            dev: torch.device) -> tuple[dict[str, float], int]:
    """``metrics`` of ``net`` on a task split, and how many images that split holds."""
    images, masks = task_arrays(root, frame, task, split, size, cache_dir)
    return metrics(predict(net, images, dev), masks), int(len(images))
