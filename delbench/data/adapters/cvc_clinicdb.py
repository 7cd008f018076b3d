"""CVC-ClinicDB (CVC-612): 612 colonoscopy video frames with polyp masks, from 29 sequences."""
from __future__ import annotations

import bisect
from dataclasses import replace
from pathlib import Path, PurePosixPath

from delbench.data.adapters.base import Item, PairedAdapter, ScanResult

# Last frame number of each sequence, in order, as the release's README.txt lists them (sequence 1
# is frames 1-25, sequence 2 frames 26-50, ..., sequence 29 frames 592-612). Frames of one sequence
# show the same polyp seconds apart, so they must share a split.
SEQUENCE_ENDS: tuple[int, ...] = (
    25, 50, 67, 78, 103, 126, 151, 177, 199, 205, 227, 252, 277, 297, 317,
    342, 363, 383, 408, 428, 447, 466, 478, 503, 528, 546, 571, 591, 612,
)
FRAMES = SEQUENCE_ENDS[-1]


def sequence_of(frame: int) -> str | None:
    """``seq01`` .. ``seq29`` for a frame number 1..612 of the release, None outside it."""
    if not 1 <= frame <= FRAMES:
        return None
    return f"seq{bisect.bisect_left(SEQUENCE_ENDS, frame) + 1:02d}"


def with_sequences(items: list[Item], what: str) -> tuple[list[Item], list[str]]:
    """``items`` with ``video`` (the sequence) and ``frame`` (the release's frame number) from each
    file's numeric stem; a note names the frames that have no sequence (renamed or extra files),
    which are then split one by one."""
    out, unknown = [], []
    for item in items:
        stem = PurePosixPath(item.path).stem
        seq = sequence_of(int(stem)) if stem.isdigit() else None
        if seq is None:
            unknown.append(item.path)
            out.append(item)
        else:
            out.append(replace(item, video=seq, frame=int(stem)))
    notes = []
    if unknown:
        notes.append(
            f"{len(unknown)} {what} frame(s) are not numbered 1..{FRAMES} as in the release, e.g. {unknown[0]!r}: "
            "their sequence is unknown, so each is split on its own and may share a sequence with another split"
        )
    return out, notes


class CVCClinicDB(PairedAdapter):
    """CVC-ClinicDB (Bernal et al., CMIG 2015): 612 frames from 29 sequences -> task ``cvc-clinicdb``.

    Frames are 384x288 (PNG release) or 388x284 (TIF release).

    Layouts (https://polyp.grand-challenge.org/CVCClinicDB/), both accepted::

        CVC-ClinicDB/PNG/Original/<n>.png        CVC-ClinicDB/Original/<n>.tif
        CVC-ClinicDB/PNG/Ground Truth/<n>.png    CVC-ClinicDB/Ground Truth/<n>.tif

    The PNG masks carry a few stray grey values; they are thresholded at 128 on import (see
    docs/data-import.md for the binary-mask rule).
    Splits: by sequence. The release's README.txt gives the frame range of each of its 29
    sequences (1-25, 26-50, ..., 592-612); ``video`` is the sequence (``seq01`` .. ``seq29``),
    ``frame`` the frame number, and every sequence lies in one split.
    Centre: ``hospital-clinic-barcelona``.
    Citation: Bernal J. et al., "WM-DOVA maps for accurate polyp highlighting in colonoscopy:
    Validation vs. saliency maps from physicians", CMIG 43 (2015).
    """

    name = "cvc-clinicdb"
    task = "cvc-clinicdb"
    center = "hospital-clinic-barcelona"
    image_dirs = ("PNG/Original", "Original", "TIF/Original", "images")
    mask_dirs = ("PNG/Ground Truth", "Ground Truth", "GroundTruth", "TIF/Ground Truth", "masks")

    def scan(self, src: Path) -> ScanResult:
        result = super().scan(src)
        result.items, notes = with_sequences(result.items, self.name)
        result.notes += notes
        return result
