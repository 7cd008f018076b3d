"""What a dataset root may contain and how it is read: 16-bit pixels, images in subfolders, paths that
leave the root, a damaged manifest, and temporaries left by a killed writer."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from delbench.store.atomic import atomic_dir
from delbench.cli import cli
from delbench.data.checks import mask_values
from delbench.data.importer import import_dataset
from delbench.data.manifest import manifest_path, pool_rows, read_manifest
from delbench.data.verify import verify
from delbench.errors import DelbenchError

sys.path.insert(0, str(Path(__file__).parent / "data"))
from make_fake_trees import image, image16, mask, mask16, pairs  # noqa: E402


def one_line_error(args: list[str], *needles: str) -> str:
    """Run the CLI; it must fail with one line (no traceback) containing every needle."""
    res = CliRunner().invoke(cli, args)
    assert res.exit_code != 0, res.output
    assert isinstance(res.exception, SystemExit), f"uncaught {type(res.exception).__name__}: {res.exception}"
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# --- 16-bit images -------------------------------------------------------------------------------


def assert_full_range(arr: np.ndarray) -> None:
    arr = np.asarray(arr)
    assert arr.dtype == np.uint8
    assert arr.min() <= 8 and arr.max() >= 247, (arr.min(), arr.max())
    assert float(np.mean(arr == 255)) < 0.05, f"{np.mean(arr == 255):.0%} of pixels saturated"
    assert 110 < float(arr.mean()) < 145


@pytest.fixture
def root16(tmp_path: Path) -> Path:
    """A folder pool of 16-bit greyscale ramps, imported."""
    for i in range(3):
        image16(tmp_path / "src16" / f"{i}.png")
    import_dataset("folder", tmp_path / "src16", tmp_path / "root16")
    return tmp_path / "root16"


def test_16bit_png_is_scaled_to_8bit_by_every_reader(root16: Path, tmp_path: Path) -> None:
    from delbench.select.stage import image_loader
    from delbench.nets.arrays import _load

    pool = pool_rows(read_manifest(root16))
    assert Image.open(root16 / pool["path"][0]).mode == "I;16"  # the file is kept as published
    assert_full_range(next(iter(image_loader(root16, pool)([0]))))
    assert_full_range(_load(root16, pool["path"][0], 32, mask=False))
    assert verify(root16) == []


def test_16bit_mask_with_0_65535_reads_as_0_255(tmp_path: Path) -> None:
    src = tmp_path / "my-task"
    for i, name in enumerate(("a", "b", "c")):
        image(src / "images" / f"{name}.png", seed=i)
        mask16(src / "masks" / f"{name}.png", seed=i)
    import_dataset("folder", src, tmp_path / "root", role="task")
    frame = read_manifest(tmp_path / "root")
    for rel in frame["mask_path"]:
        assert set(np.unique(mask_values(tmp_path / "root" / rel)).tolist()) == {0, 255}
    assert set(np.unique(mask_values(src / "masks" / "a.png")).tolist()) == {0, 255}
    assert verify(tmp_path / "root") == []


def test_floating_point_image_is_refused_with_one_line(tmp_path: Path) -> None:
    src = tmp_path / "srcf"
    image(src / "a.png", 1)
    Image.fromarray(np.linspace(0, 1, 40 * 32, dtype=np.float32).reshape(32, 40)).save(src / "b.tif")
    with pytest.raises(DelbenchError) as info:
        import_dataset("folder", src, tmp_path / "out")
    msg = str(info.value)
    assert "\n" not in msg and "b.tif" in msg and "floating-point" in msg and "--skip-bad" in msg


# --- images in subfolders ------------------------------------------------------------------------


def nested_tree(base: Path, mask_name: str = "{}") -> Path:
    """images/ and masks/ with files at the top, in a subfolder and in a sub-subfolder."""
    pairs(base / "images", base / "masks", ["a", "b"], ".jpg", mask_name=mask_name)
    pairs(base / "images" / "sub", base / "masks" / "sub", ["c", "d"], ".jpg", mask_name=mask_name)
    pairs(base / "images" / "sub" / "deeper", base / "masks" / "sub" / "deeper", ["e"], ".jpg", mask_name=mask_name)
    return base


def test_kvasir_seg_reads_images_in_subfolders(tmp_path: Path) -> None:
    src = nested_tree(tmp_path / "Kvasir-SEG")
    result = import_dataset("kvasir-seg", src, tmp_path / "root")
    frame = read_manifest(tmp_path / "root")
    assert result.rows == len(frame) == 5
    assert set(frame["id"]) == {f"kvasir-seg/images/{p}" for p in ("a", "b", "sub/c", "sub/d", "sub/deeper/e")}
    row = frame[frame["id"] == "kvasir-seg/images/sub/deeper/e"].iloc[0]
    assert row["mask_path"] == "masks/kvasir-seg/images/sub/deeper/e.png"
    assert verify(tmp_path / "root") == []


def test_folder_task_reads_images_in_subfolders(tmp_path: Path) -> None:
    src = nested_tree(tmp_path / "my-task", mask_name="{}_mask")
    result = import_dataset("folder", src, tmp_path / "root", role="task", mask_suffix="_mask")
    frame = read_manifest(tmp_path / "root")
    assert result.rows == len(frame) == 5
    assert "my-task/images/sub/deeper/e" in set(frame["id"])  # ids start with the folder's source name
    assert frame["mask_path"].notna().all()


def test_subfolder_image_pairs_only_with_a_mask_in_the_same_subfolder(tmp_path: Path) -> None:
    src = tmp_path / "Kvasir-SEG"
    pairs(src / "images", src / "masks", ["a", "b"], ".jpg")
    image(src / "images" / "sub" / "x.jpg", 7)
    mask(src / "masks" / "x.jpg", 7)  # same stem, but not in masks/sub/
    with pytest.raises(DelbenchError, match="no mask") as info:
        import_dataset("kvasir-seg", src, tmp_path / "root")
    assert "images/sub/x.jpg" in str(info.value)
    result = import_dataset("kvasir-seg", src, tmp_path / "root", skip_bad=True)
    assert [(s.file, s.kind) for s in result.skipped] == [("images/sub/x.jpg", "missing-mask")]
    assert any("have no image" in n and "'x'" in n for n in result.notes), result.notes


def test_linked_subfolder_is_named_in_a_note(tmp_path: Path) -> None:
    src = tmp_path / "Kvasir-SEG"
    pairs(src / "images", src / "masks", ["a", "b"], ".jpg")
    pairs(tmp_path / "elsewhere", tmp_path / "elsewhere-masks", ["z"], ".jpg")
    os.symlink(tmp_path / "elsewhere", src / "images" / "more", target_is_directory=True)
    result = import_dataset("kvasir-seg", src, tmp_path / "root")
    assert result.rows == 2
    assert any("images/more" in n and "not imported" in n for n in result.notes), result.notes


# --- manifest paths ------------------------------------------------------------------------------


@pytest.fixture
def kroot(tmp_path: Path) -> Path:
    """A copy-imported Kvasir-SEG root of four pairs."""
    src = tmp_path / "Kvasir-SEG"
    pairs(src / "images", src / "masks", ["a", "b", "c", "d"], ".jpg")
    import_dataset("kvasir-seg", src, tmp_path / "root")
    return tmp_path / "root"


def rewrite_path(root: Path, row: int, new: str) -> str:
    """Point row ``row`` at ``new`` behind the writer's back (as a hand-edited manifest would); return its id."""
    frame = read_manifest(root)
    frame.loc[row, "path"] = new
    frame.to_parquet(manifest_path(root), index=False)
    return str(frame.loc[row, "id"])


