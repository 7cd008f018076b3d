"""Leak checks: a val/test image planted in the pool (as the same file, or as a cropped re-encode)
is refused, reported or dropped on import, and named by verify; a pool built from a task's train
split is not a leak."""
from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from delbench.store.atomic import sha256_file
from delbench.cli import cli
from delbench.data.importer import import_dataset
from delbench.data.manifest import read_manifest
from delbench.data.verify import check_root, verify
from delbench.errors import DelbenchError

sys.path.insert(0, str(Path(__file__).parent / "data"))
from make_fake_trees import build, mask, smooth  # noqa: E402


@pytest.fixture
def tasks(tmp_path: Path) -> Path:
    """A root with one task of 12 smooth images (so about two land in test)."""
    src = tmp_path / "polyps"
    for i in range(12):
        smooth(src / "images" / f"p{i}.png", seed=i)
        mask(src / "masks" / f"p{i}.png", seed=i, size=(160, 128))
    import_dataset("folder", src, tmp_path / "root", role="task")
    return tmp_path / "root"


def a_test_image(root: Path) -> dict:
    frame = read_manifest(root)
    return frame[frame["split"] == "test"].iloc[0].to_dict()


def pool_tree(where: Path, n: int = 6) -> Path:
    for i in range(n):
        smooth(where / f"m{i}.png", seed=1000 + i)
    return where


def test_a_test_image_copied_into_the_pool_is_refused(tasks: Path, tmp_path: Path) -> None:
    test = a_test_image(tasks)
    pool = pool_tree(tmp_path / "mucosa")
    (pool / "copy.png").write_bytes((tasks / test["path"]).read_bytes())
    before = sha256_file(tasks / "manifest.parquet")
    with pytest.raises(DelbenchError) as err:
        import_dataset("folder", pool, tasks, merge=True)
    message = str(err.value)
    assert "images/mucosa/copy.png" in message and test["path"] in message and "byte-identical" in message
    assert "--leaks drop" in message
    assert sha256_file(tasks / "manifest.parquet") == before  # nothing written
    assert not (tasks / "images" / "mucosa").exists()


def test_report_keeps_the_leak_and_verify_names_the_pair(tasks: Path, tmp_path: Path) -> None:
    test = a_test_image(tasks)
    pool = pool_tree(tmp_path / "mucosa")
    (pool / "copy.png").write_bytes((tasks / test["path"]).read_bytes())
    result = import_dataset("folder", pool, tasks, merge=True, leaks="report")
    assert [(x.kind, x.pool_path, x.task_path) for x in result.leaks] == [("exact", "images/mucosa/copy.png", test["path"])]
    with open(result.leak_report) as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["pool_id"] == "mucosa/copy" and rows[0]["task_id"] == test["id"] and rows[0]["action"] == "kept"
    problems = [p for p in verify(tasks) if p.kind == "pool-leak"]
    assert len(problems) == 1 and problems[0].file == "images/mucosa/copy.png" and test["path"] in problems[0].message
    runner = CliRunner()
    res = runner.invoke(cli, ["data", "verify", str(tasks)])
    assert res.exit_code != 0 and "images/mucosa/copy.png" in res.output and test["path"] in res.output
    res = runner.invoke(cli, ["data", "verify", str(tasks), "--leaks", "report"])
    assert res.exit_code == 0 and res.output.startswith("warning: images/mucosa/copy.png")


def test_drop_leaves_the_leaking_pool_image_out(tasks: Path, tmp_path: Path) -> None:
    test = a_test_image(tasks)
    pool = pool_tree(tmp_path / "mucosa")
    (pool / "copy.png").write_bytes((tasks / test["path"]).read_bytes())
    result = import_dataset("folder", pool, tasks, merge=True, leaks="drop")
    frame = read_manifest(tasks)
    assert result.leaks and (frame["role"] == "pool").sum() == 6
    assert "mucosa/copy" not in set(frame["id"]) and not (tasks / "images/mucosa/copy.png").exists()
    assert verify(tasks) == []


