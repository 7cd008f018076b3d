"""CVC-ClinicDB (CVC-612): 612 colonoscopy video frames with polyp masks."""
from __future__ import annotations

from delbench.data.adapters.base import PairedAdapter


class CVCClinicDB(PairedAdapter):
    """CVC-ClinicDB (Bernal et al., CMIG 2015): 612 frames from 31 sequences -> task ``cvc-clinicdb``.

    Frames are 384x288 (PNG release) or 388x284 (TIF release).

    Layouts (https://polyp.grand-challenge.org/CVCClinicDB/), both accepted::

        CVC-ClinicDB/PNG/Original/<n>.png        CVC-ClinicDB/Original/<n>.tif
        CVC-ClinicDB/PNG/Ground Truth/<n>.png    CVC-ClinicDB/Ground Truth/<n>.tif

    The PNG masks carry a few stray grey values; they are thresholded at 128 on import (see
    docs/data-import.md for the binary-mask rule). Splits: hashed train/val/test (the release has no
    frame-to-sequence table, so frames of one sequence can fall in different splits).
    Centre: ``hospital-clinic-barcelona``.
    Citation: Bernal J. et al., "WM-DOVA maps for accurate polyp highlighting in colonoscopy:
    Validation vs. saliency maps from physicians", CMIG 43 (2015).
    """

    name = "cvc-clinicdb"
    task = "cvc-clinicdb"
    center = "hospital-clinic-barcelona"
    image_dirs = ("PNG/Original", "Original", "TIF/Original", "images")
    mask_dirs = ("PNG/Ground Truth", "Ground Truth", "GroundTruth", "TIF/Ground Truth", "masks")
