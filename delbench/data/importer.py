"""Import a real dataset from its published layout into a dataset root with a manifest.

The output root holds ``images/<source>/<path in the release>`` (copied or linked),
``masks/<source>/<path in the release>.png`` (always written: single-channel 0/255 PNG),
``manifest.parquet``, ``import.json`` (what was imported, how), with ``skip_bad``
``import-report.json``/``.csv`` (what was left out and why), and ``leaks.csv`` when a pool image is
or resembles a val or test image (``delbench.data.leaks``). ``<source>`` is the format's name, or
for the generic ``folder`` format the source folder's name (``source=`` overrides either).

Everything is built in a temporary folder beside the output and renamed into place at the end, so
a failed import leaves the output as it was.
"""
from __future__ import annotations

import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from delbench.store.atomic import atomic_dir, sha256_file, write_json
from delbench.data.adapters.base import Item
from delbench.data.checks import MASK_TOLERANCE, BadFile, binarise, mask_values
from delbench.data.decode import open_image, to_rgb
from delbench.data.leaks import Leak
from delbench.data.manifest import IMPORT_SIDECAR, MANIFEST_NAME, is_inside, read_manifest, write_manifest
from delbench.data.splits import SPLIT_RATIOS, SPLIT_SALT, assign_splits
from delbench.errors import DelbenchError

MODES = ("copy", "link")
REPORT_NAME = "import-report"
SIDECAR_NAME = IMPORT_SIDECAR


@dataclass(frozen=True)
class Skipped:
    """One item left out of an import."""

    file: str  # path as found in the source tree
    id: str
    kind: str  # corrupt, missing-mask, mask-size, non-binary-mask, duplicate-id, escapes-root, ...
    message: str
    base: str = ""  # the dataset root ``file`` is relative to, for messages

    def line(self) -> str:
        return f"{Path(self.base) / self.file}: {self.message}"


@dataclass
class ImportResult:
    root: Path
    format: str
    rows: int
    pool: int
    tasks: dict[str, dict[str, int]]  # task -> split -> count
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    report: Path | None = None
    source: str = ""  # the name in the ``source`` column and in the ids
    empty: dict[str, tuple[int, int]] = field(default_factory=dict)  # task -> (empty test masks, test images)
    leaks: list[Leak] = field(default_factory=list)
    leak_report: Path | None = None


SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def import_dataset(
    fmt: str,
    src: str | Path,
    out: str | Path,
    *,
    mode: str = "copy",
    skip_bad: bool = False,
    task_name: str | None = None,
    force: bool = False,
    merge: bool = False,
    mask_tolerance: float = MASK_TOLERANCE,
    workers: int | None = None,
    source: str | None = None,
    leaks: str = "refuse",
    pool_from_task: tuple[str, ...] = (),
    **options: Any,
) -> ImportResult:
    """Scan ``src`` with the adapter registered as ``fmt`` and write a dataset root at ``out``.

    ``options`` go to the adapter (``--option k=v``). An existing non-empty ``out`` is refused
    unless ``force`` (replace it) or ``merge`` (add these rows to its manifest; ids must not
    clash). Bad inputs raise ``DelbenchError`` naming the file, unless ``skip_bad``.
    ``source`` names the rows' ``source`` (and id prefix); ``pool_from_task`` (``TASK[:train]``)
    adds a task's train images to the pool; ``leaks`` says what to do with a pool image that is a
    val or test image (``delbench.data.leaks``).
    """
    from delbench.data.leaks import check_policy
    from delbench.data.pool_from import parse
    from delbench.plugin.manager import get_plugins

    if mode not in MODES:
        raise DelbenchError(f"import: mode {mode!r} not understood; use copy or link")
    if force and merge:
        raise DelbenchError("import: --force replaces the output and --merge adds to it; pass only one")
    check_policy(leaks)
    for spec in pool_from_task:
        parse(spec)
    src, out = Path(src), Path(out)
    adapter = get_plugins().datasets.get(fmt).create(**options)
    name = _source_name(fmt, source, adapter, src)
    _check_out(src, out, force=force, merge=merge)
    scan = adapter.scan(src)
    root = Path(scan.root).resolve()
    items = _rename_task(scan.items, task_name, fmt)
    if not items:
        raise DelbenchError(f"{fmt}: no images found under {src}; is this the right folder and format?")

    skipped: list[Skipped] = []
    candidates = _screen(name, root, items, skipped)
    skipped = [replace(s, base=str(root)) for s in skipped]
    if skipped and not skip_bad:
        raise DelbenchError(_refusal(skipped[0]))
    if merge and (out / MANIFEST_NAME).is_file():
        _merge(read_manifest(out)[["id"]], {"id": [rid for rid, _ in candidates]}, out)  # fail before copying
    rows: list[dict[str, Any]] = []
    with atomic_dir(out) as tmp:
        old = _start_from(out, tmp) if merge else None
        with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
            work = lambda c: _process(name, root, c[0], c[1], tmp, mode, mask_tolerance)  # noqa: E731
            for res in pool.map(work, candidates):
                if isinstance(res, Skipped):
                    res = replace(res, base=str(root))
                    if not skip_bad:
                        pool.shutdown(wait=True, cancel_futures=True)
                        raise DelbenchError(_refusal(res))
                    skipped.append(res)
                else:
                    rows.append(res)
        if not rows:
            raise DelbenchError(f"{fmt}: every image under {src} was bad ({len(skipped)}); nothing to import")
        empty = {r["id"] for r in rows if r.pop("_empty")}
        frame = _frame(rows)
        if old is not None:
            frame = _merge(old, frame, out)
        frame, found, leak_report = _guard_leaks(tmp, frame, leaks, pool_from_task, workers)
        write_manifest(tmp, frame)
        report = _write_report(tmp, skipped) if skipped else None
        _write_sidecar(tmp, fmt, src, root, mode, options, frame, len(rows), skipped, merge,
                       {"source_name": name, "leaks": leaks, "pool_from_task": list(pool_from_task)})
    result = _summary(Path(out), fmt, name, frame, len(rows), skipped, scan.notes, empty)
    result.report = Path(out) / report.name if report else None
    result.leaks, result.leak_report = found, Path(out) / leak_report.name if leak_report else None
    return result