@pytest.mark.parametrize("where", ["up", "absolute"])
def test_manifest_path_leaving_the_root_is_refused_on_every_read(kroot: Path, tmp_path: Path, where: str) -> None:
    first = read_manifest(kroot).iloc[0]
    outside = tmp_path / "outside.jpg"
    shutil.copyfile(kroot / first["path"], outside)  # same bytes: the sha256 in the manifest matches
    rel = "../outside.jpg" if where == "up" else str(outside)
    rid = rewrite_path(kroot, 0, rel)
    with pytest.raises(DelbenchError) as info:
        read_manifest(kroot)
    msg = str(info.value)
    assert "\n" not in msg and rid in msg and rel in msg
    one_line_error(["embed", str(kroot), "--protocol", "ci", "--cache", str(tmp_path / "cache")], rid, rel)
    one_line_error(["data", "preview", str(kroot), "--out", str(tmp_path / "grid.png")], rid, rel)
    assert not list((tmp_path / "cache").rglob("embeddings.npy"))
    problems = verify(kroot)
    assert [(p.file, p.kind, p.id) for p in problems] == [(rel, "manifest", rid)]


def test_symlink_out_of_a_copy_root_is_refused(kroot: Path, tmp_path: Path) -> None:
    frame = read_manifest(kroot)
    target = kroot / frame["path"][1]
    outside = tmp_path / "outside.jpg"
    shutil.move(target, outside)
    os.symlink(outside, target)
    with pytest.raises(DelbenchError) as info:
        read_manifest(kroot)
    msg = str(info.value)
    assert "\n" not in msg and frame["id"][1] in msg and frame["path"][1] in msg and "symlink" in msg
    one_line_error(["embed", str(kroot), "--protocol", "ci", "--cache", str(tmp_path / "cache")], frame["id"][1])
    problems = verify(kroot)
    assert [(p.file, p.kind) for p in problems] == [(frame["path"][1], "escapes-root")]


