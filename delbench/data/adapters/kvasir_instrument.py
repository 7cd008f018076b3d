"""Kvasir-Instrument: 590 endoscopy frames with diagnostic/therapeutic tool masks."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path, PurePosixPath

from delbench.data.adapters.base import PairedAdapter, ScanResult


class KvasirInstrument(PairedAdapter):
    """Kvasir-Instrument (Jha et al., MMM 2021): tool segmentation -> task ``kvasir-instrument``.

    Layout (https://datasets.simula.no/kvasir-instrument/, after unpacking images.tar.gz and
    masks.tar.gz)::

        kvasir-instrument/
          images/<id>.jpg
          masks/<id>.png
          train.txt, test.txt    # published split: one image id per line (472 / 118)
          bboxes/                # ignored

    Splits: the published test list is kept as ``test``; the published training list is divided
    into train and val by the fixed hash (``official_split=false`` hashes everything instead).
    Centre: ``vestre-viken``.
    Citation: Jha D. et al., "Kvasir-Instrument: Diagnostic and therapeutic tool segmentation
    dataset in gastrointestinal endoscopy", MMM 2021.
    """

    name = "kvasir-instrument"
    task = "kvasir-instrument"
    center = "vestre-viken"

    def __init__(self, center: str | None = None, official_split: bool = True) -> None:
        super().__init__(center)
        self.official_split = official_split

    def scan(self, src: Path) -> ScanResult:
        result = super().scan(src)
        if not self.official_split:
            return result
        lists = {s: result.root / f"{s}.txt" for s in ("train", "test")}
        if not all(p.is_file() for p in lists.values()):
            return result
        split_of: dict[str, str] = {}
        for split, path in lists.items():
            for line in path.read_text().splitlines():
                if line.strip():
                    split_of[PurePosixPath(line.strip()).stem] = split
        result.items = [replace(i, split=split_of.get(PurePosixPath(i.path).stem)) for i in result.items]
        return result
