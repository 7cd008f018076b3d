"""Image and mask checks shared by import and verify; decoding itself is ``delbench.data.decode``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from delbench.data.decode import BadFile, open_image, read_mask, to_rgb

__all__ = ["BadFile", "binarise", "image_size", "mask_values", "open_image", "strict_binary"]

# A mask pixel in [AMBIGUOUS_LO, AMBIGUOUS_HI) is neither clearly background nor foreground.
# Lossy (JPEG) and resampled masks have a thin rim of such values; a greyscale photo or a soft
# probability map has many. More than MASK_TOLERANCE of them and the file is not a binary mask.
THRESHOLD = 128
AMBIGUOUS_LO, AMBIGUOUS_HI = 64, 192
MASK_TOLERANCE = 0.01


def image_size(path: Path) -> tuple[int, int]:
    """Width and height of an image that decodes to 8-bit RGB the way every reader will see it."""
    im = open_image(path)
    to_rgb(im)  # refuses pixel formats the readers cannot scale (float, 32-bit)
    return im.size


def mask_values(path: Path) -> Any:
    """A mask as a 2-D uint8 array (see ``delbench.data.decode.read_mask``)."""
    return read_mask(path)


def binarise(values: Any, tolerance: float = MASK_TOLERANCE) -> Any:
    """Boolean foreground of a mask, or ``BadFile('non-binary')``.

    0/1 masks map 1 to foreground; anything else is thresholded at 128 after checking that at most
    ``tolerance`` of its pixels lie in the ambiguous band [64, 192).
    """
    import numpy as np

    top = int(values.max()) if values.size else 0
    if top <= 1:
        return values == 1
    ambiguous = float(np.mean((values >= AMBIGUOUS_LO) & (values < AMBIGUOUS_HI)))
    if ambiguous > tolerance:
        raise BadFile(
            "non-binary-mask",
            f"not a binary mask: {ambiguous:.1%} of pixels are grey (64-191), more than {tolerance:.1%}",
        )
    return values >= THRESHOLD


def strict_binary(values: Any) -> bool:
    """True for a normalised mask: values within {0, 255} or within {0, 1}."""
    import numpy as np

    uniq = set(np.unique(values).tolist())
    return uniq <= {0, 255} or uniq <= {0, 1}
