"""PolypGen2021: multi-centre polyp segmentation (six centres) plus video sequences."""
from __future__ import annotations

import re
from pathlib import Path

from delbench.data.adapters.base import ScanResult, find_dir, locate_root, paired_items
from delbench.errors import DelbenchError

_CENTRE = re.compile(r"^data_C(\d+)$", re.IGNORECASE)
_SEQ = re.compile(r"^seq_?(\d+)", re.IGNORECASE)
_CENTRES = ["data_C1", "data_C2", "data_C3", "data_C4", "data_C5", "data_C6"]
# The flat repackagings (train/val/test folders) name their validation folder in several ways.
FLAT_SPLITS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


class PolypGen2021:
    """PolypGen2021 (Ali et al., Scientific Data 2023): frames from six centres -> task ``polypgen``.

    Layout (``PolypGen2021_MultiCenterData_v3`` as published on Synapse syn26376615)::

        PolypGen2021_MultiCenterData_v3/
          data_C1/images_C1/<name>.jpg      # one folder per centre, C1 .. C6
          data_C1/masks_C1/<name>_mask.jpg  # JPEG masks, thresholded at 128 on import
          ...
          sequenceData/positive/seq1/images_seq1/<name>.jpg   # with sequences=true only
          sequenceData/positive/seq1/masks_seq1/<name>_mask.jpg

    Centre: ``C1`` .. ``C6`` from the folder name (``seq`` for sequence frames, whose centre the
    layout does not give). Splits: hashed train/val/test *within each centre*, sequence frames kept
    together by ``video`` (the sequence folder). The single frames carry no patient or video in
    this layout, so each is split on its own. ``heldout_center=C6`` makes that centre a separate
    task ``polypgen-<centre>`` (an out-of-distribution test).

    Also accepted: the flat train/val/test repackaging shared on dataset hubs::

        <src>/train/images/<name>.jpg   <src>/train/masks/<name>[_mask].jpg
        <src>/val/...  (or valid/, validation/)      <src>/test/...

    Its splits are kept as published (centre ``polypgen``: the layout does not say which centre
    a frame comes from, so ``heldout_center`` does not apply). Its test images are the same files
    as some of the release's: never import both, and never pool its train split beside the
    release's tasks without ``delbench data verify`` (see docs/data-import.md, leak checks).
    Citation: Ali S. et al., "A multi-centre polyp detection and segmentation dataset for
    generalisability assessment", Scientific Data 10 (2023).
    """

    name = "polypgen"

    def __init__(self, sequences: bool = False, heldout_center: str | None = None) -> None:
        self.sequences = sequences
        self.heldout = heldout_center.upper() if heldout_center else None

    def scan(self, src: Path) -> ScanResult:
        try:
            root = locate_root(Path(src), _CENTRES, fmt=self.name)
        except DelbenchError:
            flat = _flat_root(Path(src))
            if flat is None:
                raise DelbenchError(
                    f"polypgen: {src} holds neither the release layout (data_C1 .. data_C6) nor the flat "
                    "repackaging (train/ and test/, each with images/ and masks/); see `delbench data formats -v`"
                ) from None
            return self._scan_flat(flat)
        result = ScanResult(root=root)
        for d in sorted(root.iterdir()):
            m = _CENTRE.match(d.name)
            if not (m and d.is_dir()):
                continue
            centre = f"C{m.group(1)}"
            images = find_dir(d, [f"images_{centre}", "images"], what="image", fmt=self.name)
            masks = find_dir(d, [f"masks_{centre}", "masks"], what="mask", fmt=self.name)
            task = f"polypgen-{centre.lower()}" if centre == self.heldout else "polypgen"
            items, notes = paired_items(root, images, masks, task=task, center=centre)
            result.items += items
            result.notes += notes
        seq_root = root / "sequenceData" / "positive"
        if self.sequences and seq_root.is_dir():
            for d in sorted(p for p in seq_root.iterdir() if p.is_dir()):
                m = _SEQ.match(d.name)
                if not m:
                    continue
                images = find_dir(d, [f"images_{d.name}", "images"], what="image", fmt=self.name)
                masks = find_dir(d, [f"masks_{d.name}", "masks"], what="mask", fmt=self.name)
                items, notes = paired_items(
                    root, images, masks, task="polypgen", center="seq", video=lambda _p, v=d.name: v
                )
                result.items += items
                result.notes += notes
        return result

    def _scan_flat(self, root: Path) -> ScanResult:
        if self.heldout:
            raise DelbenchError(
                f"polypgen: {root} is the flat train/val/test repackaging, which does not say which centre a "
                "frame comes from; heldout_center needs the release layout (data_C1 .. data_C6)"
            )
        result = ScanResult(root=root)
        for d in sorted(p for p in root.iterdir() if p.is_dir() and p.name.lower() in FLAT_SPLITS):
            images = find_dir(d, ["images", "image", "imgs"], what="image", fmt=self.name)
            masks = find_dir(d, ["masks", "mask", "labels", "gt"], what="mask", fmt=self.name)
            items, notes = paired_items(root, images, masks, task="polypgen", center="polypgen",
                                        split=FLAT_SPLITS[d.name.lower()])
            result.items += items
            result.notes += notes
        return result


def _flat_root(src: Path) -> Path | None:
    """``src`` (or its single child folder) when it holds train/ and test/ folders with images inside."""
    def is_flat(d: Path) -> bool:
        names = {c.name.lower(): c for c in d.iterdir() if c.is_dir()} if d.is_dir() else {}
        return "train" in names and "test" in names and all(
            any(g.is_dir() and g.name.lower() in ("images", "image", "imgs") for g in names[s].iterdir())
            for s in ("train", "test"))

    if is_flat(src):
        return src
    hits = [c for c in sorted(src.iterdir()) if c.is_dir() and is_flat(c)] if src.is_dir() else []
    return hits[0] if len(hits) == 1 else None
