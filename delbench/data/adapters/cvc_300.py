"""CVC-300: the 300-frame test part of EndoScene (CVC-EndoSceneStill)."""
from __future__ import annotations

from delbench.data.adapters.base import PairedAdapter


class CVC300(PairedAdapter):
    """CVC-300 / EndoScene (Vázquez et al., J. Healthc. Eng. 2017) -> task ``cvc-300``.

    Layouts accepted::

        CVC-300/bbdd/<n>.bmp        # EndoScene release; gtlumen/, gtspecular/, gtvoid/ are ignored
        CVC-300/gtpolyp/<n>.bmp
        CVC-300/images/<n>.png      # the repackaging in the polyp test-set bundle
        CVC-300/masks/<n>.png

    The 300 frames come from CVC-ColonDB, hence the same centre ``cvc-colondb``; do not combine the
    two as separate tasks. Splits: hashed train/val/test, frame by frame (the release gives no
    frame-to-video table).
    Citation: Vázquez D. et al., "A benchmark for endoluminal scene segmentation of colonoscopy
    images", Journal of Healthcare Engineering (2017).
    """

    name = "cvc-300"
    task = "cvc-300"
    center = "cvc-colondb"
    image_dirs = ("bbdd", "images")
    mask_dirs = ("gtpolyp", "masks")
