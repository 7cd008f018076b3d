"""torch ``Dataset``s that read a dataset root through its manifest (imported on training paths only).

``PoolDataset`` yields pool images; ``TaskDataset`` yields (image, mask) pairs of one task split.
Images are float32 CHW in [0, 1], resized to ``size`` (bilinear); masks are float32 1xHxW in {0, 1}
(nearest), the shape segmentation losses expect.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from delbench.data.manifest import pool_rows, read_manifest, task_rows
from delbench.errors import DelbenchError


def _hw(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def _decode(path: Path, mask: bool) -> Any:
    from delbench.data.decode import BadFile, open_image, to_mask, to_rgb

    try:
        im = open_image(path)
        return to_mask(im) if mask else to_rgb(im)
    except BadFile as exc:
        raise DelbenchError(f"{path}: {exc}; run `delbench data verify` on its dataset root") from None


def load_image(path: Path, size: int | Sequence[int]) -> torch.Tensor:
    from PIL import Image

    h, w = _hw(size)
    im = _decode(path, mask=False)
    if im.size != (w, h):
        im = im.resize((w, h), Image.BILINEAR)
    arr = np.asarray(im, dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)


def load_mask(path: Path, size: int | Sequence[int]) -> torch.Tensor:
    from PIL import Image

    h, w = _hw(size)
    im = _decode(path, mask=True)
    if im.size != (w, h):
        im = im.resize((w, h), Image.NEAREST)
    arr = np.asarray(im, dtype=np.uint8)
    # 0/255 and 0/1 masks both map to {0, 1}.
    return torch.from_numpy((arr >= (128 if arr.max() > 1 else 1)).astype(np.float32))[None]


class PoolDataset(Dataset):
    """Pool images of ``root``; item i is pool index ``indices[i]`` (all pool rows if None)."""

    def __init__(
        self,
        root: str | Path,
        indices: Sequence[int] | np.ndarray | None = None,
        size: int | Sequence[int] = 224,
        transform: Callable[[torch.Tensor], Any] | None = None,
    ) -> None:
        self.root = Path(root)
        pool = pool_rows(read_manifest(self.root))
        self.paths = pool["path"].tolist()
        n = len(self.paths)
        self.indices = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64)
        if len(self.indices) and (self.indices.min() < 0 or self.indices.max() >= n):
            raise DelbenchError(f"PoolDataset: indices must lie in [0, {n}) for the pool of {self.root}")
        self.size, self.transform = size, transform

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:
        image = load_image(self.root / self.paths[int(self.indices[i])], self.size)
        return self.transform(image) if self.transform else image


class TaskDataset(Dataset):
    """(image, mask) pairs of one task split; ``transform(image, mask)`` returns the pair."""

    def __init__(
        self,
        root: str | Path,
        task: str,
        split: str,
        size: int | Sequence[int] = 224,
        transform: Callable[[torch.Tensor, torch.Tensor], tuple[Any, Any]] | None = None,
    ) -> None:
        self.root = Path(root)
        frame = read_manifest(self.root)
        rows = task_rows(frame, task, split)
        if not len(rows):
            known = sorted(frame.loc[frame["role"] == "task", "task"].dropna().unique())
            raise DelbenchError(f"TaskDataset: no rows for task {task!r} split {split!r} in {self.root}; tasks: {', '.join(known) or '(none)'}")
        self.paths = rows["path"].tolist()
        self.masks = rows["mask_path"].tolist()
        self.ids = rows["id"].tolist()
        self.size, self.transform = size, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        image = load_image(self.root / self.paths[i], self.size)
        mask = load_mask(self.root / self.masks[i], self.size)
        return self.transform(image, mask) if self.transform else (image, mask)
