"""Scoring a subset against planted ground truth: originals kept, duplicate groups resolved, junk removed."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from delbench.cli import cli
from delbench.data.manifest import manifest_path, pool_rows, read_manifest
from delbench.errors import DelbenchError
from delbench.select.truth import ideal_ratio, truth_scores
from delbench.testing import make_embeddings
from tests.test_pretrain_util import make_root

# groups a (3 copies), b (alone), c (2 copies); two junk frames
POOL = pd.DataFrame({
    "gt_group": ["a", "a", "a", "b", "c", "c", "j1", "j2"],
    "gt_quality": ["clean"] * 6 + ["dark", "blur"],
})


def test_the_ideal_subset_scores_one_everywhere():
    s = truth_scores(POOL, [0, 3, 5])
    assert (s["originals_kept"], s["groups_resolved"], s["junk_removed"]) == (1.0, 1.0, 1.0)
    assert s["ideal_ratio"] == ideal_ratio(POOL) == 3 / 8


def test_each_failure_is_seen():
    s = truth_scores(POOL, [0, 1, 6])  # two of group a, none of b or c, and the dark frame
    assert s["originals_kept"] == pytest.approx(1 / 3)
    assert s["groups_resolved"] == 0.0  # a has two members kept, c none
    assert s["junk_removed"] == 0.5
    assert s["junk_removed_by_type"] == {"blur": 1.0, "dark": 0.0}


def test_a_pool_without_ground_truth_is_one_line():
    with pytest.raises(DelbenchError, match="no gt_group column.*delbench data plant"):
        truth_scores(POOL.drop(columns="gt_group"), [0])


def test_cli_scores_the_oracle_at_the_ideal_ratio_as_ideal(tmp_path: Path):
    src = make_root(tmp_path / "src", n_pool=60, tasks=("alpha",))
    planted = tmp_path / "planted"
    res = CliRunner().invoke(cli, ["data", "plant", str(src), "--out", str(planted), "--workers", "1"])
    assert res.exit_code == 0, res.output
    pool = pool_rows(read_manifest(planted))
    ratio = ideal_ratio(pool)
    emb = tmp_path / "emb.npy"
    np.save(emb, make_embeddings(n=len(pool), d=8))
    outs = {}
    for name in ("oracle", "random"):
        outs[name] = tmp_path / name / f"r{ratio:g}.npy"
        res = CliRunner().invoke(cli, ["select", name, "--embeddings", str(emb), "--ratio", repr(ratio),
                                       "--pool", str(manifest_path(planted)), "--out", str(outs[name])])
        assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["subset", "score", str(outs["oracle"]), str(outs["random"]), "--root", str(planted),
                                   "--format", "json"])
    assert res.exit_code == 0, res.output
    oracle, rand = json.loads(res.output)
    assert (oracle["originals_kept"], oracle["groups_resolved"], oracle["junk_removed"]) == (1.0, 1.0, 1.0)
    assert rand["junk_removed"] < 1.0 or rand["groups_resolved"] < 1.0
    res = CliRunner().invoke(cli, ["subset", "score", str(outs["oracle"]), "--root", str(src)])
    assert res.exit_code != 0 and "pass the --root the subset was selected from" in res.output
