"""Kvasir-Sessile: the 196 sessile (flat, < 10 mm) polyps of Kvasir-SEG."""
from __future__ import annotations

from delbench.data.adapters.base import PairedAdapter


class KvasirSessile(PairedAdapter):
    """Kvasir-Sessile (Jha et al., IEEE JBHI 2021): small sessile polyps -> task ``kvasir-sessile``.

    Layout (https://datasets.simula.no/kvasir-seg/, ``sessile-main-Kvasir-SEG``)::

        sessile-main-Kvasir-SEG/
          images/<id>.jpg
          masks/<id>.jpg         # JPEG masks, thresholded at 128 on import
          bounding-box.json      # ignored

    The images are a subset of Kvasir-SEG: do not use both as separate tasks without deduplicating.
    Splits: hashed train/val/test. Centre: ``vestre-viken``.
    Citation: Jha D. et al., "A comprehensive study on colorectal polyp segmentation with ResUNet++,
    conditional random field and test-time augmentation", IEEE JBHI 2021.
    """

    name = "kvasir-sessile"
    task = "kvasir-sessile"
    center = "vestre-viken"
