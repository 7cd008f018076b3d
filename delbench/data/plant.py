"""Plant recorded disruptions and near-duplicates into the pool of a dataset root.

``plant(src, out)`` reads any dataset root (imported or synthetic) and writes a new root whose pool
is rebuilt from the source pool images with ground truth a real pool lacks, so a protocol can be
checked on real images: ``gt_quality`` (``clean`` or the disruption planted), ``gt_group`` (a clean
original and its copies share one; every disruptive frame has its own), ``gt_copy_of`` (the id of
the original a copy was made from) and ``gt_source_id`` (the source row an image was made from).

Sizing: the output pool has as many frames N as the source pool (as it has frames not recorded as
disruptive, when the source already records ``gt_quality``). ``round(duplicates * N)`` are
near-duplicate copies, ``round(disrupt * N)`` are disruptive frames, the rest are clean originals.
Originals and disruptive frames are made from distinct source images (a random partition), copies
from the originals, so ``round(duplicates * N)`` source images are left out.

Task rows and their files are copied byte for byte. The root is built in a temporary folder beside
``out`` and renamed into place at the end, and nothing outside ``src`` is read.
"""
from __future__ import annotations

import hashlib
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from delbench.data.manifest import COLUMNS, MANIFEST_NAME, check, is_inside, manifest_sha256, pool_rows, read_manifest
from delbench.errors import DelbenchError
from delbench.progress import Progress

PLANT_VERSION = 1
INFO_NAME = "plant.json"
CLEAN = "clean"
POOL_DIR = "pool"
# Screens carry no anatomy, so a polyp the source frame showed is gone from them.
NO_ANATOMY = ("blank", "pattern")
_ROLES, _PIXELS = 0, 1  # generator streams: who plays which role, then each frame's pixels



@dataclass(frozen=True)
class Sizes:
    """How the output pool of ``pool`` frames splits into roles."""

    pool: int
    originals: int
    copies: int
    disruptive: int

    @property
    def unused(self) -> int:
        """Source images left out (as many as there are copies)."""
        return self.copies


@dataclass(frozen=True)
class _Item:
    index: int  # output pool index
    source: int  # position in the source pool
    quality: str
    group: int
    copy_of: int | None  # output index of the original


def sizes(n: int, disrupt: float, duplicates: float) -> Sizes:
    """The sizing rule: N stays N; copies and disruptive frames are shares of it, rounded half up."""
    check_fractions(disrupt, duplicates)
    # half up, not Python's half to even, so that 0.25 of 10 is 3 rather than 2
    n_dup, n_dis = math.floor(duplicates * n + 0.5), math.floor(disrupt * n + 0.5)
    return Sizes(pool=n, originals=n - n_dup - n_dis, copies=n_dup, disruptive=n_dis)


def check_fractions(disrupt: float, duplicates: float) -> None:
    # written as `not (x >= 0)` so that NaN is refused too
    if not (disrupt >= 0 and duplicates >= 0 and disrupt + duplicates < 1):
        raise DelbenchError(
            f"plant: --disrupt {disrupt:g} and --duplicates {duplicates:g} are not shares of the pool; "
            "each must be >= 0 and their sum below 1 (the rest are clean originals)"
        )


def plant(
    src: str | Path,
    out: str | Path,
    *,
    disrupt: float = 0.3,
    duplicates: float = 0.3,
    seed: int = 0,
    force: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
) -> Path:
    """Write the planted root at ``out`` and return it.

    An existing non-empty ``out`` is refused unless ``force``; ``out`` may never be ``src``, inside
    it or around it. The same ``src``, fractions and ``seed`` give byte-identical files and manifest,
    whatever ``workers`` (threads, default up to 4 CPUs). ``progress(fraction, "done/total files")`` counts files.
    """
    import pandas as pd

    from delbench.store.atomic import atomic_dir, write_json
    from delbench.data.manifest import task_rows, write_manifest

    check_fractions(disrupt, duplicates)
    if seed < 0:
        raise DelbenchError(f"plant: --seed {seed} is negative; use a seed >= 0")
    src, out = Path(src), Path(out)
    _check_paths(src, out, force)
    frame = _read_source(src)
    pool, tasks = pool_rows(frame), task_rows(frame)
    if pool.empty:
        raise DelbenchError(f"{src / MANIFEST_NAME}: no pool rows; plant needs a pool to plant into")
    n_source = len(pool)
    pool = _usable(pool)
    if pool.empty:
        raise DelbenchError(
            f"{src / MANIFEST_NAME}: every pool row is recorded as disruptive (gt_quality); plant needs clean frames"
        )
    sz = sizes(len(pool), disrupt, duplicates)
    if sz.originals < 1:
        raise DelbenchError(
            f"plant: a pool of {sz.pool} leaves no clean original at --disrupt {disrupt:g} --duplicates {duplicates:g}; "
            "lower the fractions"
        )
    items = _plan(sz, seed)
    width = max(6, len(str(sz.pool - 1)))
    ids = [f"{POOL_DIR}/{i:0{width}d}" for i in range(sz.pool)]
    _check_clash(src, tasks, ids)

    root = src.resolve()
    # plain tuples, so the worker threads never touch the DataFrame
    sources = list(zip(pool["path"], pool["sha256"], pool["id"]))
    total, done = sz.pool + len(tasks), 0
    with atomic_dir(out) as tmp:
        made: list[tuple[str, int, int]] = []
        with ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1)) as ex:
            try:
                for res in ex.map(lambda it: _make(root, tmp, sources[it.source], it, ids[it.index], seed), items):
                    made.append(res)
                    done += 1
                    if progress is not None:
                        progress(done / total, f"{done}/{total} files")
                for _ in ex.map(lambda r: _copy_task(root, tmp, r), tasks.to_dict("records")):
                    done += 1
                    if progress is not None:
                        progress(done / total, f"{done}/{total} files")
            except BaseException:
                ex.shutdown(wait=True, cancel_futures=True)
                raise
        planted = _pool_frame(pool, items, ids, made)
        full = pd.concat([planted, tasks], ignore_index=True)
        for col in ("gt_copy_of", "gt_source_id"):
            full[col] = full[col].astype("string")
        write_manifest(tmp, full)
        write_json(tmp / INFO_NAME, _info(src, disrupt, duplicates, seed, sz, planted, len(tasks), n_source))
    return out


