"""``data plant``: planted roles and ground truth, copies near their originals, tasks untouched,
verify passes, determinism, refusals, and the reference selectors reading the planted pool."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from delbench.cli import cli
from delbench.data.importer import import_dataset
from delbench.data.manifest import COLUMNS, manifest_sha256, pool_rows, read_manifest, task_rows
from delbench.data.plant import INFO_NAME, Sizes, check_fractions, plant, sizes
from delbench.data.plant_effects import DISRUPTIONS, near_copy
from delbench.data.synth import SCALES, generate
from delbench.data.synth.disrupt import color_bars
from delbench.data.verify import verify
from delbench.errors import DelbenchError
from delbench.selection import SelectionRequest

sys.path.insert(0, str(Path(__file__).parent / "data"))
from make_fake_trees import pairs  # noqa: E402

QUALITIES = {"clean", *DISRUPTIONS}
TINY = dataclasses.replace(SCALES["ci"], name="plant-tiny", videos_per_center=1, frames_per_video=16, task_images=4)


def tree_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def pixels(root: Path, rel: str) -> np.ndarray:
    return np.asarray(Image.open(root / rel).convert("RGB")).astype(np.float32)


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("plant") / "src", scale=TINY, seed=0)


@pytest.fixture(scope="module")
def src_hashes(src: Path) -> dict[str, str]:
    return tree_hashes(src)


@pytest.fixture(scope="module")
def dst(src: Path, src_hashes: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plant(src, tmp_path_factory.mktemp("plant") / "dst", disrupt=0.3, duplicates=0.3, seed=0)


@pytest.fixture(scope="module")
def out(dst: Path) -> pd.DataFrame:
    return read_manifest(dst)


@pytest.fixture(scope="module")
def pool(out: pd.DataFrame) -> pd.DataFrame:
    return pool_rows(out)


def usable(src: Path) -> int:
    p = pool_rows(read_manifest(src))
    return int((p["gt_quality"] == "clean").sum())


def test_sizing_rule() -> None:
    assert sizes(100, 0.3, 0.3) == Sizes(pool=100, originals=40, copies=30, disruptive=30)
    assert sizes(7, 0.0, 0.0) == Sizes(pool=7, originals=7, copies=0, disruptive=0)
    assert sizes(10, 0.25, 0.15) == Sizes(pool=10, originals=5, copies=2, disruptive=3)  # halves round up
    for bad in [(-0.1, 0.2), (0.2, -0.01), (0.5, 0.5), (0.9, 0.3), (float("nan"), 0.1)]:
        with pytest.raises(DelbenchError, match="--disrupt"):
            check_fractions(*bad)


def test_roles_match_fractions(src: Path, pool: pd.DataFrame, dst: Path) -> None:
    n = usable(src)  # a synthetic source gives only its clean frames
    want = sizes(n, 0.3, 0.3)
    copies = pool["gt_copy_of"].notna()
    disruptive = pool["gt_quality"] != "clean"
    assert len(pool) == n
    assert int(copies.sum()) == want.copies > 0
    assert int(disruptive.sum()) == want.disruptive > 0
    assert int((~copies & ~disruptive).sum()) == want.originals > 0
    info = json.loads((dst / INFO_NAME).read_text())
    assert info["source_manifest_sha256"] == manifest_sha256(src)
    assert (info["disrupt"], info["duplicates"], info["seed"]) == (0.3, 0.3, 0)
    assert info["quality_counts"] == pool["gt_quality"].value_counts().to_dict()
    assert (info["originals"], info["copies"], info["disruptive"]) == (want.originals, want.copies, want.disruptive)


def test_ground_truth_columns(src: Path, out: pd.DataFrame, pool: pd.DataFrame) -> None:
    synth = read_manifest(src)
    for col in ("gt_quality", "gt_group", "gt_polyp"):
        assert out[col].dtype == synth[col].dtype, col  # selectors see the same columns either way
    assert out["gt_copy_of"].dtype == "string"
    assert pool[["gt_quality", "gt_group", "gt_source_id"]].notna().all().all()
    assert set(pool["gt_quality"]) <= QUALITIES
    assert pool["id"].is_unique and (pool["path"] == pool["id"] + ".png").all()
    assert list(pool["id"]) == sorted(pool["id"])
    # disruptive frames and originals come from distinct source frames, copies from their original's
    made_from = pool.loc[pool["gt_copy_of"].isna(), "gt_source_id"]
    assert made_from.is_unique
    assert set(pool["gt_source_id"]) <= set(pool_rows(synth).query("gt_quality == 'clean'")["id"])
    # screens carry no anatomy
    assert not pool.loc[pool["gt_quality"].isin(["blank", "pattern"]), "gt_polyp"].any()


def test_groups(pool: pd.DataFrame) -> None:
    by_id = pool.set_index("id")
    copies = pool[pool["gt_copy_of"].notna()]
    for row in copies.itertuples():
        orig = by_id.loc[row.gt_copy_of]
        assert orig["gt_quality"] == "clean" and pd.isna(orig["gt_copy_of"])
        assert orig["gt_group"] == row.gt_group
        assert orig["gt_source_id"] == row.gt_source_id
    # one group per original (with its copies), one per disruptive frame, and nothing else
    originals = pool[(pool["gt_quality"] == "clean") & pool["gt_copy_of"].isna()]
    disruptive = pool[pool["gt_quality"] != "clean"]
    assert originals["gt_group"].is_unique and disruptive["gt_group"].is_unique
    assert not set(originals["gt_group"]) & set(disruptive["gt_group"])
    assert pool["gt_group"].nunique() == len(originals) + len(disruptive)


def test_copies_are_near_not_identical(dst: Path, pool: pd.DataFrame) -> None:
    originals = pool[(pool["gt_quality"] == "clean") & pool["gt_copy_of"].isna()]
    small = {r.id: np.asarray(Image.open(dst / r.path).convert("RGB").resize((16, 16), Image.Resampling.BOX), np.float32)
             for r in pool.itertuples()}
    orig_ids = list(originals["id"])
    bank = np.stack([small[i] for i in orig_ids])
    videos = originals["video"]
    for row in pool[pool["gt_copy_of"].notna()].itertuples():
        a, b = pixels(dst, row.path), pixels(dst, f"{row.gt_copy_of}.png")
        diff = float(np.abs(a - b).mean())
        assert 0 < diff < 40, (row.id, diff)
        # frames of one video look alike, so the copy only has to be nearer its original than any
        # original of another video
        dist = np.abs(bank - small[row.id]).mean(axis=(1, 2, 3))
        mine = dist[orig_ids.index(row.gt_copy_of)]
        others = dist[(videos != row.video).to_numpy()]
        assert mine < others.min(), (row.id, mine, others.min())


def test_near_copy_never_exact() -> None:
    rng = np.random.default_rng(0)
    flat = np.zeros((24, 32, 3), np.uint8)
    for _ in range(20):
        copy, used = near_copy(flat, rng)
        assert copy.shape == flat.shape and used and not np.array_equal(copy, flat)


def test_every_disruption_present_and_what_it_says(src: Path, dst: Path, pool: pd.DataFrame) -> None:
    assert set(pool["gt_quality"]) == QUALITIES
    srcs = pool_rows(read_manifest(src)).set_index("id")
    for row in pool[pool["gt_quality"] != "clean"].itertuples():
        img, before = pixels(dst, row.path), pixels(src, srcs.loc[row.gt_source_id, "path"])
        if row.gt_quality == "dark":
            assert img.mean() < 0.3 * before.mean()
        elif row.gt_quality == "bright":
            assert img.mean() > before.mean() + 40
        elif row.gt_quality in ("blur", "defocus"):
            detail = lambda x: np.abs(np.diff(x, axis=0)).mean() + np.abs(np.diff(x, axis=1)).mean()  # noqa: E731
            assert detail(img) < 0.8 * detail(before)
        elif row.gt_quality == "pattern":
            np.testing.assert_array_equal(img, (np.clip(color_bars(row.height, row.width), 0, 1) * 255 + 0.5).astype(np.uint8))
        elif row.gt_quality == "blank":
            # one flat colour, perhaps with a line of text on it
            _, counts = np.unique(img.reshape(-1, 3), axis=0, return_counts=True)
            assert counts.max() > 0.7 * row.width * row.height
        else:
            assert np.abs(img - before).mean() > 1
    for row in pool[(pool["gt_quality"] == "clean") & pool["gt_copy_of"].isna()].itertuples():
        np.testing.assert_array_equal(pixels(dst, row.path), pixels(src, srcs.loc[row.gt_source_id, "path"]))


def test_tasks_copied_byte_for_byte(src: Path, dst: Path, out: pd.DataFrame) -> None:
    before, after = task_rows(read_manifest(src)), task_rows(out)
    assert len(after) == len(before) > 0
    pd.testing.assert_frame_equal(after[list(COLUMNS)], before[list(COLUMNS)])
    for rel in list(before["path"]) + list(before["mask_path"]):
        assert (dst / rel).read_bytes() == (src / rel).read_bytes()


def test_verify_passes(dst: Path) -> None:
    assert verify(dst) == []
    res = CliRunner().invoke(cli, ["data", "verify", str(dst)])
    assert res.exit_code == 0 and res.output.startswith("OK"), res.output


def test_deterministic_and_source_untouched(src: Path, src_hashes: dict[str, str], dst: Path, tmp_path: Path) -> None:
    again = plant(src, tmp_path / "again", disrupt=0.3, duplicates=0.3, seed=0, workers=1)
    assert tree_hashes(again) == tree_hashes(dst)
    other = plant(src, tmp_path / "other", disrupt=0.3, duplicates=0.3, seed=1)
    assert manifest_sha256(other) != manifest_sha256(dst)
    a, b = pool_rows(read_manifest(dst)), pool_rows(read_manifest(other))
    assert list(a["gt_source_id"]) != list(b["gt_source_id"])
    assert tree_hashes(src) == src_hashes


def test_cli_plants_and_reports(src: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["data", "plant", str(src), "--out", str(tmp_path / "o"), "--disrupt", "0.2",
                                   "--duplicates", "0.1", "--seed", "3"])
    assert res.exit_code == 0, res.output
    want = sizes(usable(src), 0.2, 0.1)
    assert f"{want.copies} near-duplicate copies" in res.output and f"{want.originals} clean originals" in res.output
    assert verify(tmp_path / "o") == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--disrupt", "0.6", "--duplicates", "0.4"], "--disrupt 0.6 and --duplicates 0.4"),
        (["--disrupt", "-0.1"], "--disrupt -0.1"),
        (["--duplicates", "1.5", "--disrupt", "0"], "--duplicates 1.5"),
    ],
)
def test_cli_refuses_bad_fractions(src: Path, tmp_path: Path, args: list[str], message: str) -> None:
    res = CliRunner().invoke(cli, ["data", "plant", str(src), "--out", str(tmp_path / "o"), *args])
    assert res.exit_code != 0
    assert res.output.strip().count("\n") == 0 and message in res.output, res.output
    assert not (tmp_path / "o").exists()


def test_cli_refuses_non_empty_out(src: Path, tmp_path: Path) -> None:
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "keep.txt").write_text("mine")
    res = CliRunner().invoke(cli, ["data", "plant", str(src), "--out", str(tmp_path / "o")])
    assert res.exit_code != 0
    assert res.output.strip().count("\n") == 0 and "not empty" in res.output, res.output
    assert (tmp_path / "o" / "keep.txt").read_text() == "mine"


def test_refuses_out_inside_src_and_pool_without_originals(src: Path, tmp_path: Path) -> None:
    with pytest.raises(DelbenchError, match="inside the source"):
        plant(src, src / "planted")
    assert not (src / "planted").exists()
    with pytest.raises(DelbenchError, match="no clean original"):
        plant(src, tmp_path / "o", disrupt=0.5, duplicates=0.4999)


def test_reference_selectors_read_the_planted_pool(pool: pd.DataFrame) -> None:
    try:
        from delbench_reference import AdversarySelector, OracleSelector
    except ImportError:  # an install that predates the package; the source tree has it
        sys.path.insert(0, str(Path(__file__).parents[1] / "plugins"))
        from delbench_reference import AdversarySelector, OracleSelector

    emb = np.random.default_rng(0).standard_normal((len(pool), 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    groups = int(pool.loc[pool["gt_quality"] == "clean", "gt_group"].nunique())
    ratio = (groups - 1) / len(pool)
    kept = pool.iloc[OracleSelector().select(SelectionRequest(ratio=ratio, seed=0, embeddings=emb, pool=pool)).indices]
    assert len(kept) > 0 and (kept["gt_quality"] == "clean").all() and kept["gt_group"].is_unique
    n_bad = int((pool["gt_quality"] != "clean").sum())
    request = SelectionRequest(ratio=n_bad / len(pool), seed=0, embeddings=emb, pool=pool)
    worst = pool.iloc[AdversarySelector().select(request).indices]
    assert len(worst) == n_bad and (worst["gt_quality"] != "clean").all()


@pytest.fixture
def real_root(tmp_path: Path) -> Path:
    """An imported root as real data gives it: JPEG pool frames of several sizes and modes, no ground
    truth, and a task merged in."""
    rng = np.random.default_rng(0)
    for i in range(24):
        w, h = (48, 40) if i % 3 else (36, 52)
        arr = (rng.random((h, w, 3)) * 60 + np.linspace(40, 200, w)[None, :, None]).astype(np.uint8)
        im = Image.fromarray(arr)
        folder = tmp_path / "my-pool" / ("hospA" if i % 2 else "hospB")
        folder.mkdir(parents=True, exist_ok=True)
        (im.convert("L") if i == 5 else im).save(folder / f"f{i:02d}.jpg", quality=90)
    import_dataset("folder", tmp_path / "my-pool", tmp_path / "root", center_from_dir=True)
    pairs(tmp_path / "kvasir-seg" / "images", tmp_path / "kvasir-seg" / "masks", [f"cju{i}" for i in range(4)], ".jpg")
    import_dataset("kvasir-seg", tmp_path / "kvasir-seg", tmp_path / "root", merge=True)
    return tmp_path / "root"


def test_real_root(real_root: Path, tmp_path: Path) -> None:
    before = tree_hashes(real_root)
    dst = plant(real_root, tmp_path / "dst", disrupt=0.4, duplicates=0.2, seed=5)
    assert verify(dst) == []
    src_pool = pool_rows(read_manifest(real_root)).set_index("id")
    out = read_manifest(dst)
    pool = pool_rows(out)
    assert len(pool) == 24 and "gt_polyp" not in out.columns
    assert int(pool["gt_copy_of"].notna().sum()) == 5 and int((pool["gt_quality"] != "clean").sum()) == 10
    made = src_pool.loc[list(pool["gt_source_id"])]
    assert list(pool["width"]) == list(made["width"]) and list(pool["height"]) == list(made["height"])
    assert list(pool["center"]) == list(made["center"])
    assert len(task_rows(out)) == 4
    assert tree_hashes(real_root) == before


def test_refuses_files_outside_src_and_changed_files(real_root: Path, tmp_path: Path) -> None:
    import_dataset("folder", tmp_path / "my-pool", tmp_path / "linked", mode="link")
    with pytest.raises(DelbenchError, match="outside the source root"):
        plant(tmp_path / "linked", tmp_path / "a")
    frame = read_manifest(real_root)
    target = real_root / pool_rows(frame)["path"].iloc[0]
    target.write_bytes(target.read_bytes() + b"\0")
    with pytest.raises(DelbenchError, match="sha256 differs") as err:
        plant(real_root, tmp_path / "b", duplicates=0.0, disrupt=0.0)
    assert str(target) in str(err.value)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_refuses_empty_pool(tmp_path: Path) -> None:
    pairs(tmp_path / "kvasir-seg" / "images", tmp_path / "kvasir-seg" / "masks", ["a", "b"], ".jpg")
    import_dataset("kvasir-seg", tmp_path / "kvasir-seg", tmp_path / "root")
    res = CliRunner().invoke(cli, ["data", "plant", str(tmp_path / "root"), "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "no pool rows" in res.output and res.output.strip().count("\n") == 0, res.output