def _source_name(fmt: str, source: str | None, adapter: Any, src: Path) -> str:
    """The rows' ``source``: ``source``, else the adapter's default for ``src`` (a folder's name), else
    the format."""
    default = getattr(adapter, "default_source", None)
    name = source or (default(src) if default else None) or fmt
    if not SOURCE_NAME.match(name):
        raise DelbenchError(f"import: source name {name!r} must be lower-case letters, digits, '.', '_' or '-' "
                            "(starting with a letter or digit); pass --source NAME")
    return name


def _guard_leaks(tmp: Path, frame: Any, policy: str, pool_from_task: tuple[str, ...],
                 workers: int | None) -> tuple[Any, list[Leak], Path | None]:
    from delbench.data.leaks import guard, prune_files, write_report
    from delbench.data.pool_from import add_pool_rows

    if pool_from_task:
        frame = add_pool_rows(frame, pool_from_task)
    kept, found = guard(tmp, frame, policy, command="import", workers=workers)
    if len(kept) != len(frame):
        prune_files(tmp, frame, kept)
    return kept, found, write_report(tmp, found, policy) if found else None


def _refusal(bad: Skipped) -> str:
    return f"{bad.line()}; fix or remove it, or pass --skip-bad to import the rest"


def check_apart(command: str, src: Path, out: Path) -> None:
    """An output folder that is neither the source, inside it, around it, nor a file (import, plant)."""
    s, o = src.resolve(), out.resolve()
    if o == s or o.is_relative_to(s):
        raise DelbenchError(f"{command}: output {out} is inside the source {src}; choose a folder outside it")
    if s.is_relative_to(o):
        raise DelbenchError(f"{command}: source {src} is inside the output {out}; choose another output folder")
    if out.exists() and not out.is_dir():
        raise DelbenchError(f"{command}: output {out} exists and is not a folder")


def _check_out(src: Path, out: Path, *, force: bool, merge: bool) -> None:
    check_apart("import", src, out)
    if out.is_dir() and any(out.iterdir()) and not (force or merge):
        raise DelbenchError(
            f"import: output {out} is not empty; pass --force to replace it or --merge to add to its manifest"
        )
    if merge and out.is_dir() and any(out.iterdir()) and not (out / MANIFEST_NAME).is_file():
        raise DelbenchError(f"import: --merge needs a dataset root, but {out} has no {MANIFEST_NAME}")


