"""ETIS-LaribPolypDB: 196 high-resolution (1225x966) frames with polyp masks."""
from __future__ import annotations

from delbench.data.adapters.base import PairedAdapter


class ETISLarib(PairedAdapter):
    """ETIS-LaribPolypDB (Silva et al., IJCARS 2014): 196 frames from 34 sequences -> task ``etis``.

    Layouts accepted::

        ETIS-LaribPolypDB/ETIS-LaribPolypDB/<n>.tif   # original release: images ...
        ETIS-LaribPolypDB/Ground Truth/p<n>.tif       # ... and masks named p<n>
        ETIS-LaribPolypDB/images/<n>.png              # repackaging in the polyp test-set bundle
        ETIS-LaribPolypDB/masks/<n>.png

    Splits: hashed train/val/test, frame by frame: the release does not say which of its 34
    sequences a frame comes from. Centre: ``etis-larib`` (Lariboisière Hospital, Paris).
    Citation: Silva J. et al., "Toward embedded detection of polyps in WCE images for early
    diagnosis of colorectal cancer", IJCARS 9 (2014).
    """

    name = "etis"
    task = "etis"
    center = "etis-larib"
    image_dirs = ("ETIS-LaribPolypDB", "images", "Original")
    mask_dirs = ("Ground Truth", "GroundTruth", "masks")
