"""Build tiny fake dataset trees in each published layout the importer reads.

Usage: ``python tests/data/make_fake_trees.py OUT_DIR`` (the tests call ``build(out)``). Every tree
holds a few small noise images and rectangle masks, named and nested exactly as in the real
release, so each adapter can be tested without the real data. ``CASES`` lists what the importer
should find in each tree.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

W, H = 40, 32
CLINICDB_FRAMES = (1, 2, 26, 27, 51, 52, 68, 79, 104, 612)


@dataclass(frozen=True)
class Case:
    name: str  # test id
    format: str
    src: str  # relative to the build directory
    pool: int
    tasks: dict[str, int]
    centers: frozenset[str]
    options: dict[str, Any] = field(default_factory=dict)
    videos: int = 0  # distinct non-null videos expected
    source: str = ""  # the rows' source and id prefix, when not the format's name


CASES: tuple[Case, ...] = (
    Case("kvasir-seg", "kvasir-seg", "kvasir-seg", 0, {"kvasir-seg": 5}, frozenset({"vestre-viken"})),
    Case("kvasir-sessile", "kvasir-sessile", "sessile-main-Kvasir-SEG", 0, {"kvasir-sessile": 4}, frozenset({"vestre-viken"})),
    Case("kvasir-instrument", "kvasir-instrument", "kvasir-instrument", 0, {"kvasir-instrument": 6}, frozenset({"vestre-viken"})),
    # frame numbers from seven of the release's 29 sequences (1-25, 26-50, 51-67, 68-78, 79-103, 104-126, 592-612)
    Case("cvc-clinicdb-png", "cvc-clinicdb", "CVC-ClinicDB", 0, {"cvc-clinicdb": len(CLINICDB_FRAMES)},
         frozenset({"hospital-clinic-barcelona"}), videos=7),
    Case("cvc-clinicdb-tif", "cvc-clinicdb", "CVC-ClinicDB-TIF", 0, {"cvc-clinicdb": 4}, frozenset({"hospital-clinic-barcelona"}), videos=1),
    Case("cvc-colondb", "cvc-colondb", "CVC-ColonDB", 0, {"cvc-colondb": 4}, frozenset({"cvc-colondb"})),
    Case("cvc-colondb-orig", "cvc-colondb", "CVC-ColonDB-orig", 0, {"cvc-colondb": 3}, frozenset({"cvc-colondb"})),
    Case("cvc-300", "cvc-300", "CVC-EndoSceneStill/CVC-300", 0, {"cvc-300": 4}, frozenset({"cvc-colondb"})),
    Case("etis", "etis", "ETIS-LaribPolypDB", 0, {"etis": 4}, frozenset({"etis-larib"})),
    Case("polypgen", "polypgen", "PolypGen2021_MultiCenterData_v3", 0, {"polypgen": 18}, frozenset(f"C{i}" for i in range(1, 7))),
    Case(
        "polypgen-seq-heldout", "polypgen", "PolypGen2021_MultiCenterData_v3", 0, {"polypgen": 17, "polypgen-c6": 3},
        frozenset({*(f"C{i}" for i in range(1, 7)), "seq"}), {"sequences": True, "heldout_center": "C6"}, videos=1,
    ),
    Case("polypgen-flat", "polypgen", "polypgen-flat", 0, {"polypgen": 7}, frozenset({"polypgen"})),
    Case(
        "polyp-testsets", "polyp-testsets", "bundle", 0,
        {"cvc-300": 3, "cvc-clinicdb": 3, "cvc-colondb": 3, "etis": 3, "kvasir-seg": 3},
        frozenset({"cvc-colondb", "hospital-clinic-barcelona", "etis-larib", "vestre-viken"}), videos=1,
    ),
    Case("hyper-kvasir", "hyper-kvasir", "hyper-kvasir", 7, {"hyper-kvasir-seg": 3}, frozenset({"vestre-viken"})),
    Case("hyper-kvasir-pool", "hyper-kvasir", "hyper-kvasir", 4, {}, frozenset({"vestre-viken"}), {"parts": "labeled"}),
    Case("kvasir-capsule", "kvasir-capsule", "kvasir-capsule", 6, {}, frozenset({"kvasir-capsule"}), videos=2),
    Case("gastrovision", "gastrovision", "gastrovision-download", 4, {}, frozenset({"gastrovision"})),
    Case("folder-pool", "folder", "my-pool", 5, {}, frozenset({"hospA", "hospB"}), {"center_from_dir": True}, source="my-pool"),
    Case("folder-task", "folder", "my-task", 0, {"my-task": 4}, frozenset({"my-task"}), {"role": "task", "mask_suffix": "_mask"},
         source="my-task"),
)
# Published split sizes of the fake flat PolypGen repackaging.
FLAT_POLYPGEN = {"train": 4, "valid": 1, "test": 2}


def image(path: Path, seed: int, size: tuple[int, int] = (W, H)) -> Path:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def mask(path: Path, seed: int, size: tuple[int, int] = (W, H), low: int = 0, high: int = 255) -> Path:
    rng = np.random.default_rng(seed)
    arr = np.full((size[1], size[0]), low, dtype=np.uint8)
    x, y = int(rng.integers(2, size[0] // 2)), int(rng.integers(2, size[1] // 2))
    arr[y : y + size[1] // 3, x : x + size[0] // 3] = high
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode="L").save(path)
    return path


def smooth(path: Path, seed: int, size: tuple[int, int] = (160, 128)) -> Path:
    """A smooth random image (a coarse random field, upsampled): structure a perceptual hash sees,
    unlike pixel noise, so crops and re-encodes of it stay recognisable."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, size=(5, 6, 3), dtype=np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    coarse.resize(size, Image.BICUBIC).save(path)
    return path


