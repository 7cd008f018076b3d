"""PolypGen2021: multi-centre polyp segmentation (six centres) plus video sequences."""
from __future__ import annotations

import re
from pathlib import Path

from delbench.data.adapters.base import ScanResult, find_dir, locate_root, paired_items

_CENTRE = re.compile(r"^data_C(\d+)$", re.IGNORECASE)
_SEQ = re.compile(r"^seq_?(\d+)", re.IGNORECASE)


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
    together by ``video``. ``heldout_center=C6`` makes that centre a separate task
    ``polypgen-<centre>`` (an out-of-distribution test).
    Citation: Ali S. et al., "A multi-centre polyp detection and segmentation dataset for
    generalisability assessment", Scientific Data 10 (2023).
    """

    name = "polypgen"

    def __init__(self, sequences: bool = False, heldout_center: str | None = None) -> None:
        self.sequences = sequences
        self.heldout = heldout_center.upper() if heldout_center else None

    def scan(self, src: Path) -> ScanResult:
        root = locate_root(Path(src), ["data_C1", "data_C2", "data_C3", "data_C4", "data_C5", "data_C6"], fmt=self.name)
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
