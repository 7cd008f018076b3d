"""Kvasir-SEG and CVC-ClinicDB adapters on the real samples (skipped when the samples are absent).

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
