"""Splits follow the groups a release publishes: CVC-ClinicDB sequences never straddle splits, a
planted straddle is caught by verify, and published splits (the flat PolypGen repackaging) are kept."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from delbench.data.adapters.cvc_clinicdb import SEQUENCE_ENDS, sequence_of
from delbench.data.importer import import_dataset
from delbench.data.manifest import read_manifest, write_manifest
from delbench.data.splits import assign_splits
from delbench.data.verify import verify
from delbench.errors import DelbenchError

sys.path.insert(0, str(Path(__file__).parent / "data"))
from make_fake_trees import FLAT_POLYPGEN, build, pairs  # noqa: E402


def test_sequence_table_covers_the_release_once() -> None:
    assert len(SEQUENCE_ENDS) == 29 and list(SEQUENCE_ENDS) == sorted(set(SEQUENCE_ENDS))
    seqs = [sequence_of(f) for f in range(1, 613)]
    assert len(set(seqs)) == 29 and None not in seqs
    assert (sequence_of(25), sequence_of(26), sequence_of(612)) == ("seq01", "seq02", "seq29")
    assert sequence_of(0) is None and sequence_of(613) is None


@pytest.fixture
def clinicdb(tmp_path: Path) -> Path:
    """The first five sequences in full (frames 1-103): frame-by-frame hashing would scatter each."""
    src = tmp_path / "CVC-ClinicDB" / "PNG"
    pairs(src / "Original", src / "Ground Truth", [str(i) for i in range(1, 104)], ".png")
    import_dataset("cvc-clinicdb", tmp_path / "CVC-ClinicDB", tmp_path / "root")
    return tmp_path / "root"


def test_every_clinicdb_sequence_lies_in_one_split(clinicdb: Path) -> None:
    frame = read_manifest(clinicdb)
    assert frame["video"].nunique() == 5 and frame["video"].notna().all()
    assert (frame.groupby("video")["split"].nunique() == 1).all()
    assert frame["split"].nunique() >= 2  # grouped, not all dumped in one split
    first = frame[frame["id"] == "cvc-clinicdb/PNG/Original/26"].iloc[0]
    assert (first["video"], first["frame"]) == ("seq02", 26)


def test_verify_names_a_sequence_planted_across_splits(clinicdb: Path) -> None:
    frame = read_manifest(clinicdb)
    video = frame["video"].iloc[0]
    split = frame.loc[frame["video"] == video, "split"].iloc[0]
    other = "test" if split != "test" else "train"
    frame.loc[frame.index[(frame["video"] == video)][:1], "split"] = other
    write_manifest(clinicdb, frame)
    problems = [p for p in verify(clinicdb) if p.kind == "split-leak"]
    assert len(problems) == 1 and repr(video) in problems[0].message
    assert split in problems[0].message and other in problems[0].message


def test_unnumbered_clinicdb_frames_are_named(tmp_path: Path) -> None:
    src = tmp_path / "CVC-ClinicDB" / "PNG"
    pairs(src / "Original", src / "Ground Truth", ["1", "2", "frame-x", "700"], ".png")
    result = import_dataset("cvc-clinicdb", tmp_path / "CVC-ClinicDB", tmp_path / "root")
    assert any("2 cvc-clinicdb frame(s)" in n and "sequence is unknown" in n for n in result.notes)
    frame = read_manifest(tmp_path / "root").set_index("id")
    assert frame.loc["cvc-clinicdb/PNG/Original/1", "video"] == "seq01"
    assert frame["video"].isna().sum() == 2


def test_flat_polypgen_keeps_its_published_splits(tmp_path: Path) -> None:
    trees = build(tmp_path / "trees")
    result = import_dataset("polypgen", trees / "polypgen-flat", tmp_path / "root")
    frame = read_manifest(tmp_path / "root")
    got = frame.assign(folder=frame["path"].str.split("/").str[2]).groupby(["folder", "split"]).size().to_dict()
    assert got == {("train", "train"): FLAT_POLYPGEN["train"], ("valid", "val"): FLAT_POLYPGEN["valid"],
                   ("test", "test"): FLAT_POLYPGEN["test"]}
    assert result.tasks == {"polypgen": {"train": 4, "val": 1, "test": 2}}
    with pytest.raises(DelbenchError, match="heldout_center needs the release layout"):
        import_dataset("polypgen", trees / "polypgen-flat", tmp_path / "other", heldout_center="C6")


def test_a_folder_that_is_no_polypgen_layout_names_both(tmp_path: Path) -> None:
    (tmp_path / "x" / "images").mkdir(parents=True)
    with pytest.raises(DelbenchError, match=r"data_C1 .. data_C6.*train/ and test/"):
        import_dataset("polypgen", tmp_path / "x", tmp_path / "root")


def test_a_published_val_split_keeps_train_whole() -> None:
    ids = [f"x/{i}" for i in range(40)]
    fixed = ["train"] * 30 + ["val"] * 4 + ["test"] * 6
    assert assign_splits(ids, ["t"] * 40, fixed=fixed) == fixed
    without_val = ["train"] * 34 + ["test"] * 6
    out = assign_splits(ids, ["t"] * 40, fixed=without_val)
    assert "val" in out[:34] and out[34:] == ["test"] * 6
