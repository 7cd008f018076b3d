"""Bad inputs: each is refused with one line naming the file; --skip-bad imports the rest and reports."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from delbench.data.importer import import_dataset
from delbench.data.manifest import read_manifest
from delbench.errors import DelbenchError

sys.path.insert(0, str(Path(__file__).parent / "data"))
from make_fake_trees import image, mask, pairs  # noqa: E402


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small Kvasir-SEG tree with four good pairs."""
    root = tmp_path / "Kvasir-SEG"
    pairs(root / "images", root / "masks", ["a", "b", "c", "d"], ".jpg")
    return root


def refused(tree: Path, out: Path, match: str) -> str:
    with pytest.raises(DelbenchError, match=match) as info:
        import_dataset("kvasir-seg", tree, out)
    msg = str(info.value)
    assert "\n" not in msg and "--skip-bad" in msg
    assert not out.exists(), "nothing may be written when an import fails"
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")], "temp dir left behind"
    return msg


def test_truncated_image_is_refused(tree: Path, tmp_path: Path) -> None:
    data = (tree / "images" / "b.jpg").read_bytes()
    (tree / "images" / "b.jpg").write_bytes(data[: len(data) // 2])
    assert "images/b.jpg" in refused(tree, tmp_path / "out", "corrupt or truncated image")


def test_garbage_image_is_refused(tree: Path, tmp_path: Path) -> None:
    (tree / "images" / "c.jpg").write_bytes(b"not a jpeg at all")
    assert "images/c.jpg" in refused(tree, tmp_path / "out", "corrupt or truncated")


def test_missing_mask_is_refused(tree: Path, tmp_path: Path) -> None:
    (tree / "masks" / "a.jpg").unlink()
    assert "images/a.jpg" in refused(tree, tmp_path / "out", "no mask")


def test_mask_of_wrong_size_is_refused(tree: Path, tmp_path: Path) -> None:
    mask(tree / "masks" / "d.jpg", 0, size=(20, 20))
    assert "masks/d.jpg" in refused(tree, tmp_path / "out", "mask is 20x20 but its image is 40x32")


def test_non_binary_mask_is_refused(tree: Path, tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 255, 40).astype(np.uint8), (32, 1))
    Image.fromarray(ramp, mode="L").save(tree / "masks" / "b.png")
    (tree / "masks" / "b.jpg").unlink()
    assert "masks/b.png" in refused(tree, tmp_path / "out", "not a binary mask")


def test_duplicate_ids_are_refused(tree: Path, tmp_path: Path) -> None:
    image(tree / "images" / "a.png", 9)
    assert "duplicate id 'kvasir-seg/images/a'" in refused(tree, tmp_path / "out", "duplicate id")


def test_symlink_out_of_the_root_is_refused(tree: Path, tmp_path: Path) -> None:
    secret = image(tmp_path / "elsewhere" / "e.jpg", 3)
    os.symlink(secret, tree / "images" / "e.jpg")
    mask(tree / "masks" / "e.jpg", 1)
    assert "images/e.jpg" in refused(tree, tmp_path / "out", "escapes the dataset root")


def test_lenient_masks_are_accepted(tree: Path, tmp_path: Path) -> None:
    """0/1 masks, and PNG masks with a few stray grey values (as in CVC-ClinicDB), are fine."""
    mask(tree / "masks" / "a.jpg", 0, high=1)
    stray = np.asarray(Image.open(tree / "masks" / "b.jpg").convert("L")).copy()
    stray = np.where(stray >= 128, 255, 0).astype(np.uint8)
    stray[0, :5] = [6, 8, 11, 250, 3]
    Image.fromarray(stray, mode="L").save(tree / "masks" / "b.png")
    (tree / "masks" / "b.jpg").unlink()
    import_dataset("kvasir-seg", tree, tmp_path / "out")
    frame = read_manifest(tmp_path / "out")
    for rel in frame["mask_path"]:
        values = np.asarray(Image.open(tmp_path / "out" / rel))
        assert Image.open(tmp_path / "out" / rel).mode == "L" and set(np.unique(values)) <= {0, 255}
    first = np.asarray(Image.open(tmp_path / "out" / frame.loc[frame["id"].str.endswith("/a"), "mask_path"].iloc[0]))
    assert first.max() == 255


def test_skip_bad_imports_the_rest_and_reports_each_file(tree: Path, tmp_path: Path) -> None:
    (tree / "images" / "a.jpg").write_bytes(b"junk")
    (tree / "masks" / "b.jpg").unlink()
    mask(tree / "masks" / "c.jpg", 0, size=(8, 8))
    image(tree / "images" / "d.png", 5)  # duplicate id with d.jpg
    image(tree / "images" / "f.jpg", 6)
    mask(tree / "masks" / "f.jpg", 6)
    result = import_dataset("kvasir-seg", tree, tmp_path / "out", skip_bad=True)
    assert result.rows == 1 and len(result.skipped) == 5
    report = json.loads((tmp_path / "out" / "import-report.json").read_text())
    kinds = {(r["file"], r["kind"]) for r in report["skipped"]}
    assert kinds == {
        ("images/a.jpg", "corrupt-image"),
        ("images/b.jpg", "missing-mask"),
        ("masks/c.jpg", "mask-size"),
        ("images/d.jpg", "duplicate-id"),
        ("images/d.png", "duplicate-id"),
    }
    assert (tmp_path / "out" / "import-report.csv").read_text().count("\n") == 6
    assert list(read_manifest(tmp_path / "out")["id"]) == ["kvasir-seg/images/f"]


def test_a_failed_import_leaves_an_existing_root_untouched(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    import_dataset("kvasir-seg", tree, out)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    (tree / "images" / "c.jpg").write_bytes(b"junk")
    for fmt, kwargs in (("kvasir-seg", {"force": True}), ("folder", {"merge": True, "role": "task", "source": "kvasir-folder"})):
        with pytest.raises(DelbenchError, match="images/c.jpg"):
            import_dataset(fmt, tree, out, **kwargs)
        assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_output_inside_the_source_is_refused(tree: Path) -> None:
    with pytest.raises(DelbenchError, match="inside the source"):
        import_dataset("kvasir-seg", tree, tree / "imported")


def test_wrong_layout_says_what_was_expected(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DelbenchError, match="does not look like a kvasir-seg tree"):
        import_dataset("kvasir-seg", tmp_path / "empty", tmp_path / "out")


def test_unknown_option_names_the_accepted_ones(tree: Path, tmp_path: Path) -> None:
    with pytest.raises(DelbenchError, match="accepted: center"):
        import_dataset("kvasir-seg", tree, tmp_path / "out", colour="red")
