"""The select stage: load embeddings (and the pool), run a selector for one or more ratios, validate,
and write each subset with its sidecar."""
from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from delbench import __version__
from delbench.store.atomic import sha256_file
from delbench.errors import DelbenchError
from delbench.plugin.registry import Entry
from delbench.progress import Progress, no_progress
from delbench.select.contract import SelectionRequest, run_selector
from delbench.select.subset import subset_files, write_subset
from delbench.embed.vectors import load_embeddings, read_sidecar, sidecar_path


def load_pool(manifest: str | Path, n: int | None = None) -> "Any":
    """The pool rows of a manifest, in manifest order (pool index i = row i)."""
    from delbench.data.manifest import pool_rows, read_manifest

    manifest = Path(manifest)
    frame = pool_rows(read_manifest(manifest))
    if n is not None and len(frame) != n:
        raise DelbenchError(
            f"manifest {manifest} has {len(frame)} pool rows but the embeddings have {n}: "
            "embed this manifest's pool again"
        )
    return frame


def image_loader(root: Path, pool: Any) -> Any:
    """A ``load_images(indices)`` callable reading pool images as HxWx3 uint8 arrays."""
    paths = pool["path"].tolist() if "path" in pool.columns else None
    if paths is None:
        return None

    def load(indices: Sequence[int]) -> Iterator[np.ndarray]:
        from delbench.data.decode import BadFile, read_rgb

        for i in indices:
            try:
                yield read_rgb(root / paths[int(i)])
            except BadFile as exc:
                raise DelbenchError(f"{root / paths[int(i)]}: {exc}; run `delbench data verify {root}`") from None

    return load


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and a.samefile(b)  # hard links
    except OSError:
        return False


def check_outputs(outputs: Sequence[str | Path], embeddings: str | Path, pool_manifest: str | Path | None) -> None:
    """Refuse an output (a subset, its sidecar or its reasons file) that would overwrite an input."""
    inputs = {"--embeddings": [Path(embeddings), sidecar_path(embeddings)]}
    if pool_manifest is not None:
        inputs["--pool"] = [Path(pool_manifest)]
    for out in outputs:
        for written in subset_files(out):
            for option, paths in inputs.items():
                for path in paths:
                    if _same_file(written, path):
                        raise DelbenchError(f"--out {out}: writing {written} would overwrite the {option} input "
                                            f"{path}; choose another output path")


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_select(
    entry: Entry,
    *,
    embeddings: str | Path,
    ratios: Sequence[float],
    outputs: Sequence[str | Path],
    seed: int = 0,
    params: dict[str, Any] | None = None,
    pool_manifest: str | Path | None = None,
    progress: Progress = no_progress,
) -> list[dict[str, Any]]:
    """Run the registered selector ``entry`` for every ratio (one pass where it can) and write
    ``outputs[i]`` for ratio i."""
    if len(ratios) != len(outputs):
        raise ValueError("one output path per ratio")
    check_outputs(outputs, embeddings, pool_manifest)
    selector = entry.create(**(params or {}))
    emb = load_embeddings(embeddings)
    pool, loader, pool_sha = None, None, None
    if pool_manifest is not None:
        pool = load_pool(pool_manifest, emb.shape[0])
        loader = image_loader(Path(pool_manifest).parent, pool)
        pool_sha = sha256_file(pool_manifest)
    request = SelectionRequest(
        ratio=float(ratios[0]), seed=seed, embeddings=emb, pool=pool, load_images=loader, progress=progress
    )
    start = time.perf_counter()
    answers = run_selector(selector, request, ratios=ratios)
    seconds = time.perf_counter() - start
    side = read_sidecar(embeddings)
    implementation = entry.implementation()
    records = []
    for ratio, out in zip(ratios, outputs):
        meta = {
            "selector": entry.name,
            "plugin": entry.plugin,
            "package": entry.package,
            "plugin_version": entry.version,
            "implementation": implementation,
            "delbench_version": __version__,
            "params": entry.filled_params(params or {}),
            "ratio_target": float(ratio),
            "n": int(emb.shape[0]),
            "seed": int(seed),
            "seconds": seconds,
            "peak_rss_mb": peak_rss_mb(),
            "embeddings_sha256": side.get("sha256") or sha256_file(embeddings),
            "pool_sha256": pool_sha,
        }
        ids = pool["id"].astype(str).tolist() if pool is not None and "id" in pool.columns else None
        records.append(write_subset(out, answers[float(ratio)], meta, pool_ids=ids))
    return records
