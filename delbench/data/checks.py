"""Image and mask checks shared by import and verify (Pillow is imported on use)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

# A mask pixel in [AMBIGUOUS_LO, AMBIGUOUS_HI) is neither clearly background nor foreground.
# Lossy (JPEG) and resampled masks have a thin rim of such values; a greyscale photo or a soft
# probability map has many. More than MASK_TOLERANCE of them and the file is not a binary mask.
THRESHOLD = 128
AMBIGUOUS_LO, AMBIGUOUS_HI = 64, 192
MASK_TOLERANCE = 0.01


class BadFile(Exception):
    """A file that fails a check; ``kind`` is a short code, the message says what is wrong."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def open_image(path: Path) -> Any:
    """Open and fully decode an image (``load()`` catches truncation that ``open`` misses)."""
    from PIL import Image

    try:
        im = Image.open(path)
        im.load()
    except FileNotFoundError:
        raise BadFile("missing", "file not found") from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for a bad file
        detail = str(exc).replace(f"'{path}'", "").replace(str(path), "").strip(" :")
        raise BadFile("corrupt", f"cannot decode ({type(exc).__name__}{': ' + detail if detail else ''})") from None
    return im


def image_size(path: Path) -> tuple[int, int]:
    return open_image(path).size


def mask_values(path: Path) -> Any:
    """A mask as a 2-D uint8 array (colour masks: the brightest channel, so red-on-black works)."""
    import numpy as np

    im = open_image(path)
    if im.mode in ("1", "L", "LA"):
        arr = np.asarray(im.convert("L"))
    elif im.mode in ("P", "RGB", "RGBA", "CMYK", "YCbCr"):
        arr = np.asarray(im.convert("RGB")).max(axis=2)
    else:  # 16-bit or float masks
        arr = np.asarray(im, dtype=np.float64)
        top = float(arr.max()) if arr.size else 0.0
        arr = arr if top <= 255 else arr * (255.0 / top)
    return np.asarray(arr).astype(np.uint8, copy=False)


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