def _check_paths(src: Path, out: Path, force: bool) -> None:
    from delbench.data.importer import check_apart

    if not src.is_dir():
        raise DelbenchError(f"plant: source {src} is not a directory; pass a dataset root")
    check_apart("plant", src, out)
    if out.is_dir() and any(out.iterdir()) and not force:
        raise DelbenchError(f"plant: {out} already exists and is not empty; choose another --out or pass --force")


def _read_source(src: Path) -> Any:
    frame = read_manifest(src)
    where = str(src / MANIFEST_NAME)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DelbenchError(f"{where}: missing column(s) {', '.join(missing)}; is this a delbench dataset root?")
    check(frame, where=where)
    return frame


def _usable(pool: Any) -> Any:
    """The source frames plant may use: a pool that already records ``gt_quality`` (a synthetic or
    planted root) gives only the frames not known to be disruptive, so that a planted ``clean``
    label is never wrong."""
    if "gt_quality" not in pool.columns:
        return pool
    known_bad = (pool["gt_quality"].notna() & (pool["gt_quality"] != CLEAN)).astype(bool)
    return pool[~known_bad.to_numpy()].reset_index(drop=True)


def _plan(sz: Sizes, seed: int) -> list[_Item]:
    """Who plays which role, in output order. Output order is shuffled so that a pool index says
    nothing about its role; group ids are numbered in order of first appearance."""
    from delbench.data.plant_effects import DISRUPTIONS

    rng = np.random.default_rng([seed, _ROLES])
    perm = rng.permutation(sz.pool)
    originals = perm[: sz.originals]
    disrupted = perm[sz.originals : sz.originals + sz.disruptive]
    # each copy picks its original at random, so group sizes vary as runs of real video do
    copy_src = rng.integers(0, sz.originals, sz.copies)
    # every disruption as often as the others (to within one), in random order
    kinds = rng.permutation(np.resize(np.array(DISRUPTIONS), sz.disruptive)) if sz.disruptive else np.array([], str)
    slot = rng.permutation(sz.pool)  # role-ordered item -> output index
    orig_out = slot[: sz.originals]
    roles: list[tuple[int, int, str, tuple[str, int], int | None]] = []
    for k, p in enumerate(originals):
        roles.append((int(orig_out[k]), int(p), CLEAN, ("o", k), None))
    for k, o in enumerate(copy_src):
        roles.append((int(slot[sz.originals + k]), int(originals[o]), CLEAN, ("o", int(o)), int(orig_out[o])))
    for k, (p, kind) in enumerate(zip(disrupted, kinds)):
        roles.append((int(slot[sz.originals + sz.copies + k]), int(p), str(kind), ("d", k), None))
    roles.sort(key=lambda r: r[0])
    groups: dict[tuple[str, int], int] = {}
    return [_Item(i, p, q, groups.setdefault(key, len(groups)), c) for i, p, q, key, c in roles]


def _check_clash(src: Path, tasks: Any, ids: list[str]) -> None:
    taken = set(tasks["id"]) | set(tasks["path"]) | set(tasks["mask_path"].dropna())
    clash = next((i for i in ids if i in taken or f"{i}.png" in taken), None)
    if clash is not None:
        raise DelbenchError(
            f"{src / MANIFEST_NAME}: a task row already uses {clash!r}, a name plant gives a pool frame; "
            "rename that task's files"
        )


