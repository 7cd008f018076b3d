"""Subset files carry the pool's ids, and `delbench subset show` lists kept and removed files with reasons."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from delbench.cli import cli
from delbench.data.manifest import manifest_path, pool_rows, read_manifest
from delbench.testing import make_embeddings
from tests.test_pretrain_util import make_root


def run(*args: Any) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def selected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("show")
    root = make_root(tmp / "root", n_pool=40, tasks=("alpha",))
    emb = tmp / "emb.npy"
    np.save(emb, make_embeddings(n=40, d=8))
    out = tmp / "sub" / "r0.5.npy"
    res = run("select", "meddel", "--embeddings", emb, "--ratio", "0.5", "--pool", manifest_path(root), "--out", out)
    assert res.exit_code == 0, res.output
    return root, out


def test_subset_carries_pool_ids(selected: tuple[Path, Path]) -> None:
    root, out = selected
    ids = pd.read_parquet(out.with_name("r0.5.ids.parquet"))
    pool = pool_rows(read_manifest(root))
    assert ids["id"].tolist() == pool["id"].astype(str).tolist()
    assert np.array_equal(np.flatnonzero(ids["kept"].to_numpy()), np.load(out))


def test_show_lists_kept_and_removed_with_reasons(selected: tuple[Path, Path]) -> None:
    root, out = selected
    res = run("subset", "show", out, "--root", root, "--format", "json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert len(rows) == 40 and sum(r["status"] == "kept" for r in rows) == 20
    reasons = pd.read_parquet(out.with_name("r0.5.reasons.parquet"))
    by_index = {r["index"]: r for r in rows}
    for index, reason in zip(reasons["index"], reasons["reason"]):
        assert by_index[int(index)]["status"] == "removed" and by_index[int(index)]["reason"] == reason
    assert all(r["reason"] == "" for r in rows if r["status"] == "kept")
    assert {r["path"] for r in rows} == set(pool_rows(read_manifest(root))["path"])
    csv = run("subset", "show", out, "--root", root, "--format", "csv", "--only", "removed")
    assert csv.exit_code == 0 and csv.stdout.splitlines()[0] == "index,id,path,status,reason"
    assert len(csv.stdout.strip().splitlines()) == 21
    table = run("subset", "show", out, "--root", root)
    assert table.exit_code == 0 and "20 kept, 20 removed" in table.stdout


def test_show_matches_items_by_id_in_a_reordered_manifest(selected: tuple[Path, Path], tmp_path: Path) -> None:
    from delbench.data.manifest import write_manifest

    root, out = selected
    moved = tmp_path / "root"
    shutil.copytree(root, moved)
    frame = read_manifest(moved)
    write_manifest(moved, frame.iloc[::-1].reset_index(drop=True))
    rows = json.loads(run("subset", "show", out, "--root", moved, "--format", "json").stdout)
    original = json.loads(run("subset", "show", out, "--root", root, "--format", "json").stdout)
    assert rows == original


def test_old_subset_without_ids_stays_readable(selected: tuple[Path, Path], tmp_path: Path) -> None:
    root, out = selected
    for f in out.parent.iterdir():
        if not f.name.endswith(".ids.parquet"):
            shutil.copyfile(f, tmp_path / f.name)
    res = run("subset", "show", tmp_path / out.name, "--root", root, "--format", "json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == json.loads(run("subset", "show", out, "--root", root, "--format", "json").stdout)


def test_show_refuses_another_pool(selected: tuple[Path, Path], tmp_path: Path) -> None:
    _, out = selected
    other = make_root(tmp_path / "other", n_pool=12, tasks=("alpha",), seed=3)
    for f in out.parent.iterdir():
        if not f.name.endswith(".ids.parquet"):
            shutil.copyfile(f, tmp_path / f.name)
    for subset in (out, tmp_path / out.name):
        res = run("subset", "show", subset, "--root", other)
        assert res.exit_code != 0 and "--root" in res.output and len(res.output.strip().splitlines()) == 1, res.output
    res = run("subset", "show", tmp_path / "nope.npy", "--root", other)
    assert res.exit_code != 0 and "no such subset" in res.output
