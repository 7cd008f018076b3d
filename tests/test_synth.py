"""The synthetic DataDEL: layout, manifest, ground truth, masks, splits, determinism, video structure."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from delbench.data.manifest import COLUMNS, GT_COLUMNS, manifest_sha256, pool_rows, read_manifest, task_rows
from delbench.data.synth import SCALES, generate
from delbench.data.synth.camera import QUALITIES
from delbench.data.synth.tasks import TASKS, split_of
from delbench.errors import DelbenchError


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("synth") / "ci", scale="ci", seed=0)


@pytest.fixture(scope="module")
def manifest(root: Path):
    return read_manifest(root)


def _load(root: Path, rel: str) -> np.ndarray:
    return np.asarray(Image.open(root / rel))


def test_manifest_schema(root: Path, manifest) -> None:
    assert list(manifest.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert set(GT_COLUMNS) <= set(manifest.columns)
    assert manifest["id"].is_unique
    assert set(manifest["role"]) == {"pool", "task"}
    assert (manifest["source"] == "synthetic").all()
    pool = pool_rows(manifest)
    sc = SCALES["ci"]
    assert len(pool) == sc.pool_frames
    assert pool[["video", "frame", "gt_quality", "gt_group", "gt_polyp"]].notna().all().all()
    assert (root / "synth.json").is_file()


def test_files_match_manifest(root: Path, manifest) -> None:
    from delbench.store.atomic import sha256_file

    for row in manifest.sample(n=40, random_state=0).itertuples():
        assert sha256_file(root / row.path) == row.sha256
        img = Image.open(root / row.path)
        assert img.size == (row.width, row.height)
        assert img.mode == "RGB"


def test_centres_and_tasks(manifest) -> None:
    pool, tasks = pool_rows(manifest), task_rows(manifest)
    assert pool["center"].nunique() >= 6
    assert tasks["task"].nunique() >= 4
    assert set(tasks["task"]) == {t.name for t in TASKS}
    unseen = [t for t in set(tasks["task"]) if not set(tasks.loc[tasks["task"] == t, "center"]) & set(pool["center"])]
    assert unseen, "one task must come from a centre absent from the pool"
    sizes = tasks.groupby("task")[["width", "height"]].first()
    assert len(set(map(tuple, sizes.values))) == len(sizes), "tasks differ in image size"


def test_every_quality_type_present(manifest) -> None:
    pool = pool_rows(manifest)
    assert set(pool["gt_quality"]) == set(QUALITIES)
    disruptive = (pool["gt_quality"] != "clean").mean()
    assert 0.15 < disruptive < 0.5
    assert 0.05 < pool["gt_polyp"].mean() < 0.7


def test_masks_binary_and_image_sized(root: Path, manifest) -> None:
    tasks = task_rows(manifest)
    fractions = []
    for row in tasks.itertuples():
        mask = _load(root, row.mask_path)
        assert mask.ndim == 2 and mask.dtype == np.uint8
        assert mask.shape == (row.height, row.width)
        assert set(np.unique(mask)) <= {0, 255}
        fractions.append((mask > 0).mean())
    assert np.mean(np.array(fractions) > 0) > 0.95


def test_splits_fixed_and_disjoint(manifest) -> None:
    tasks = task_rows(manifest)
    assert set(tasks["split"]) == {"train", "val", "test"}
    for row in tasks.itertuples():
        assert row.split == split_of(row.id)
    for name in tasks["task"].unique():
        t = tasks[tasks["task"] == name]
        ids = {s: set(t.loc[t["split"] == s, "id"]) for s in ("train", "val", "test")}
        assert all(ids.values())
        assert not (ids["train"] & ids["val"] or ids["train"] & ids["test"] or ids["val"] & ids["test"])
        assert sum(map(len, ids.values())) == len(t)
    assert pool_rows(manifest)["split"].isna().all()


def test_groups_stay_inside_videos(manifest) -> None:
    pool = pool_rows(manifest)
    assert (pool.groupby("gt_group")["video"].nunique() == 1).all()
    per_video = pool.groupby("video")["gt_group"].nunique()
    assert per_video.mean() < SCALES["ci"].frames_per_video, "consecutive frames share groups"


def test_consecutive_frames_are_near_duplicates(root: Path, manifest) -> None:
    pool = pool_rows(manifest)
    clean = pool[pool["gt_quality"] == "clean"]
    near, far = [], []
    videos = sorted(clean["video"].unique())
    for i, v in enumerate(videos):
        rows = clean[clean["video"] == v].sort_values("frame")
        frames = rows["frame"].to_numpy()
        paths = rows["path"].to_numpy()
        other = clean[clean["video"] == videos[(i + 1) % len(videos)]]
        for j in range(len(rows) - 1):
            if frames[j + 1] != frames[j] + 1:
                continue
            a = _load(root, paths[j]).astype(float)
            near.append(((a - _load(root, paths[j + 1])) ** 2).mean())
            far.append(((a - _load(root, other["path"].iloc[j % len(other)])) ** 2).mean())
    assert len(near) > 20
    assert np.median(near) < 0.5 * np.median(far)


def test_deterministic_by_seed(root: Path, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", scale="ci", seed=0)
    assert manifest_sha256(again) == manifest_sha256(root)
    tiny = dataclasses.replace(SCALES["ci"], name="tiny", videos_per_center=1, frames_per_video=4, task_images=4)
    a = read_manifest(generate(tmp_path / "a", scale=tiny, seed=0))
    b = read_manifest(generate(tmp_path / "b", scale=tiny, seed=1))
    assert list(a["id"]) == list(b["id"]) and list(a["split"]) == list(b["split"])
    assert (a["sha256"] != b["sha256"]).mean() > 0.9


def test_refuses_existing_and_unknown_scale(root: Path, tmp_path: Path) -> None:
    with pytest.raises(DelbenchError, match="already exists"):
        generate(root, scale="ci")
    with pytest.raises(DelbenchError, match="unknown synthetic scale"):
        generate(tmp_path / "x", scale="huge")
    assert not (tmp_path / "x").exists()


def test_interrupted_run_leaves_nothing(tmp_path: Path) -> None:
    def boom(fraction: float, message: str) -> None:
        stage, _, count = message.partition(" ")
        if stage == "pool" and int(count.split("/")[0]) >= 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path / "half", scale="ci", progress=boom)
    assert list(tmp_path.iterdir()) == []


def test_preview_writes_png(root: Path, tmp_path: Path) -> None:
    from delbench.data.preview import preview

    out = preview(root, tmp_path / "grid.png", columns=4)
    img = Image.open(out)
    assert img.format == "PNG" and img.size[0] > 200


def test_cli_synth_and_preview(tmp_path: Path, root: Path) -> None:
    from click.testing import CliRunner

    from delbench.cli import cli

    result = CliRunner().invoke(cli, ["data", "preview", str(root), "--out", str(tmp_path / "p.png"), "--columns", "3"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p.png").is_file()
    result = CliRunner().invoke(cli, ["data", "synth", "--out", str(root), "--scale", "ci"])
    assert result.exit_code != 0 and "already exists" in result.output


def test_cli_scale_choices_match_scales() -> None:
    from delbench.cli.data_synth_cmd import _SCALE_NAMES

    assert tuple(SCALES) == _SCALE_NAMES
    assert SCALES["large"].pool_frames >= 100_000


def test_dwell_holds_the_camera_and_keeps_one_group_per_hold():
    from delbench.data.synth.camera import hold, make_video

    video = make_video(np.random.default_rng(3), 40, 0.0, 0.0, seg_threshold=0.15)
    held = hold(video, np.random.default_rng(4), 20, 0.15)
    cx = np.array([c.cx for c in held.cams])
    assert np.abs(cx[:20] - cx[0]).max() < 0.02 and np.abs(cx[20:] - cx[20]).max() < 0.02
    assert len(np.unique(held.groups[:20])) == 1
    assert len(np.unique(held.groups)) < len(np.unique(video.groups))
    assert held.quality == video.quality


def test_group_threshold_and_disruption_mix():
    from delbench.data.synth.camera import make_video, schedule

    loose = make_video(np.random.default_rng(5), 40, 0.0, 0.3, seg_threshold=0.5)
    tight = make_video(np.random.default_rng(5), 40, 0.0, 0.3, seg_threshold=0.1)
    assert len(np.unique(tight.groups)) > len(np.unique(loose.groups))
    only = schedule(np.random.default_rng(6), 400, 0.5, mix={"blank": 1.0})
    assert set(only) <= {"clean", "blank", "pattern"} and only.count("blank") > 50


def test_a_disruption_inside_a_still_view_does_not_split_its_group(tmp_path: Path) -> None:
    # every video holds one camera position throughout, so it is one segment: its clean frames,
    # before and after any burst, are copies of one view
    still = dataclasses.replace(SCALES["ci"], name="still", videos_per_center=1, frames_per_video=16, task_images=4,
                                disruptive_rate=0.4, hold_rate=1.0, hold_frames=16)
    pool = pool_rows(read_manifest(generate(tmp_path / "still", scale=still, seed=0))).sort_values(["video", "frame"])
    inside = 0
    for _, frames in pool.groupby("video"):
        clean = (frames["gt_quality"] == "clean").to_numpy()
        group = frames["gt_group"].to_numpy()
        if not clean.any():
            continue
        assert len(set(group[clean])) == 1, "one still view, one group of clean frames"
        assert not set(group[clean]) & set(group[~clean]), "a group never mixes clean frames and junk"
        first, last = np.flatnonzero(clean)[[0, -1]]
        inside += int((~clean[first:last]).any())
    assert inside >= 3, "the fixture must put disruptions between clean frames of one view"


def test_frame_groups_follow_segment_and_quality() -> None:
    from delbench.data.synth.camera import frame_groups

    segment = np.array([0, 0, 0, 0, 1, 1, 1])
    quality = ["clean", "blur", "clean", "blur", "clean", "dark", "clean"]
    assert frame_groups(segment, quality).tolist() == [0, 1, 0, 1, 2, 3, 2]