def image16(path: Path, size: tuple[int, int] = (W, H)) -> Path:
    """A 16-bit greyscale PNG (Pillow mode I;16): a left-to-right ramp over the full 0..65535 range."""
    arr = np.tile(np.linspace(0, 65535, size[0]).round().astype(np.uint16), (size[1], 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def mask16(path: Path, seed: int, size: tuple[int, int] = (W, H)) -> Path:
    """A 16-bit greyscale PNG mask with values 0 and 65535."""
    rng = np.random.default_rng(seed)
    arr = np.zeros((size[1], size[0]), dtype=np.uint16)
    x, y = int(rng.integers(2, size[0] // 2)), int(rng.integers(2, size[1] // 2))
    arr[y : y + size[1] // 3, x : x + size[0] // 3] = 65535
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def pairs(img_dir: Path, mask_dir: Path, names: list[str], ext: str, mask_ext: str | None = None, mask_name: str = "{}") -> None:
    for i, n in enumerate(names):
        image(img_dir / f"{n}{ext}", seed=hash_seed(img_dir, i))
        mask(mask_dir / f"{mask_name.format(n)}{mask_ext or ext}", seed=i)


def hash_seed(path: Path, i: int) -> int:
    return (sum(map(ord, path.as_posix())) * 1009 + i) % (2**31)


def build(out: str | Path) -> Path:
    out = Path(out)
    ids = [f"cju{i:02d}x{i * 7:03d}" for i in range(6)]
    k = out / "kvasir-seg" / "Kvasir-SEG"  # unpacked one level deep, as the zip does
    pairs(k / "images", k / "masks", ids[:5], ".jpg")
    (k / "kavsir_bboxes.json").write_text("{}")
    s = out / "sessile-main-Kvasir-SEG"
    pairs(s / "images", s / "masks", ids[:4], ".jpg")
    ki = out / "kvasir-instrument"
    inst = [f"ckcu{i}inst" for i in range(6)]
    pairs(ki / "images", ki / "masks", inst, ".jpg", ".png")
    (ki / "train.txt").write_text("\n".join(inst[:4]) + "\n")
    (ki / "test.txt").write_text("\n".join(inst[4:]) + "\n")
    c = out / "CVC-ClinicDB" / "PNG"
    pairs(c / "Original", c / "Ground Truth", [str(i) for i in CLINICDB_FRAMES], ".png")
    ct = out / "CVC-ClinicDB-TIF"
    pairs(ct / "Original", ct / "Ground Truth", [str(i) for i in range(1, 5)], ".tif")
    cd = out / "CVC-ColonDB"
    pairs(cd / "images", cd / "masks", [str(i) for i in range(1, 5)], ".png")
    co = out / "CVC-ColonDB-orig"
    pairs(co / "Original", co / "Ground Truth", [str(i) for i in range(1, 4)], ".tiff", mask_name="p{}")
    e = out / "CVC-EndoSceneStill" / "CVC-300"
    pairs(e / "bbdd", e / "gtpolyp", [str(i) for i in range(1, 5)], ".bmp")
    mask(e / "gtlumen" / "1.bmp", 0)
    et = out / "ETIS-LaribPolypDB"
    pairs(et / "ETIS-LaribPolypDB", et / "Ground Truth", [str(i) for i in range(1, 5)], ".tif", mask_name="p{}")
    pg = out / "PolypGen2021_MultiCenterData_v3"
    for ci in range(1, 7):
        names = [f"C{ci}_100H0050{j}" for j in range(3)]
        pairs(pg / f"data_C{ci}" / f"images_C{ci}", pg / f"data_C{ci}" / f"masks_C{ci}", names, ".jpg", mask_name="{}_mask")
    seq = pg / "sequenceData" / "positive" / "seq1"
    pairs(seq / "images_seq1", seq / "masks_seq1", ["seq1_001", "seq1_002"], ".jpg", mask_name="{}_mask")
    flat = out / "polypgen-flat" / "PolypGen"  # unpacked one level deep, as hub downloads are
    for split, n in FLAT_POLYPGEN.items():
        pairs(flat / split / "images", flat / split / "masks", [f"{split}_{i}" for i in range(n)], ".jpg")
    td = out / "bundle" / "TestDataset"
    for d in ("CVC-300", "CVC-ClinicDB", "CVC-ColonDB", "ETIS-LaribPolypDB", "Kvasir"):
        pairs(td / d / "images", td / d / "masks", ["1", "2", "3"], ".png")
    hk = out / "hyper-kvasir"
    for j, cls in enumerate(("lower-gi-tract/pathological-findings/polyps", "upper-gi-tract/anatomical-landmarks/pylorus")):
        for i in range(2):
            image(hk / "labeled-images" / cls / f"{j}-{i}.jpg", seed=100 + 10 * j + i)
    for i in range(3):
        image(hk / "unlabeled-images" / "images" / f"u{i}.jpg", seed=200 + i)
    pairs(hk / "segmented-images" / "images", hk / "segmented-images" / "masks", ids[:3], ".jpg")
    kc = out / "kvasir-capsule"
    for cls, vid in (("Polyp", "04a78ef00c5245e0"), ("Normal clean mucosa", "3c8d5f0b90d7475f")):
        for f in (10, 11):
            image(kc / "labelled_images" / cls / f"{vid}_{f}.jpg", seed=f + len(cls))
    for f in (20, 21):
        image(kc / "unlabelled_images" / f"04a78ef00c5245e0_{f}.jpg", seed=f)
    gv = out / "gastrovision-download" / "GastroVision"
    for cls in ("Colon polyps", "Accessory tools"):
        for i in range(2):
            image(gv / cls / f"{cls[:3]}{i}.jpg", seed=300 + i + len(cls))
    fp = out / "my-pool"
    for rel in ("hospA/a.png", "hospA/b.jpg", "hospB/c.png", "hospB/sub/d.bmp", "hospB/sub/e.jpeg"):
        image(fp / rel, seed=len(rel) + ord(rel[-5]))
    (fp / "hospA" / "notes.txt").write_text("not an image")
    ft = out / "my-task"
    pairs(ft / "images", ft / "masks", ["a", "b", "c", "d"], ".png", mask_name="{}_mask")
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/data/make_fake_trees.py OUT_DIR")
    print(build(sys.argv[1]))
