"""Kvasir-Capsule: video capsule endoscopy frames (labelled classes and unlabelled)."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path, PurePosixPath

from delbench.data.adapters.base import Item, ScanResult, locate_root, pool_items

# Frames are named <video id>_<frame number>.jpg, which gives video and frame for free.
_VIDEO_FRAME = re.compile(r"^([0-9a-fA-F]{6,})_(\d+)$")


class KvasirCapsule:
    """Kvasir-Capsule (Smedsrud et al., Scientific Data 2021): capsule endoscopy -> pool.

    Layout (https://osf.io/dv2ag/)::

        kvasir-capsule/
          labelled_images/<class>/<video>_<frame>.jpg   # 47,238 frames, 14 classes
              e.g. "Normal clean mucosa", "Polyp", "Reduced mucosal view"
          unlabelled_images/<video>_<frame>.jpg         # ~4.7M frames (optional, huge)
          metadata.csv                                  # ignored

    All frames become pool rows with ``video`` and ``frame`` parsed from the file name and the class
    folder in ``label``; ``unlabelled=false`` skips the unlabelled folder. No task.
    Centre: ``kvasir-capsule``.
    Citation: Smedsrud P. H. et al., "Kvasir-Capsule, a video capsule endoscopy dataset",
    Scientific Data 8 (2021).
    """

    name = "kvasir-capsule"

    def __init__(self, unlabelled: bool = True, center: str = "kvasir-capsule") -> None:
        self.unlabelled = unlabelled
        self.center = center

    def scan(self, src: Path) -> ScanResult:
        root = locate_root(Path(src), ["labelled_images", "unlabelled_images"], fmt=self.name)
        result = ScanResult(root=root)
        if (root / "labelled_images").is_dir():
            result.items += pool_items(root, root / "labelled_images", center=self.center, label_depth=0)
        if self.unlabelled and (root / "unlabelled_images").is_dir():
            result.items += pool_items(root, root / "unlabelled_images", center=self.center)
        result.items = [_with_video(i) for i in result.items]
        return result


def _with_video(item: Item) -> Item:
    m = _VIDEO_FRAME.match(PurePosixPath(item.path).stem)
    return replace(item, video=m.group(1), frame=int(m.group(2))) if m else item
