"""Kvasir-SEG: 1,000 colonoscopy polyp images with masks."""
from __future__ import annotations

from delbench.data.adapters.base import PairedAdapter


class KvasirSEG(PairedAdapter):
    """Kvasir-SEG (Jha et al., MMM 2020): polyp images with hand-drawn masks -> task ``kvasir-seg``.

    Layout (https://datasets.simula.no/kvasir-seg/)::

        Kvasir-SEG/
          images/<id>.jpg        # 332x487 .. 1920x1072 RGB JPEG
          masks/<id>.jpg         # JPEG masks: compression noise, thresholded at 128 on import
          kavsir_bboxes.json     # ignored

    Images in subfolders of ``images/`` are read too, paired with masks in the same subfolder of
    ``masks/``. Splits: none published; the importer assigns fixed hashed train/val/test splits.
    Centre: ``vestre-viken`` (Vestre Viken Health Trust, Norway, like Hyper-Kvasir).
    Citation: Jha D. et al., "Kvasir-SEG: A Segmented Polyp Dataset", MMM 2020.
    """

    name = "kvasir-seg"
    task = "kvasir-seg"
    center = "vestre-viken"
