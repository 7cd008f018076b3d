"""``data merge`` joins imported roots without re-importing: rows and splits kept, files linked,
clashes and leaks refused before anything is written, inputs never touched."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from delbench.store.atomic import sha256_file
from delbench.cli import cli
from delbench.data.importer import import_dataset
from delbench.data.manifest import read_manifest
from delbench.data.merge import merge_roots
from delbench.data.verify import verify
from delbench.errors import DelbenchError

sys.path.insert(0, str(Path(__file__).parent / "data"))
from make_fake_trees import build, image  # noqa: E402


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("fake-trees"))


@pytest.fixture
def roots(trees: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A pool root from two folders with the same file names, a task root, a --link task root."""
    for name in ("mucosa-a", "mucosa-b"):
        for i in range(3):
            image(tmp_path / name / f"{i}.jpg", seed=sum(map(ord, name)) + i)
    pool = tmp_path / "pool"
    import_dataset("folder", tmp_path / "mucosa-a", pool)
    import_dataset("folder", tmp_path / "mucosa-b", pool, merge=True)
    tasks = tmp_path / "tasks"
    import_dataset("polypgen", trees / "PolypGen2021_MultiCenterData_v3", tasks)
    linked = tmp_path / "linked"
    import_dataset("kvasir-seg", trees / "kvasir-seg", linked, mode="link")
    return pool, tasks, linked


def test_two_folder_pools_keep_their_own_source(roots: tuple[Path, Path, Path], tmp_path: Path) -> None:
    frame = read_manifest(roots[0])
    assert frame["source"].value_counts().to_dict() == {"mucosa-a": 3, "mucosa-b": 3}
    assert {"mucosa-a/0", "mucosa-b/0"} <= set(frame["id"])
    with pytest.raises(DelbenchError, match="source name 'Crops A' must be lower-case"):
        import_dataset("folder", tmp_path / "mucosa-a", tmp_path / "x", source="Crops A")
    renamed = import_dataset("folder", tmp_path / "mucosa-a", tmp_path / "y", source="crops.2024")
    assert renamed.source == "crops.2024" and set(read_manifest(tmp_path / "y")["source"]) == {"crops.2024"}


def test_merge_joins_rows_splits_and_links_files(roots: tuple[Path, Path, Path], tmp_path: Path) -> None:
    before = [sha256_file(r / "manifest.parquet") for r in roots]
    result = merge_roots(roots, tmp_path / "all")
    frame = read_manifest(tmp_path / "all")
    inputs = [read_manifest(r) for r in roots]
    assert list(frame["id"]) == [i for f in inputs for i in f["id"]]
    assert frame.set_index("id")["split"].dropna().to_dict() == {
        k: v for f in inputs for k, v in f.set_index("id")["split"].dropna().items()}
    assert result.sources == {"kvasir-seg": 5, "mucosa-a": 3, "mucosa-b": 3, "polypgen": 18}
    row = inputs[1].iloc[0]
    assert os.stat(tmp_path / "all" / row["path"]).st_ino == os.stat(roots[1] / row["path"]).st_ino
    assert all((tmp_path / "all" / p).is_symlink() for p in inputs[2]["path"])  # --link images stay links
    assert verify(tmp_path / "all") == []
    assert [sha256_file(r / "manifest.parquet") for r in roots] == before


def test_a_leak_across_roots_is_refused_before_writing(roots: tuple[Path, Path, Path], tmp_path: Path) -> None:
    pool, tasks, _ = roots
    test = read_manifest(tasks).query("split == 'test'").iloc[0]
    (tmp_path / "planted").mkdir()
    (tmp_path / "planted" / "x.jpg").write_bytes((tasks / test["path"]).read_bytes())
    planted = tmp_path / "planted-root"
    import_dataset("folder", tmp_path / "planted", planted)
    with pytest.raises(DelbenchError, match=f"images/planted/x.jpg .*byte-identical.*{test['path']}"):
        merge_roots([pool, planted, tasks], tmp_path / "all")
    assert not (tmp_path / "all").exists()
    result = merge_roots([pool, planted, tasks], tmp_path / "all", leaks="drop")
    assert "planted/x" not in set(read_manifest(tmp_path / "all")["id"]) and result.leak_report.is_file()
    assert verify(tmp_path / "all") == []


def test_clashing_ids_and_bad_outputs_are_refused(roots: tuple[Path, Path, Path], trees: Path, tmp_path: Path) -> None:
    pool, tasks, linked = roots
    again = tmp_path / "again"
    import_dataset("kvasir-seg", trees / "kvasir-seg", again)
    with pytest.raises(DelbenchError, match=r"id 'kvasir-seg/images/\S+' is in both .*linked and .*again; the same release"):
        merge_roots([linked, again], tmp_path / "all")
    with pytest.raises(DelbenchError, match="given twice"):
        merge_roots([pool, pool], tmp_path / "all")
    with pytest.raises(DelbenchError, match="inside the source"):
        merge_roots([pool, tasks], pool / "sub")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(DelbenchError, match="not empty; pass --force"):
        merge_roots([pool], tmp_path / "full")
    with pytest.raises(DelbenchError, match="is not a dataset root"):
        merge_roots([pool, tmp_path / "full"], tmp_path / "other")


def test_a_missing_file_is_named(roots: tuple[Path, Path, Path], tmp_path: Path) -> None:
    pool, tasks, _ = roots
    gone = read_manifest(tasks).iloc[3]["path"]
    (tasks / gone).unlink()
    with pytest.raises(DelbenchError, match=f"{gone} is listed in .* but missing; run `delbench data verify"):
        merge_roots([pool, tasks], tmp_path / "all")
    assert not (tmp_path / "all").exists()


def test_cli_merge_with_pool_from_task(roots: tuple[Path, Path, Path], tmp_path: Path) -> None:
    pool, tasks, _ = roots
    res = CliRunner().invoke(cli, ["data", "merge", str(pool), str(tasks), "--out", str(tmp_path / "all"),
                                   "--pool-from-task", "polypgen:train"])
    assert res.exit_code == 0, res.output
    frame = read_manifest(tmp_path / "all")
    train = int(((frame["task"] == "polypgen") & (frame["split"] == "train")).sum())
    assert f"{6 + train} pool" in res.output and "task polypgen" in res.output
    assert verify(tmp_path / "all") == []