def cropped_jpeg(src: Path, dest: Path, crop: float = 0.05, quality: int = 80) -> Path:
    im = Image.open(src).convert("RGB")
    w, h = im.size
    dx, dy = int(w * crop), int(h * crop)
    buf = io.BytesIO()
    im.crop((dx, dy, w - dx, h - dy)).save(buf, "JPEG", quality=quality)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(buf.getvalue())
    return dest


def test_a_cropped_reencoded_test_image_is_reported_as_near_duplicate(tasks: Path, tmp_path: Path) -> None:
    test = a_test_image(tasks)
    pool = pool_tree(tmp_path / "mucosa")
    cropped_jpeg(tasks / test["path"], pool / "crop.jpg")
    result = import_dataset("folder", pool, tasks, merge=True)  # near duplicates are listed, not refused
    assert [(x.kind, x.pool_path, x.task_path) for x in result.leaks] == [("near", "images/mucosa/crop.jpg", test["path"])]
    assert result.leaks[0].bits <= 6
    checked = check_root(tasks)
    assert checked.problems == []
    assert [(w.kind, w.file) for w in checked.warnings] == [("near-duplicate", "images/mucosa/crop.jpg")]
    assert test["path"] in checked.warnings[0].message
    res = CliRunner().invoke(cli, ["data", "verify", str(tasks)])
    assert res.exit_code == 0 and "warning: images/mucosa/crop.jpg: near duplicate" in res.output


def test_drop_also_leaves_near_duplicates_out(tasks: Path, tmp_path: Path) -> None:
    test = a_test_image(tasks)
    pool = pool_tree(tmp_path / "mucosa")
    cropped_jpeg(tasks / test["path"], pool / "crop.jpg")
    import_dataset("folder", pool, tasks, merge=True, leaks="drop")
    assert "mucosa/crop" not in set(read_manifest(tasks)["id"])


def test_a_pool_from_the_train_split_is_no_leak(tmp_path: Path) -> None:
    trees = build(tmp_path / "trees")
    result = import_dataset("polypgen", trees / "PolypGen2021_MultiCenterData_v3", tmp_path / "root",
                            pool_from_task=("polypgen:train",))
    frame = read_manifest(tmp_path / "root")
    train = frame[(frame["task"] == "polypgen") & (frame["split"] == "train")]
    pool = frame[frame["role"] == "pool"]
    assert list(pool["id"]) == [i + "#pool" for i in train["id"]] and list(pool["path"]) == list(train["path"])
    assert pool[["task", "split", "mask_path"]].isna().all().all()
    assert result.pool == len(train) and not result.leaks
    assert verify(tmp_path / "root") == []


def test_a_pool_from_a_test_split_or_an_absent_task_is_refused(tmp_path: Path) -> None:
    trees = build(tmp_path / "trees")
    src = trees / "PolypGen2021_MultiCenterData_v3"
    with pytest.raises(DelbenchError, match="only a task's train split"):
        import_dataset("polypgen", src, tmp_path / "a", pool_from_task=("polypgen:test",))
    with pytest.raises(DelbenchError, match="no train rows of task 'kvasir'.*tasks here: polypgen"):
        import_dataset("polypgen", src, tmp_path / "b", pool_from_task=("kvasir",))
    assert not (tmp_path / "b").exists()


def test_cli_pool_from_task_and_leaks_options(tmp_path: Path) -> None:
    trees = build(tmp_path / "trees")
    res = CliRunner().invoke(cli, ["data", "import", "polypgen", str(trees / "PolypGen2021_MultiCenterData_v3"),
                                   "--out", str(tmp_path / "r"), "--pool-from-task", "polypgen", "--leaks", "drop"])
    assert res.exit_code == 0, res.output
    assert "imported 18 images from polypgen" in res.output
    assert (read_manifest(tmp_path / "r")["role"] == "pool").sum() > 0