def _rename_task(items: list[Item], task_name: str | None, fmt: str) -> list[Item]:
    if not task_name:
        return list(items)
    tasks = sorted({i.task for i in items if i.task})
    if len(tasks) > 1:
        raise DelbenchError(f"{fmt}: --task renames a single task, but this source has {len(tasks)}: {', '.join(tasks)}")
    return [replace(i, task=task_name) if i.role == "task" else i for i in items]


def _item_id(fmt: str, item: Item) -> str:
    return f"{fmt}/{item.id or str(PurePosixPath(item.path).with_suffix(''))}"


def _screen(fmt: str, root: Path, items: list[Item], skipped: list[Skipped]) -> list[tuple[str, Item]]:
    """Drop items whose paths escape the root or whose ids clash, before any file is opened."""
    seen: dict[str, str] = {}
    dups: set[str] = set()
    ok: list[tuple[str, Item]] = []
    for item in items:
        rid = _item_id(fmt, item)
        if rid in seen:
            dups.add(rid)
        seen.setdefault(rid, item.path)
    for item in items:
        rid = _item_id(fmt, item)
        bad = next((p for p in (item.path, item.mask) if p is not None and not _inside(root, p)), None)
        if bad is not None:
            skipped.append(Skipped(bad, rid, "escapes-root", f"path escapes the dataset root {root} (via '..' or a symlink)"))
        elif rid in dups:
            skipped.append(Skipped(item.path, rid, "duplicate-id", f"duplicate id {rid!r} (also {seen[rid]}); rename one of the files"))
        else:
            ok.append((rid, item))
    return ok


def _inside(root: Path, rel: str) -> bool:
    if not is_inside(rel):
        return False
    return (root / rel).resolve().is_relative_to(root)


def _process(source: str, root: Path, rid: str, item: Item, tmp: Path, mode: str, tolerance: float) -> dict[str, Any] | Skipped:
    """Check one item and write its files into ``tmp`` under ``source``; a bad item comes back as
    ``Skipped``."""
    from PIL import Image

    from delbench.data.nearhash import base_hash

    src_img = root / item.path
    try:
        im = open_image(src_img)
        rgb = to_rgb(im)  # refuses pixel formats the readers cannot scale (float, 32-bit)
        width, height = im.size
    except BadFile as exc:
        if exc.kind == "unsupported":
            return Skipped(item.path, rid, "unsupported-image", f"unsupported image: {exc}")
        return Skipped(item.path, rid, exc.kind if exc.kind != "corrupt" else "corrupt-image", f"corrupt or truncated image: {exc}")
    mask_rel = mask_sha = None
    fg = None
    if item.role == "task":
        if item.mask is None:
            return Skipped(item.path, rid, "missing-mask", "no mask for this image (expected one with the same stem in the mask folder)")
        try:
            values = mask_values(root / item.mask)
            if values.shape != (height, width):
                raise BadFile("mask-size", f"mask is {values.shape[1]}x{values.shape[0]} but its image is {width}x{height}")
            fg = binarise(values, tolerance)
        except BadFile as exc:
            kind = {"corrupt": "corrupt-mask", "unsupported": "unsupported-mask"}.get(exc.kind, exc.kind)
            return Skipped(item.mask, rid, kind, str(exc))
    dest = tmp / "images" / source / item.path
    dest.parent.mkdir(parents=True, exist_ok=True)
    if mode == "link":
        os.symlink(src_img.resolve(), dest)
    else:
        shutil.copyfile(src_img, dest)
    if fg is not None:
        mask_rel = f"masks/{source}/{PurePosixPath(item.path).with_suffix('.png')}"
        mdest = tmp / mask_rel
        mdest.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(fg.astype("uint8") * 255, mode="L").save(mdest, format="PNG")
        mask_sha = sha256_file(mdest)
    return {
        "id": rid,
        "path": f"images/{source}/{item.path}",
        "sha256": sha256_file(src_img),
        "width": width,
        "height": height,
        "source": source,
        "center": item.center,
        "video": item.video,
        "frame": item.frame,
        "role": item.role,
        "task": item.task if item.role == "task" else None,
        "mask_path": mask_rel,
        "mask_sha256": mask_sha,
        "label": item.label,
        "phash": base_hash(rgb),
        "_fixed_split": item.split,
        "_empty": fg is not None and not fg.any(),
    }


