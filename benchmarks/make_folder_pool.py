"""Write a folder of N distinct JPEG frames from a smaller folder of images, to import as a large pool.

Frame i is image i mod M of the source (sorted), cropped at a window, flipped and brightness-shifted
as drawn from a generator seeded by i, then resized back to the source size: deterministic, and no
two frames are byte-identical. For timing studies on a pool larger than the images at hand.

    python benchmarks/make_folder_pool.py SRC OUT --n 6000
    delbench data import folder OUT --out ROOT
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--quality", type=int, default=90)
    args = ap.parse_args()
    from PIL import Image

    sources = sorted(p for p in args.src.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not sources:
        raise SystemExit(f"{args.src}: no JPEG or PNG images")
    args.out.mkdir(parents=True, exist_ok=False)
    for i in range(args.n):
        rng = np.random.default_rng([7, i])
        with Image.open(sources[i % len(sources)]) as im:
            img = im.convert("RGB")
        w, h = img.size
        if i >= len(sources):  # the first pass keeps the originals
            side = int(min(w, h) * rng.uniform(0.7, 0.95))
            x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
            img = img.crop((x, y, x + side, y + side)).resize((w, h), Image.BILINEAR)
            if rng.random() < 0.5:
                img = img.transpose(Image.FLIP_LEFT_RIGHT)
            arr = np.asarray(img, dtype=np.float32) * rng.uniform(0.85, 1.15)
            img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        img.save(args.out / f"{i:05d}.jpg", quality=args.quality)
    print(f"wrote {args.n} frames to {args.out}")


if __name__ == "__main__":
    main()
