"""What every dataset adapter returns, and the small helpers that keep each adapter a few lines long.

An adapter only *lists* what it finds (paths, pairing, centre, task); it never opens an image. All
decoding, checking, hashing and writing happens once, in ``delbench.data.importer``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Iterator, Sequence

from delbench.errors import DelbenchError

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"})
# How published datasets name a mask relative to its image stem (PolypGen: `_mask`, ETIS: `p<n>`).
MASK_STEMS: tuple[str, ...] = ("{}", "{}_mask", "p{}", "{}_gt", "{}_seg")


@dataclass(frozen=True)
class Item:
    """One image found by an adapter. Paths are POSIX and relative to ``ScanResult.root``."""

    path: str
    mask: str | None = None
    role: str = "pool"  # "pool" or "task"
    task: str | None = None
    center: str | None = None
    video: str | None = None
    frame: int | None = None
    split: str | None = None  # a published split ("train"/"test") the importer honours; else hashed
    label: str | None = None  # class folder name for classification-style releases
    id: str | None = None  # defaults to the path without its suffix


@dataclass
class ScanResult:
    """What ``Adapter.scan`` returns: the dataset root it settled on and the items under it."""

    root: Path
    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. masks without an image, shown to the user

    def tasks(self) -> list[str]:
        return sorted({i.task for i in self.items if i.task})


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTS and not path.name.startswith(".")


def walk_images(directory: Path, links: list[Path] | None = None) -> list[Path]:
    """Every image file under ``directory``, sorted; directory symlinks are not followed (a link
    out of the tree would otherwise import files the user never meant to share) but are added to
    ``links`` so the caller can say so."""
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(directory, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if links is not None:
            links.extend(Path(dirpath) / d for d in dirnames if os.path.islink(os.path.join(dirpath, d)))
        out.extend(Path(dirpath) / f for f in filenames if is_image(Path(f)))
    return sorted(out)


def list_images(directory: Path) -> list[Path]:
    """Images directly inside ``directory`` (not recursive), sorted."""
    return sorted(p for p in directory.iterdir() if (p.is_file() or p.is_symlink()) and is_image(p))


def rel(path: Path, root: Path) -> str:
    return PurePosixPath(os.path.relpath(path, root)).as_posix()


def find_dir(root: Path, candidates: Sequence[str], *, what: str, fmt: str) -> Path:
    """The first of ``candidates`` (relative paths, case-insensitive on the last part) under root."""
    for cand in candidates:
        p = root / cand
        if p.is_dir():
            return p
        parent = p.parent
        if parent.is_dir():
            for child in parent.iterdir():
                if child.is_dir() and child.name.lower() == p.name.lower():
                    return child
    raise DelbenchError(
        f"{fmt}: no {what} folder under {root} (looked for {', '.join(map(repr, candidates))}); "
        f"point SRC at the unpacked {fmt} download (see `delbench data formats`)"
    )


def locate_root(src: Path, markers: Sequence[str], *, fmt: str) -> Path:
    """``src`` itself if it holds one of ``markers``, else its single child folder that does
    (downloads often unpack into one extra folder, e.g. ``kvasir-seg/Kvasir-SEG/``)."""
    src = Path(src)
    if not src.is_dir():
        raise DelbenchError(f"{fmt}: source {src} is not a directory; pass the unpacked dataset folder")

    def has_marker(d: Path) -> bool:
        return any(_exists_ci(d, m) for m in markers)

    if has_marker(src):
        return src
    hits = [c for c in sorted(src.iterdir()) if c.is_dir() and has_marker(c)]
    if len(hits) == 1:
        return hits[0]
    raise DelbenchError(
        f"{fmt}: {src} does not look like a {fmt} tree (expected {' or '.join(map(repr, markers))} inside); "
        f"see `delbench data formats` for the layout"
    )


def _exists_ci(d: Path, name: str) -> bool:
    p = d / name
    if p.exists():
        return True
    parent = p.parent
    return parent.is_dir() and any(c.name.lower() == p.name.lower() for c in parent.iterdir())


def mask_index(mask_dir: Path, exclude: Path | None = None) -> dict[str, Path]:
    """Mask files under ``mask_dir`` (recursively, leaving out the folder ``exclude``) by their path
    relative to ``mask_dir`` without the suffix, e.g. ``sub/a`` (first by sorted name wins if two share it)."""
    index: dict[str, Path] = {}
    for p in walk_images(mask_dir):
        if exclude is None or not p.is_relative_to(exclude):
            index.setdefault(_key(p, mask_dir, p.stem), p)
    return index


def _key(path: Path, directory: Path, stem: str) -> str:
    """``stem`` in ``path``'s folder relative to ``directory``: how images pair with masks in subfolders."""
    return PurePosixPath(rel(path.parent, directory), stem).as_posix()


