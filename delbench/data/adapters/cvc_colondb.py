"""CVC-ColonDB: 380 colonoscopy frames (574x500) from 15 videos with polyp masks."""
from __future__ import annotations

from delbench.data.adapters.base import PairedAdapter


class CVCColonDB(PairedAdapter):
    """CVC-ColonDB (Bernal et al., Pattern Recognition 2012): 380 frames -> task ``cvc-colondb``.

    Layouts accepted (the original archive and the widely shared repackaging)::

        CVC-ColonDB/images/<n>.png          CVC-ColonDB/Original/<n>.tif(f)
        CVC-ColonDB/masks/<n>.png           CVC-ColonDB/Ground Truth/p<n>.tif(f)

    Masks are paired by stem, ``p<n>`` also matching image ``<n>``. Splits: hashed train/val/test,
    frame by frame: the release does not say which of its 15 videos a frame comes from, so frames of
    one video can fall in different splits.
    Centre: ``cvc-colondb``. Citation: Bernal J., Sánchez J., Vilariño F., "Towards automatic polyp
    detection with a polyp appearance model", Pattern Recognition 45 (2012).
    """

    name = "cvc-colondb"
    task = "cvc-colondb"
    center = "cvc-colondb"
    image_dirs = ("images", "Original")
    mask_dirs = ("masks", "Ground Truth", "GroundTruth")
