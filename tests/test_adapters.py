"""Every dataset format on a fake tree in its published layout: import, manifest, splits, verify."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from delbench.data.adapters.builtin import ADAPTERS
from delbench.data.importer import import_dataset
from delbench.data.manifest import SPLITS, check, read_manifest
from delbench.data.splits import SPLIT_RATIOS, assign_splits
from delbench.data.verify import verify

sys.path.insert(0, str(Path(__file__).parent / "data"))
from make_fake_trees import CASES, Case, build  # noqa: E402


@pytest.fixture(scope="session")
def trees(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("fake-trees"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_import_builds_a_valid_manifest(case: Case, trees: Path, tmp_path: Path) -> None:
    result = import_dataset(case.format, trees / case.src, tmp_path / "root", **case.options)
    frame = read_manifest(tmp_path / "root")
    check(frame)
    assert result.rows == len(frame) == case.pool + sum(case.tasks.values())
    assert int((frame["role"] == "pool").sum()) == case.pool
    tasks = frame[frame["role"] == "task"]
    assert tasks.groupby("task").size().to_dict() == case.tasks
    assert set(frame["center"]) == set(case.centers)
    assert frame["video"].nunique() == case.videos
    source = case.source or case.format
    assert frame["id"].str.startswith(source + "/").all()
    assert tasks["split"].isin(SPLITS).all() and tasks["mask_path"].notna().all()
    assert frame.loc[frame["role"] == "pool", ["task", "split", "mask_path"]].isna().all().all()
    assert (frame["source"] == source).all()
    assert verify(tmp_path / "root") == []


@pytest.mark.parametrize("case", [c for c in CASES if c.tasks], ids=[c.name for c in CASES if c.tasks])
def test_no_group_spans_two_splits(case: Case, trees: Path, tmp_path: Path) -> None:
    import_dataset(case.format, trees / case.src, tmp_path / "root", **case.options)
    tasks = read_manifest(tmp_path / "root").query("role == 'task'")
    grouped = tasks[tasks["video"].notna()]
    assert (grouped.groupby(["task", "video"])["split"].nunique() == 1).all()


def test_every_builtin_format_has_a_fake_tree() -> None:
    assert {a.name for a in ADAPTERS} <= {c.format for c in CASES}


def test_builtin_formats_register_through_the_plugin_hook() -> None:
    from delbench.plugin.manager import get_plugins

    reg = get_plugins().datasets
    for adapter in ADAPTERS:
        assert reg.get(adapter.name).plugin == "datasets"


def test_a_plugin_can_add_a_format(trees: Path, tmp_path: Path) -> None:
    from delbench import hookimpl
    from delbench.data.adapters.base import PairedAdapter
    from delbench.plugin.manager import temporary_plugin

    class Mine(PairedAdapter):
        """My clinic's export."""

        name = "my-clinic"
        task = "clinic-polyps"
        center = "clinic"

    class MinePlugin:
        @staticmethod
        @hookimpl
        def delbench_register_datasets(register):  # type: ignore[no-untyped-def]
            register(Mine)

    with temporary_plugin(MinePlugin, "mine") as plugins:
        assert "my-clinic" in plugins.datasets
        result = import_dataset("my-clinic", trees / "my-task", tmp_path / "root")
    assert result.tasks["clinic-polyps"] and result.rows == 4


def test_import_is_deterministic(trees: Path, tmp_path: Path) -> None:
    a = import_dataset("polypgen", trees / "PolypGen2021_MultiCenterData_v3", tmp_path / "a")
    b = import_dataset("polypgen", trees / "PolypGen2021_MultiCenterData_v3", tmp_path / "b")
    pd.testing.assert_frame_equal(read_manifest(a.root), read_manifest(b.root))


def test_kvasir_instrument_keeps_the_published_test_list(trees: Path, tmp_path: Path) -> None:
    import_dataset("kvasir-instrument", trees / "kvasir-instrument", tmp_path / "r")
    frame = read_manifest(tmp_path / "r")
    test_ids = set(frame.loc[frame["split"] == "test", "id"].str.rsplit("/", n=1).str[-1])
    assert test_ids == {"ckcu4inst", "ckcu5inst"}