def test_folder_linked_out_of_a_copy_root_is_refused(kroot: Path, tmp_path: Path) -> None:
    images = kroot / "images" / "kvasir-seg" / "images"
    shutil.move(images, tmp_path / "moved")
    os.symlink(tmp_path / "moved", images, target_is_directory=True)
    with pytest.raises(DelbenchError, match="resolves outside the root"):
        read_manifest(kroot)
    assert {p.kind for p in verify(kroot)} == {"escapes-root"}


def test_link_import_still_reads_and_verifies(tmp_path: Path) -> None:
    src = tmp_path / "Kvasir-SEG"
    pairs(src / "images", src / "masks", ["a", "b", "c", "d"], ".jpg")
    import_dataset("kvasir-seg", src, tmp_path / "root", mode="link")
    frame = read_manifest(tmp_path / "root")
    assert all((tmp_path / "root" / p).is_symlink() for p in frame["path"])
    assert verify(tmp_path / "root") == []
    from delbench.select.stage import image_loader

    assert next(iter(image_loader(tmp_path / "root", frame)([0]))).shape == (32, 40, 3)
    # A link of that root retargeted outside the recorded source is refused like any other.
    stray = image(tmp_path / "stray" / "a.jpg", 1)
    (tmp_path / "root" / frame["path"][0]).unlink()
    os.symlink(stray, tmp_path / "root" / frame["path"][0])
    with pytest.raises(DelbenchError, match="not into a `data import --link` source"):
        read_manifest(tmp_path / "root")


def test_link_source_is_honoured_only_for_link_imports(kroot: Path, tmp_path: Path) -> None:
    """A copy import records mode copy: a link into its source folder is still a link out of the root."""
    frame = read_manifest(kroot)
    side = json.loads((kroot / "import.json").read_text())
    assert side["imports"][0]["mode"] == "copy"
    target = kroot / frame["path"][0]
    target.unlink()
    os.symlink(tmp_path / "Kvasir-SEG" / "images" / "a.jpg", target)
    with pytest.raises(DelbenchError, match="symlink"):
        read_manifest(kroot)


