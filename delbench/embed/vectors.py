"""Reading and writing embedding files: float32 [N, D] ``.npy``, L2-normalised, with a JSON sidecar."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from delbench.store.atomic import sha256_file, write_json, write_npy
from delbench.errors import DelbenchError

_CHUNK = 65536


def sidecar_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


def load_embeddings(path: str | Path, *, normalise: bool = True) -> np.ndarray:
    """Load and check an embeddings file; return a read-only float32 [N, D] L2-normalised matrix.

    Errors name the file and the first bad row: not 2-D, not floating point, empty, a NaN/inf row, an
    all-zero row (which has no direction to normalise).
    """
    path = Path(path)
    if not path.is_file():
        raise DelbenchError(f"embeddings file {path} not found: run `delbench embed` or pass an existing .npy")
    shape, dtype, blocks = _read_blocks(path)
    if len(shape) != 2:
        raise DelbenchError(f"embeddings file {path} has shape {shape}: expected a 2-D [N, D] matrix")
    if not np.issubdtype(dtype, np.floating):
        raise DelbenchError(f"embeddings file {path} has dtype {dtype}: expected floating point (float32)")
    n, d = shape
    if n == 0 or d == 0:
        raise DelbenchError(f"embeddings file {path} has shape {shape}: it holds no vectors")
    out = np.empty((n, d), dtype=np.float32)
    for start, block in blocks:
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            row = start + int(np.argmin(finite))
            raise DelbenchError(f"embeddings file {path}: row {row} contains NaN or inf; re-embed that image")
        norms = np.linalg.norm(block, axis=1)
        if (norms == 0).any():
            row = start + int(np.argmin(norms != 0))
            raise DelbenchError(f"embeddings file {path}: row {row} is all zeros and cannot be normalised")
        out[start : start + len(block)] = block / norms[:, None] if normalise else block
    out.flags.writeable = False
    return out


def _read_blocks(path: Path) -> tuple[tuple[int, ...], np.dtype, Iterator[tuple[int, np.ndarray]]]:
    """The .npy header, and a reader of float32 row blocks. Reading blocks into the output (rather
    than through a memory map, whose touched pages stay resident) keeps peak memory near 1x the matrix."""
    f = open(path, "rb")
    try:
        version = np.lib.format.read_magic(f)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = reader(f)
    except (ValueError, OSError) as exc:
        f.close()
        raise DelbenchError(f"embeddings file {path} is not a readable .npy array ({exc})") from None
    if fortran or dtype.hasobject or len(shape) != 2:
        f.close()
        arr = np.load(path, allow_pickle=False) if not dtype.hasobject else None
        if arr is None:
            raise DelbenchError(f"embeddings file {path} holds Python objects: expected a float32 matrix")
        return shape, dtype, iter([(0, np.asarray(arr, dtype=np.float32))] if arr.ndim == 2 else [])

    def blocks() -> Iterator[tuple[int, np.ndarray]]:
        with f:
            n, d = shape
            for start in range(0, n, _CHUNK):
                rows = min(_CHUNK, n - start)
                block = np.fromfile(f, dtype=dtype, count=rows * d)
                if block.size != rows * d:
                    raise DelbenchError(f"embeddings file {path} is truncated at row {start + block.size // max(d, 1)}")
                yield start, block.reshape(rows, d).astype(np.float32, copy=False)

    return shape, dtype, blocks()


def save_embeddings(path: str | Path, embeddings: np.ndarray, meta: dict[str, Any]) -> None:
    """Write embeddings (L2-normalised here) and their sidecar (N, D, sha256 plus ``meta``), atomically."""
    emb = np.asarray(embeddings, dtype=np.float32)
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    write_npy(path, emb)
    side = {**meta, "n": int(emb.shape[0]), "d": int(emb.shape[1]), "sha256": sha256_file(path)}
    write_json(sidecar_path(path), side)


def standardise(x: np.ndarray) -> np.ndarray:
    """Each dimension centred on its pool mean and divided by its pool spread.

    Pooled post-ReLU features are all positive and share one large mean direction, so before this
    every cosine is near 1 and k-means, outlier and near-duplicate thresholds see no spread. Scaling
    each dimension to unit spread keeps a few high-variance channels from deciding every distance. A
    dimension that is constant over the pool carries nothing and stays 0."""
    x = np.asarray(x, dtype=np.float32)
    # statistics in float64, the matrix in float32: a paper-sized pool is not copied at double width
    mean = x.mean(axis=0, dtype=np.float64)
    std = x.std(axis=0, dtype=np.float64)
    live = std > 1e-6 * max(float(std.max(initial=0.0)), 1e-30)
    scale = np.divide(1.0, std, out=np.zeros_like(std), where=live)
    out = (x - mean.astype(np.float32)) * scale.astype(np.float32)
    # an image equal to the pool mean in every dimension still needs a direction to normalise
    out[np.linalg.norm(out, axis=1) < 1e-8, 0] = 1e-6
    return out


def read_sidecar(path: str | Path) -> dict[str, Any]:
    side = sidecar_path(path)
    return json.loads(side.read_text()) if side.is_file() else {}
