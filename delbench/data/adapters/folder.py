"""A generic image folder: any tree of images as pool, or images/ + masks/ as a task."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from delbench.data.adapters.base import MASK_STEMS, ScanResult, find_dir, paired_items, pool_items
from delbench.errors import DelbenchError


class ImageFolder:
    """Any folder of images (``.jpg .jpeg .png .tif .tiff .bmp``).

    ``role=pool`` (default)::

        SRC/**/<name>.<ext>     # every image under SRC, recursively -> pool

    ``center_from_dir=true`` takes each image's first-level folder as its centre (e.g.
    ``SRC/hospitalA/...``); otherwise all rows get ``center`` (default: SRC's folder name).

    ``role=task``::

        SRC/<images>/[<sub>/]<name>.<ext>    # options images=images, masks=masks
        SRC/<masks>/[<sub>/]<name>[<mask_suffix>].<ext>

    Images and masks are paired by file stem within the same subfolder (``mask_suffix=_mask`` for
    ``<name>_mask.png``); subfolders are read recursively and kept in the ids. The task is named
    ``task`` (default: SRC's folder name, lower-case). Splits: hashed train/val/test.

    Source: the rows' ``source`` and id prefix are SRC's folder name, lower-case (``--source``
    overrides it), so two folders imported into one root stay apart.
    """

    name = "folder"

    def __init__(
        self,
        role: str = "pool",
        images: str = "images",
        masks: str = "masks",
        mask_suffix: str = "",
        task: str | None = None,
        center: str | None = None,
        center_from_dir: bool = False,
    ) -> None:
        if role not in ("pool", "task"):
            raise DelbenchError(f"folder: role={role!r} not understood; use pool or task")
        self.role, self.images, self.masks = role, images, masks
        self.mask_suffix, self.task, self.center, self.center_from_dir = mask_suffix, task, center, center_from_dir

    def default_source(self, src: Path) -> str | None:
        """SRC's folder name as a source name: lower-case, other characters as '-'."""
        slug = re.sub(r"[^a-z0-9._-]+", "-", Path(src).resolve().name.lower()).strip("-._")
        return slug or None

    def scan(self, src: Path) -> ScanResult:
        root = Path(src)
        if not root.is_dir():
            raise DelbenchError(f"folder: source {root} is not a directory; pass a folder of images")
        center = self.center or root.resolve().name
        if self.role == "pool":
            items = list(pool_items(root, root, center=center, label_depth=0 if self.center_from_dir else None))
            if self.center_from_dir:
                items = [replace(i, center=i.label or center, label=None) for i in items]
            return ScanResult(root=root, items=items)
        image_dir = find_dir(root, [self.images], what="image", fmt=self.name)
        mask_dir = find_dir(root, [self.masks], what="mask", fmt=self.name)
        stems = ("{}" + self.mask_suffix,) if self.mask_suffix else MASK_STEMS
        task = self.task or root.resolve().name.lower()
        items, notes = paired_items(root, image_dir, mask_dir, task=task, center=center, mask_stems=stems)
        return ScanResult(root=root, items=items, notes=notes)
