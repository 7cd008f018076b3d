"""Kvasir-SEG and CVC-ClinicDB adapters on the real samples, and the best selection pipeline on the
unlabeled mucosa crops with planted ground truth (skipped when the samples are absent).

The samples are read in place and imported into a temporary folder; nothing is copied into the
repository.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from delbench.data.importer import import_dataset
from delbench.data.manifest import read_manifest
from delbench.data.verify import verify


def sample_root() -> Path:
    env = os.environ.get("DELBENCH_REAL_SAMPLE")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared/data/real-sample"


@pytest.mark.parametrize(
    ("fmt", "folder", "images", "mode"),
    [("kvasir-seg", "Kvasir-SEG", "images", "link"), ("cvc-clinicdb", "CVC-ClinicDB", "PNG/Original", "copy")],
)
def test_real_sample_imports_and_verifies(fmt: str, folder: str, images: str, mode: str, tmp_path: Path) -> None:
    src = sample_root() / folder
    if not (src / images).is_dir():
        pytest.skip(f"real sample {src} not present (set DELBENCH_REAL_SAMPLE)")
    expected = len([p for p in (src / images).iterdir() if p.suffix.lower() in {".jpg", ".png"}])
    result = import_dataset(fmt, src, tmp_path / "root", mode=mode)
    assert result.rows == expected and not result.skipped
    frame = read_manifest(tmp_path / "root")
    assert set(frame["task"]) == {fmt} and set(frame["role"]) == {"task"}
    counts = frame["split"].value_counts()
    assert counts["train"] > counts["test"] > counts["val"] > 0
    for row in frame.head(10).itertuples():
        values = np.asarray(Image.open(tmp_path / "root" / row.mask_path))
        assert values.shape == (row.height, row.width) and set(np.unique(values)) <= {0, 255}
        assert 0 < (values == 255).mean() < 1
    assert verify(tmp_path / "root") == []


def test_planted_real_pool_best_pipeline(tmp_path: Path) -> None:
    """On the mucosa crops with planted copies and junk, ``quality>agglomerative`` on perceptual hashes
    keeps the distinct images, one of each copy group, and little junk (0.94 / 0.899 / 0.96 when
    recorded, at the ideal ratio, seed 0)."""
    from click.testing import CliRunner

    from delbench.cli import cli
    from delbench.data.manifest import pool_rows
    from delbench.data.plant import plant
    from delbench.select.truth import ideal_ratio, subset_truth

    src = sample_root() / "unlabeled-mucosa"
    if not src.is_dir():
        pytest.skip(f"real sample {src} not present (set DELBENCH_REAL_SAMPLE)")
    import_dataset("folder", src, tmp_path / "real", mode="copy", source="unlabeled-mucosa")
    root = plant(tmp_path / "real", tmp_path / "planted", seed=0)
    ratio = ideal_ratio(pool_rows(read_manifest(root)))
    runner = CliRunner()
    emb = tmp_path / "phash.npy"
    res = runner.invoke(cli, ["embed", str(root), "--protocol", "smoke", "--set", "embed.embedder=phash",
                              "--cache", str(tmp_path / "cache"), "--out", str(emb)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "subset.npy"
    res = runner.invoke(cli, ["select", "quality>agglomerative", "--embeddings", str(emb), "--ratio", repr(ratio),
                              "--pool", str(root / "manifest.parquet"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    score = subset_truth(out, root)
    assert score["originals_kept"] >= 0.9 and score["groups_resolved"] >= 0.88 and score["junk_removed"] >= 0.9, score