def test_splits_follow_the_ratios_are_stable_and_keep_groups_together() -> None:
    ids = [f"x/{i}" for i in range(2000)]
    splits = assign_splits(ids, ["t"] * len(ids))
    for name, ratio in SPLIT_RATIOS:
        assert abs(splits.count(name) / len(ids) - ratio) < 0.01
    shuffled = list(reversed(ids))
    again = dict(zip(shuffled, assign_splits(shuffled, ["t"] * len(ids))))
    assert again == dict(zip(ids, splits))
    groups = [f"v{i // 10}" for i in range(len(ids))]
    by_group = pd.DataFrame({"g": groups, "s": assign_splits(ids, ["t"] * len(ids), groups)})
    assert (by_group.groupby("g")["s"].nunique() == 1).all()
    fixed = ["test" if i % 5 == 0 else "train" for i in range(len(ids))]
    out = assign_splits(ids, ["t"] * len(ids), fixed=fixed)
    assert all((s == "test") == (f == "test") for s, f in zip(out, fixed))


def test_link_mode_links_images_and_writes_masks(trees: Path, tmp_path: Path) -> None:
    import_dataset("kvasir-seg", trees / "kvasir-seg", tmp_path / "r", mode="link")
    frame = read_manifest(tmp_path / "r")
    assert all((tmp_path / "r" / p).is_symlink() for p in frame["path"])
    assert not any((tmp_path / "r" / p).is_symlink() for p in frame["mask_path"])
    assert verify(tmp_path / "r") == []


def test_existing_output_needs_force_or_merge(trees: Path, tmp_path: Path) -> None:
    from delbench.errors import DelbenchError

    out = tmp_path / "r"
    import_dataset("kvasir-seg", trees / "kvasir-seg", out)
    with pytest.raises(DelbenchError, match="--force .* --merge"):
        import_dataset("etis", trees / "ETIS-LaribPolypDB", out)
    import_dataset("hyper-kvasir", trees / "hyper-kvasir", out, merge=True)
    frame = read_manifest(out)
    assert set(frame["source"]) == {"kvasir-seg", "hyper-kvasir"} and len(frame) == 5 + 10
    assert verify(out) == []
    with pytest.raises(DelbenchError, match="already in"):
        import_dataset("kvasir-seg", trees / "kvasir-seg", out, merge=True)
    import_dataset("etis", trees / "ETIS-LaribPolypDB", out, force=True)
    assert set(read_manifest(out)["source"]) == {"etis"}


def test_task_option_renames_the_task(trees: Path, tmp_path: Path) -> None:
    from delbench.errors import DelbenchError

    result = import_dataset("kvasir-seg", trees / "kvasir-seg", tmp_path / "r", task_name="polyps")
    assert set(result.tasks) == {"polyps"}
    with pytest.raises(DelbenchError, match="single task"):
        import_dataset("polyp-testsets", trees / "bundle", tmp_path / "s", task_name="x")


def test_training_arrays_read_through_the_manifest(trees: Path, tmp_path: Path) -> None:
    import numpy as np

    from delbench.data.manifest import pool_rows, task_rows
    from delbench.nets.arrays import image_array

    import_dataset("hyper-kvasir", trees / "hyper-kvasir", tmp_path / "r")
    frame = read_manifest(tmp_path / "r")
    pool = image_array(tmp_path / "r", pool_rows(frame).iloc[[0, 3]], 24, tmp_path / "cache")
    assert pool.shape == (2, 24, 24, 3) and pool.dtype == np.uint8
    rows = task_rows(frame, "hyper-kvasir-seg", "train")
    images = image_array(tmp_path / "r", rows, 16, tmp_path / "cache")
    masks = image_array(tmp_path / "r", rows, 16, tmp_path / "cache", column="mask_path")
    assert images.shape == (len(rows), 16, 16, 3) and masks.shape == (len(rows), 16, 16)
    assert set(np.unique(masks[0]).tolist()) <= {0, 1} and masks[0].sum() > 0


def test_cli_import_verify_formats(trees: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from delbench.cli import cli

    runner = CliRunner()
    res = runner.invoke(cli, ["data", "formats"])
    assert res.exit_code == 0 and "kvasir-seg" in res.output and "polypgen" in res.output
    out = tmp_path / "r"
    args = ["data", "import", "folder", str(trees / "my-task"), "--out", str(out), "--option", "role=task", "--option", "mask_suffix=_mask"]
    res = runner.invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "task my-task" in res.output
    res = runner.invoke(cli, ["data", "verify", str(out)])
    assert res.exit_code == 0 and res.output.startswith("OK")
    res = runner.invoke(cli, ["data", "import", "kvasir-sge", str(trees / "kvasir-seg"), "--out", str(tmp_path / "x")])
    assert res.exit_code != 0 and "did you mean 'kvasir-seg'" in res.output
