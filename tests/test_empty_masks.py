"""Test images without a polyp: scored apart, so predicting nothing earns no mIoU, and their share is
reported per task by import, verify and the results table."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner
from PIL import Image

from delbench.cli import cli
from delbench.data.importer import import_dataset
from delbench.data.manifest import read_manifest
from delbench.metrics import normdel
from delbench.evaluate.measure import metrics


def masks(n_polyp: int, n_empty: int, size: int = 8) -> np.ndarray:
    out = np.zeros((n_polyp + n_empty, size, size), dtype=np.uint8)
    out[:n_polyp, 2:6, 2:6] = 1
    return out


def test_predicting_nothing_scores_zero_on_polyp_frames() -> None:
    truth = masks(7, 3)  # 30% empty, as PolypGen's test frames are in part
    nothing = torch.zeros((10, 1, 8, 8), dtype=torch.long)
    got = metrics(nothing, truth)
    assert got["miou"] == 0.0 and abs(got["miou_all"] - 0.3) < 1e-6 and abs(got["empty_share"] - 0.3) < 1e-6
    # a model that finds every polyp but leaves one stray pixel on each empty frame
    found = torch.from_numpy(truth.astype(np.int64))[:, None].clone()
    found[7:, 0, 0, 0] = 1
    good = metrics(found, truth)
    assert good["miou"] == 1.0 and abs(good["miou_all"] - 0.7) < 1e-6
    # on all frames, predicting nothing would rank above finding every polyp at half the pool
    assert normdel(0.3, 0.0) < normdel(0.7, 0.5)
    assert normdel(got["miou"], 0.0) < normdel(good["miou"], 0.5)


def test_without_any_polyp_frame_all_frames_are_scored() -> None:
    got = metrics(torch.zeros((4, 1, 8, 8), dtype=torch.long), masks(0, 4))
    assert got["miou"] == got["miou_all"] == 1.0 and got["empty_share"] == 1.0


def test_import_and_verify_report_the_empty_mask_share(tmp_path: Path) -> None:
    src = tmp_path / "polyps"
    (src / "images").mkdir(parents=True)
    (src / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(src / "images" / f"{i}.png")
        m = np.zeros((16, 16), dtype=np.uint8)
        if i % 4:  # every fourth frame has no polyp
            m[4:10, 4:10] = 255
        Image.fromarray(m).save(src / "masks" / f"{i}.png")
    result = import_dataset("folder", src, tmp_path / "root", role="task")
    empty, n = result.empty["polyps"]
    ids = [f"{i}" for i in range(40) if i % 4 == 0]
    frame = read_manifest(tmp_path / "root")
    test = frame[frame["split"] == "test"]
    assert n == len(test) and empty == int(test["id"].str.rsplit("/", n=1).str[-1].isin(ids).sum()) > 0
    res = CliRunner().invoke(cli, ["data", "verify", str(tmp_path / "root")])
    assert res.exit_code == 0 and f"task polyps: {empty} of {n} test masks empty" in res.output