# --- a damaged manifest --------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["verify", "embed", "preview"])
def test_truncated_manifest_is_one_line_naming_the_file(kroot: Path, tmp_path: Path, command: str) -> None:
    data = manifest_path(kroot).read_bytes()
    manifest_path(kroot).write_bytes(data[: len(data) // 2])
    args = {
        "verify": ["data", "verify", str(kroot)],
        "embed": ["embed", str(kroot), "--protocol", "ci", "--cache", str(tmp_path / "cache")],
        "preview": ["data", "preview", str(kroot), "--out", str(tmp_path / "grid.png")],
    }[command]
    line = one_line_error(args, str(manifest_path(kroot)))
    assert "delbench data verify" in line and "re-import" in line
    with pytest.raises(DelbenchError, match="truncated or damaged"):
        read_manifest(kroot)


def test_manifest_that_is_not_parquet_is_one_line(kroot: Path) -> None:
    manifest_path(kroot).write_bytes(b"PAR1 not really")
    with pytest.raises(DelbenchError) as info:
        read_manifest(kroot)
    assert "\n" not in str(info.value) and str(manifest_path(kroot)) in str(info.value)


# --- temporaries left by a killed writer ---------------------------------------------------------


def temp_name(tmp_path: Path) -> str:
    """The name this process gives a temporary (``.probe.<pid>@<host>.<random>.tmp``)."""
    with atomic_dir(tmp_path / "probe") as tmp:
        return tmp.name


def host_tag(tmp_path: Path) -> str:
    match = re.fullmatch(r"\.probe\.\d+@([0-9a-f]{8})\..*", temp_name(tmp_path))
    return match.group(1) if match else "00000000"


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_import_sweeps_stale_temp_dirs_and_nothing_else(tmp_path: Path) -> None:
    src = tmp_path / "Kvasir-SEG"
    pairs(src / "images", src / "masks", ["a", "b"], ".jpg")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        old = time.time() - 3 * 24 * 3600
        stale = [tmp_path / f".out.{dead_pid()}@{host_tag(tmp_path)}.k9x_2ab7.tmp", tmp_path / ".out.zq81mm0a.tmp"]
        kept = [
            tmp_path / f".out.{live.pid}@{host_tag(tmp_path)}.abcd1234.tmp",  # a writer still running
            tmp_path / f".out.{dead_pid()}@0000beef.abcd1234.tmp",  # another host, recent
            tmp_path / ".out.fresh123.tmp",  # old naming, recent
            tmp_path / ".out.notatemp",  # not the pattern
            tmp_path / ".other.abcd1234.tmp",  # another target
            tmp_path / ".out.abcd12345.tmp",  # nine random characters: not ours
        ]
        for d in stale + kept:
            (d / "images").mkdir(parents=True)
            (d / "images" / "x.jpg").write_bytes(b"partial")
        os.utime(stale[1], (old, old))
        for d in kept[-3:]:
            os.utime(d, (old, old))
        import_dataset("kvasir-seg", src, tmp_path / "out")
        for d in stale:
            assert not d.exists(), f"{d.name} was not swept"
        for d in kept:
            assert (d / "images" / "x.jpg").is_file(), f"{d.name} was removed"
        assert len(read_manifest(tmp_path / "out")) == 2 and verify(tmp_path / "out") == []
    finally:
        live.kill()
        live.wait()


def test_temp_names_carry_the_writer_pid(tmp_path: Path) -> None:
    name = temp_name(tmp_path)
    assert re.fullmatch(rf"\.probe\.{os.getpid()}@[0-9a-f]{{8}}\.[a-z0-9_]{{8}}\.tmp", name), name
    assert (tmp_path / "probe").is_dir() and not (tmp_path / name).exists()
