"""The one image decoder: every reader of a dataset root (import, verify, training arrays, selectors'
image loader, preview, plant, report galleries) turns a file into 8-bit pixels here, so a file means
the same thing everywhere.

16-bit greyscale files (PNG/TIFF, Pillow modes ``I;16*`` and ``I``) are scaled to 8 bits by their
bit depth (v / 257, rounded), never clipped: Pillow's own ``convert`` would saturate every value
above 255. Masks keep values that already fit in 8 bits (0/1 or 0/255 stored in 16 bits) and are
otherwise scaled the same way, so a 0/65535 mask reads as 0/255. Floating-point and wider-than-16-bit
integer images have no agreed range and are refused. Pillow is imported on use.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

MODES_16BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")
SIXTEEN_BIT_MAX = 65535


class BadFile(Exception):
    """A file that fails a check; ``kind`` is a short code, the message says what is wrong."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def open_image(source: Path | bytes) -> Any:
    """Open and fully decode an image file (or its bytes); ``load()`` catches truncation that ``open`` misses."""
    from PIL import Image

    try:
        im = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        im.load()
    except FileNotFoundError:
        raise BadFile("missing", "file not found") from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for a bad file
        detail = str(exc)
        if not isinstance(source, bytes):
            detail = detail.replace(f"'{source}'", "").replace(str(source), "")
        detail = detail.strip(" :")
        raise BadFile("corrupt", f"cannot decode ({type(exc).__name__}{': ' + detail if detail else ''})") from None
    return im


def to_rgb(im: Any) -> Any:
    """``im`` as an 8-bit RGB Pillow image."""
    return _eight_bit(im, keep_small=False).convert("RGB")


def to_grey(im: Any, *, keep_small: bool = False) -> Any:
    """``im`` as an 8-bit one-channel (``L``) Pillow image; ``keep_small`` leaves 16-bit data that
    already fits in 0..255 unscaled (label masks)."""
    return _eight_bit(im, keep_small=keep_small).convert("L")


def read_rgb(path: Path | bytes) -> Any:
    """The image at ``path`` as a uint8 HxWx3 array (``BadFile`` if it does not decode)."""
    import numpy as np

    return np.asarray(to_rgb(open_image(path)))


def to_mask(im: Any) -> Any:
    """A mask as an 8-bit ``L`` Pillow image; colour masks give their brightest channel, so
    red-on-black works."""
    import numpy as np
    from PIL import Image

    if im.mode in ("P", "PA", "RGB", "RGBA", "CMYK", "YCbCr"):
        return Image.fromarray(np.asarray(im.convert("RGB")).max(axis=2))
    return to_grey(im, keep_small=True)


def read_mask(path: Path | bytes) -> Any:
    """The mask at ``path`` as a 2-D uint8 array (``BadFile`` if it does not decode)."""
    import numpy as np

    return np.asarray(to_mask(open_image(path)))


def resized_rgb(path: Path, size: int) -> Any:
    """The image at ``path`` as uint8 [size, size, 3], resized bilinearly."""
    import numpy as np
    from PIL import Image

    return np.asarray(to_rgb(open_image(path)).resize((size, size), Image.BILINEAR))


def resized_mask(path: Path, size: int) -> Any:
    """The mask at ``path`` as uint8 [size, size] in {0, 1}: resized bilinearly, then thresholded at
    the middle, so a lossy (JPEG) mask's rim and the resampled edge fall to the nearer class."""
    import numpy as np
    from PIL import Image

    im = to_mask(open_image(path))
    if im.getextrema()[1] == 1:  # a 0/1 mask: stretched to 0/255 so one threshold reads both
        im = im.point(lambda v: v * 255)
    return (np.asarray(im.resize((size, size), Image.BILINEAR)) > 127).astype(np.uint8)


def _eight_bit(im: Any, *, keep_small: bool) -> Any:
    """Scale a 16-bit image to 8 bits; other modes pass through for Pillow to convert."""
    import numpy as np
    from PIL import Image

    if im.mode == "F" or im.mode.startswith("I;32") or im.mode.startswith("F;"):
        raise BadFile(
            "unsupported", f"{im.mode} (floating-point or 32-bit) pixels have no fixed range; convert the file to 8- or 16-bit"
        )
    if im.mode not in MODES_16BIT and not im.mode.startswith("I;16"):
        return im
    try:
        arr = np.asarray(im).astype(np.int64)
    except Exception as exc:  # noqa: BLE001 - exotic raw modes NumPy cannot view
        raise BadFile(
            "unsupported", f"{im.mode} pixels cannot be read ({type(exc).__name__}); convert the file to 8- or 16-bit"
        ) from None
    lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
    if lo < 0 or hi > SIXTEEN_BIT_MAX:
        raise BadFile("unsupported", f"{im.mode} pixels span {lo}..{hi}, outside 16 bits; convert the file to 8- or 16-bit")
    if not (keep_small and hi <= 255):
        arr = (arr + 128) // 257  # round(v * 255 / 65535): 0 -> 0, 65535 -> 255
    return Image.fromarray(arr.astype(np.uint8))  # 2-D uint8 -> mode L
