from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from delbench.cli import cli
from delbench.testing import make_embeddings


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_select_writes_sorted_int64_subset_and_sidecar(tmp_path) -> None:
    emb = tmp_path / "emb.npy"
    np.save(emb, make_embeddings(n=300, d=16))
    out = tmp_path / "subset.npy"
    res = run("select", "meddel", "--embeddings", str(emb), "--ratio", "0.2", "--seed", "1",
              "--param", "k=6", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "kept 60 of 300" in res.output
    idx = np.load(out, allow_pickle=False)
    assert idx.dtype == np.int64 and idx.size == 60 and np.all(np.diff(idx) > 0)
    side = json.loads((tmp_path / "subset.json").read_text())
    assert side["selector"] == "meddel" and side["kept"] == 60 and side["ratio_achieved"] == pytest.approx(0.2)
    assert side["params"]["k"] == 6 and side["info"]["k"] == 6
    assert side["removed_by_reason"]["duplicate"] + side["removed_by_reason"]["outlier"] == 240


@pytest.mark.parametrize("name", ["random", "dedup-only", "coreset"])
def test_select_other_builtins(tmp_path, name: str) -> None:
    emb = tmp_path / "emb.npy"
    np.save(emb, make_embeddings(n=200, d=8))
    res = run("select", name, "--embeddings", str(emb), "--ratio", "0.1", "--out", str(tmp_path / "s.npy"))
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "s.npy").size == 20


def _bad_files():
    good = np.asarray(make_embeddings(n=10, d=4))
    nan = good.copy()
    nan[3, 1] = np.nan
    zero = good.copy()
    zero[7] = 0.0
    inf = good.copy()
    inf[5, 0] = np.inf
    return [
        ("one_d", good[:, 0], "2-D"),
        ("nan_row", nan, "row 3"),
        ("inf_row", inf, "row 5"),
        ("zero_row", zero, "row 7"),
        ("no_rows", np.zeros((0, 4), dtype=np.float32), "no vectors"),
        ("ints", np.ones((5, 4), dtype=np.int64), "floating point"),
    ]


@pytest.mark.parametrize("label,array,needle", _bad_files(), ids=[b[0] for b in _bad_files()])
def test_bad_embeddings_give_one_line_error(tmp_path, label: str, array: np.ndarray, needle: str) -> None:
    emb = tmp_path / f"{label}.npy"
    np.save(emb, array)
    res = run("select", "random", "--embeddings", str(emb), "--ratio", "0.5", "--out", str(tmp_path / "s.npy"))
    assert res.exit_code != 0
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), res.output
    assert needle in lines[0] and str(emb) in lines[0]
    assert "Traceback" not in res.output
    assert not (tmp_path / "s.npy").exists()


def test_missing_file_and_bad_ratio(tmp_path) -> None:
    res = run("select", "random", "--embeddings", str(tmp_path / "nope.npy"), "--ratio", "0.5", "--out", str(tmp_path / "s.npy"))
    assert res.exit_code != 0 and "not found" in res.output
    emb = tmp_path / "e.npy"
    np.save(emb, make_embeddings(n=10, d=4))
    res = run("select", "random", "--embeddings", str(emb), "--ratio", "1.5", "--out", str(tmp_path / "s.npy"))
    assert res.exit_code != 0 and "ratio" in res.output


def test_unknown_selector_and_param(tmp_path) -> None:
    emb = tmp_path / "e.npy"
    np.save(emb, make_embeddings(n=10, d=4))
    res = run("select", "medel", "--embeddings", str(emb), "--ratio", "0.5", "--out", str(tmp_path / "s.npy"))
    assert res.exit_code != 0 and "did you mean 'meddel'" in res.output
    res = run("select", "coreset", "--embeddings", str(emb), "--ratio", "0.5", "--param", "bogus=1", "--out", str(tmp_path / "s.npy"))
    assert res.exit_code != 0 and "bogus" in res.output