def paired_items(
    root: Path,
    image_dir: Path,
    mask_dir: Path,
    *,
    task: str,
    center: str | None,
    mask_stems: Iterable[str] = MASK_STEMS,
    video: Callable[[Path], str | None] | None = None,
    split: str | None = None,
) -> tuple[list[Item], list[str]]:
    """Task items for every image under ``image_dir`` (subfolders too), each paired with its mask by
    stem in the same subfolder of ``mask_dir`` (``images/sub/a.jpg`` with ``masks/sub/a.png``).

    An image without a mask is still listed (``mask=None``) so the importer can refuse it by name;
    masks without an image come back as notes.
    """
    # One folder nested in the other (masks=images/masks) must not lend its files to the other side.
    inner_masks = mask_dir if mask_dir != image_dir and mask_dir.is_relative_to(image_dir) else None
    inner_images = image_dir if mask_dir != image_dir and image_dir.is_relative_to(mask_dir) else None
    masks = mask_index(mask_dir, exclude=inner_images)
    patterns = tuple(mask_stems)
    used: set[str] = set()
    items: list[Item] = []
    links: list[Path] = []
    images = [p for p in walk_images(image_dir, links) if inner_masks is None or not p.is_relative_to(inner_masks)]
    for img in images:
        keys = [_key(img, image_dir, p.format(img.stem)) for p in patterns]
        key = next((k for k in keys if k in masks), None)
        match = masks[key] if key is not None else None
        if key is not None:
            used.add(key)
        items.append(
            Item(
                path=rel(img, root),
                mask=rel(match, root) if match is not None else None,
                role="task",
                task=task,
                center=center,
                video=video(img) if video else None,
                split=split,
            )
        )
    orphans = sorted(set(masks) - used)
    notes = [f"{len(orphans)} mask(s) in {rel(mask_dir, root)} have no image, e.g. {orphans[0]!r}"] if orphans else []
    if links:
        notes.append(
            f"{len(links)} linked folder(s) under {rel(image_dir, root)} not imported (links are not followed), "
            f"e.g. {rel(links[0], root)!r}; copy the folder in to import its images"
        )
    return items, notes


def pool_items(root: Path, directory: Path, *, center: str | None, label_depth: int | None = None) -> Iterator[Item]:
    """Pool items for every image under ``directory``; ``label_depth`` picks the class-folder level."""
    for img in walk_images(directory):
        parts = PurePosixPath(rel(img, directory)).parts
        label = parts[label_depth] if label_depth is not None and len(parts) > label_depth + 1 else None
        yield Item(path=rel(img, root), role="pool", center=center, label=label)


class PairedAdapter:
    """Base for releases that are one folder of images and one folder of masks paired by stem.

    Subclasses set ``name``, ``task``, ``center``, ``image_dirs`` and ``mask_dirs`` (candidate
    relative paths, first hit wins) and document their layout in the class docstring.
    """

    name: str = ""
    task: str = ""
    center: str | None = None
    image_dirs: tuple[str, ...] = ("images",)
    mask_dirs: tuple[str, ...] = ("masks",)

    def __init__(self, center: str | None = None) -> None:
        if center is not None:
            self.center = center

    def scan(self, src: Path) -> ScanResult:
        root = locate_root(Path(src), self.image_dirs, fmt=self.name)
        image_dir = find_dir(root, self.image_dirs, what="image", fmt=self.name)
        mask_dir = find_dir(root, self.mask_dirs, what="mask", fmt=self.name)
        items, notes = paired_items(root, image_dir, mask_dir, task=self.task, center=self.center)
        return ScanResult(root=root, items=items, notes=notes)