def _source_bytes(root: Path, rel: Any, sha: Any, rid: str) -> bytes:
    """The bytes of ``root/rel``, refused if the path leaves the root or the file is not what the manifest says."""
    if not isinstance(rel, str) or not is_inside(rel) or not (root / rel).resolve().is_relative_to(root):
        raise DelbenchError(
            f"{root / str(rel)}: path of row {rid!r} leads outside the source root; plant reads only files inside it "
            "(import with copies, not --link)"
        )
    try:
        data = (root / rel).read_bytes()
    except OSError as exc:
        raise DelbenchError(f"{root / rel}: cannot read ({exc.strerror or exc}); run `delbench data verify {root}`") from None
    if isinstance(sha, str) and hashlib.sha256(data).hexdigest() != sha:
        raise DelbenchError(f"{root / rel}: sha256 differs from the manifest; run `delbench data verify {root}`")
    return data


def _make(root: Path, tmp: Path, source: tuple[Any, Any, str], item: _Item, rid: str, seed: int) -> tuple[str, int, int]:
    """Write one planted frame; return its sha256, width and height."""
    from delbench.data.decode import BadFile, read_rgb
    from delbench.data.plant_effects import disrupt, near_copy
    from delbench.data.synth.generate import encode_png

    rel, sha, src_id = source
    data = _source_bytes(root, rel, sha, src_id)
    try:
        img = read_rgb(data)
    except BadFile as exc:
        raise DelbenchError(f"{root / rel}: {exc}; run `delbench data verify {root}`") from None
    rng = np.random.default_rng([seed, _PIXELS, item.index])
    if item.quality != CLEAN:
        img = disrupt(item.quality, img, rng)
    elif item.copy_of is not None:
        img, _ = near_copy(img, rng)
    png = encode_png(np.ascontiguousarray(img))
    dest = tmp / f"{rid}.png"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(png)
    return hashlib.sha256(png).hexdigest(), int(img.shape[1]), int(img.shape[0])


def _copy_task(root: Path, tmp: Path, row: dict[str, Any]) -> None:
    for col, sha in (("path", "sha256"), ("mask_path", "mask_sha256")):
        rel = row.get(col)
        if col == "mask_path" and not isinstance(rel, str):
            continue
        data = _source_bytes(root, rel, row.get(sha), row["id"])
        dest = tmp / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)


def _pool_frame(pool: Any, items: list[_Item], ids: list[str], made: list[tuple[str, int, int]]) -> Any:
    """Planted rows: the source row's metadata (source, centre, video, extra columns) with the new
    file, id and ground truth."""
    import pandas as pd

    src_pos = [it.source for it in items]
    out = pool.iloc[src_pos].reset_index(drop=True).copy()
    null = pd.array([pd.NA] * len(items), dtype="string")
    out["gt_source_id"] = pd.array(out["id"].tolist(), dtype="string")
    out["id"] = pd.array(ids, dtype="string")
    out["path"] = pd.array([f"{i}.png" for i in ids], dtype="string")
    out["sha256"] = pd.array([m[0] for m in made], dtype="string")
    out["width"] = [m[1] for m in made]
    out["height"] = [m[2] for m in made]
    out["role"] = "pool"
    # the planted files are new pixels: the source's perceptual hash no longer describes them
    for col in ("task", "split", "mask_path", "mask_sha256") + (("phash",) if "phash" in out.columns else ()):
        out[col] = null
    quality = [it.quality for it in items]
    out["gt_quality"] = pd.array(quality, dtype="string")
    out["gt_group"] = pd.array([it.group for it in items], dtype="Int64")
    out["gt_copy_of"] = pd.array([ids[it.copy_of] if it.copy_of is not None else pd.NA for it in items], dtype="string")
    if "gt_polyp" in out.columns:
        polyp = out["gt_polyp"].astype("boolean")
        polyp[np.isin(quality, NO_ANATOMY)] = False
        out["gt_polyp"] = polyp
    return out


def _info(
    src: Path, disrupt: float, duplicates: float, seed: int, sz: Sizes, planted: Any, n_tasks: int, n_source: int
) -> dict[str, Any]:
    from delbench import __version__

    return {
        "planter": "delbench.data.plant",
        "version": PLANT_VERSION,
        "delbench": __version__,
        "source": str(src.resolve()),
        "source_manifest_sha256": manifest_sha256(src),
        "disrupt": disrupt,
        "duplicates": duplicates,
        "seed": seed,
        "source_pool_frames": n_source,
        "source_disruptive_left_out": n_source - sz.pool,
        "pool_frames": sz.pool,
        "originals": sz.originals,
        "copies": sz.copies,
        "disruptive": sz.disruptive,
        "unused_source_frames": sz.unused,
        "groups": int(planted["gt_group"].nunique()),
        "quality_counts": {str(k): int(v) for k, v in planted["gt_quality"].value_counts().sort_index().items()},
        "task_rows": n_tasks,
    }
