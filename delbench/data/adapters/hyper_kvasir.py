"""Hyper-Kvasir: 110k gastro- and colonoscopy images (labelled, unlabelled, segmented)."""
from __future__ import annotations

from pathlib import Path

from delbench.data.adapters.base import ScanResult, find_dir, locate_root, paired_items, pool_items
from delbench.errors import DelbenchError

PARTS = ("labeled", "unlabeled", "segmented")


class HyperKvasir:
    """Hyper-Kvasir (Borgli et al., Scientific Data 2020): the pool, plus a segmentation task.

    Layout (https://datasets.simula.no/hyper-kvasir/)::

        hyper-kvasir/
          labeled-images/<tract>/<category>/<class>/<uuid>.jpg   # 10,662 images, 23 classes -> pool
              e.g. lower-gi-tract/pathological-findings/polyps/
          unlabeled-images/images/<uuid>.jpg                     # 99,417 images -> pool
          segmented-images/images/<id>.jpg                       # 1,000 polyps -> task
          segmented-images/masks/<id>.jpg                        #   hyper-kvasir-seg (JPEG masks)
          labeled-videos/                                        # ignored

    ``parts`` (comma list of labeled, unlabeled, segmented) picks what to import. The class folder
    is kept in the ``label`` column. The segmented images are Kvasir-SEG's; they also appear in the
    labelled polyps class, so a pool built from Hyper-Kvasir has seen them. Splits: hashed
    train/val/test for the task. Centre: ``vestre-viken`` (Bærum Hospital).
    Citation: Borgli H. et al., "HyperKvasir, a comprehensive multi-class image and video dataset
    for gastrointestinal endoscopy", Scientific Data 7 (2020).
    """

    name = "hyper-kvasir"

    def __init__(self, parts: str = "labeled,unlabeled,segmented", center: str = "vestre-viken") -> None:
        self.parts = [p.strip() for p in str(parts).split(",") if p.strip()]
        bad = [p for p in self.parts if p not in PARTS]
        if bad or not self.parts:
            raise DelbenchError(f"hyper-kvasir: parts={parts!r} not understood; use a comma list of {', '.join(PARTS)}")
        self.center = center

    def scan(self, src: Path) -> ScanResult:
        root = locate_root(Path(src), ["labeled-images", "unlabeled-images", "segmented-images"], fmt=self.name)
        result = ScanResult(root=root)
        if "labeled" in self.parts and (root / "labeled-images").is_dir():
            result.items += pool_items(root, root / "labeled-images", center=self.center, label_depth=2)
        if "unlabeled" in self.parts and (root / "unlabeled-images").is_dir():
            result.items += pool_items(root, root / "unlabeled-images", center=self.center)
        if "segmented" in self.parts and (root / "segmented-images").is_dir():
            seg = root / "segmented-images"
            images = find_dir(seg, ["images"], what="image", fmt=self.name)
            masks = find_dir(seg, ["masks"], what="mask", fmt=self.name)
            items, notes = paired_items(root, images, masks, task="hyper-kvasir-seg", center=self.center)
            result.items += items
            result.notes += notes
        return result