def _frame(rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    frame = pd.DataFrame(rows).sort_values("id", kind="stable").reset_index(drop=True)
    task = frame["role"] == "task"
    split = pd.Series([None] * len(frame), dtype="object")
    if task.any():
        sub = frame[task]
        split[task.to_numpy()] = assign_splits(
            ids=list(sub["id"]),
            strata=[f"{t}\0{c}" for t, c in zip(sub["task"], sub["center"].fillna(""))],
            groups=[v if isinstance(v, str) else None for v in sub["video"]],
            fixed=[s if isinstance(s, str) else None for s in sub["_fixed_split"]],
        )
    frame["split"] = split
    frame = frame.drop(columns=["_fixed_split"])
    if frame["label"].isna().all():
        frame = frame.drop(columns=["label"])
    else:
        frame["label"] = frame["label"].astype("string")
    return frame


def _start_from(out: Path, tmp: Path) -> Any:
    """Copy the existing root into ``tmp`` (hard links where the filesystem allows) and return its manifest."""
    if not (out / MANIFEST_NAME).is_file():
        return None
    old = read_manifest(out)

    def link_or_copy(s: str, d: str) -> None:
        try:
            os.link(s, d, follow_symlinks=False)
        except OSError:
            shutil.copy2(s, d, follow_symlinks=False)

    shutil.copytree(out, tmp, symlinks=True, copy_function=link_or_copy, dirs_exist_ok=True)
    (tmp / MANIFEST_NAME).unlink()
    return old


def _merge(old: Any, new: Any, out: Path) -> Any:
    import pandas as pd

    clash = sorted(set(old["id"]) & set(new["id"]))
    if clash:
        raise DelbenchError(
            f"import: id {clash[0]!r} is already in {out} ({len(clash)} clashes; was this source imported before?); "
            f"use --force to replace the root, or --source NAME to import it under another name"
        )
    if not hasattr(new, "columns"):
        return old
    frame = pd.concat([old, new], ignore_index=True)
    if "label" in frame.columns:
        frame["label"] = frame["label"].astype("string")
    return frame


def _write_report(tmp: Path, skipped: list[Skipped]) -> Path:
    import csv

    data = [{"file": s.file, "id": s.id, "kind": s.kind, "message": s.message} for s in skipped]
    write_json(tmp / f"{REPORT_NAME}.json", {"root": skipped[0].base, "skipped": data, "count": len(data)})
    with open(tmp / f"{REPORT_NAME}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["file", "id", "kind", "message"])
        writer.writeheader()
        writer.writerows(data)
    return tmp / f"{REPORT_NAME}.json"


def _write_sidecar(
    tmp: Path, fmt: str, src: Path, root: Path, mode: str, options: dict[str, Any], frame: Any, n: int,
    skipped: list[Skipped], merge: bool, more: dict[str, Any],
) -> None:
    import json

    from delbench import __version__

    previous: list[Any] = []
    side = tmp / SIDECAR_NAME
    if merge and side.is_file():
        previous = json.loads(side.read_text()).get("imports", [])
        side.unlink()
    entry = {
        "format": fmt,
        "source": str(src.resolve()),
        "root": str(root),  # the resolved folder the paths are relative to; --link targets lie in it
        "mode": mode,
        "options": options,
        "rows": n,
        "skipped": len(skipped),
        "delbench": __version__,
        "split_ratios": dict(SPLIT_RATIOS),
        "split_salt": SPLIT_SALT,
        **more,
    }
    write_json(side, {"imports": previous + [entry], "rows_total": int(len(frame))})


def _summary(out: Path, fmt: str, name: str, frame: Any, n: int, skipped: list[Skipped], notes: list[str],
             empty: set[str]) -> ImportResult:
    mine = frame[frame["source"] == name]
    tasks: dict[str, dict[str, int]] = {}
    for (task, split), count in mine[mine["role"] == "task"].groupby(["task", "split"]).size().items():
        tasks.setdefault(str(task), {})[str(split)] = int(count)
    test = mine[(mine["role"] == "task") & (mine["split"] == "test")]
    shares = {str(t): (int(g["id"].isin(empty).sum()), len(g)) for t, g in test.groupby("task")}
    return ImportResult(
        root=out, format=fmt, rows=n, pool=int((mine["role"] == "pool").sum()), tasks=tasks, skipped=skipped,
        notes=list(notes), source=name, empty=shares,
    )

