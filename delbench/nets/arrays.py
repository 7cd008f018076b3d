"""The fast training data path: each image set is decoded once, resized to the protocol's image size,
and cached as a uint8 ``.npy`` array (images [N, S, S, 3], masks [N, S, S] in {0, 1}) keyed by the
manifest rows and size, so later stages memory-map it instead of decoding JPEGs per step."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from delbench.store.atomic import write_npy
from delbench.store.cache import config_hash
from delbench.errors import DelbenchError
from delbench.progress import Progress


def _load(root: Path, rel: str, size: int, mask: bool) -> np.ndarray:
    from delbench.data.decode import BadFile, resized_mask, resized_rgb

    path = root / rel
    try:
        return resized_mask(path, size) if mask else resized_rgb(path, size)
    except BadFile as exc:
        raise DelbenchError(f"cannot read image {path} ({exc}); re-create or re-import the dataset") from None


def image_array(root: Path, rows: Any, size: int, cache_dir: Path, *, column: str = "path",
                progress: Progress | None = None) -> np.ndarray:
    """uint8 array of the images (or masks, ``column="mask_path"``) of ``rows``, cached by content."""
    mask = column == "mask_path"
    rels = rows[column].astype(str).tolist()
    out = array_path(rows, size, cache_dir, column=column)
    if out.is_file():
        return np.load(out, mmap_mode="r", allow_pickle=False)
    shape = (len(rels), size, size) if mask else (len(rels), size, size, 3)
    arr = np.empty(shape, dtype=np.uint8)
    for i, rel in enumerate(rels):
        arr[i] = _load(Path(root), rel, size, mask)
        if progress and (i % 256 == 0 or i == len(rels) - 1):
            progress((i + 1) / len(rels), f"decoding {i + 1}/{len(rels)}")
    write_npy(out, arr)
    return np.load(out, mmap_mode="r", allow_pickle=False)


def array_path(rows: Any, size: int, cache_dir: Path, *, column: str = "path") -> Path:
    """Where ``image_array`` caches the images (or masks) of ``rows`` at ``size``."""
    mask = column == "mask_path"
    shas = rows["mask_sha256" if mask else "sha256"].astype(str).tolist()
    rels = rows[column].astype(str).tolist()
    # v2: 16-bit files scaled, not clipped; masks v3: 0/1 masks read as such, not as all background
    key = config_hash({"items": list(zip(rels, shas)), "size": size, "mask": mask, "v": 3 if mask else 2})
    return Path(cache_dir) / "arrays" / f"{key}.npy"


def to_tensor(batch: np.ndarray, mean: list[float], std: list[float]) -> Any:
    import torch

    x = torch.from_numpy(np.array(batch, copy=True)).float().div_(255.0)
    x = (x - torch.tensor(mean)) / torch.tensor(std)
    return x.permute(0, 3, 1, 2).contiguous()
