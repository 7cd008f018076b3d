"""`delbench board` on hand-made run directories: merging, refusing runs of another study with one
line, duplicates kept once or reported, the ranking, and outputs written whole or not at all."""
from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from delbench.cli import cli
from delbench.compare.results import COLUMNS, sort_rows, write_frame
from delbench.metrics import normdel
from delbench.report.leaderboard import leaderboard
from tests.test_report import fake_results

PROTOCOL = {"name": "ci", "version": 1, "description": "test", "finetune": {"steps": 120, "lr": 0.005},
            "score": {"alpha": 1.0}}
INFO = {"protocol": PROTOCOL, "protocol_hash": "h-ci", "manifest_sha256": "m" * 64, "data_root": "/data/x",
        "params": {"meddel": {"epsilon": 0.9}, "random": {"stratify": "none"}},
        "machine": {"platform": "Linux", "cpus": 2}, "versions": {"delbench": "0.1.0"}}


def make_run(path: Path, results: pd.DataFrame, **changes) -> Path:
    path.mkdir(parents=True)
    write_frame(results, path / "results.parquet")
    info = copy.deepcopy(INFO)
    info.update(changes)
    (path / "run.json").write_text(json.dumps(info))
    return path


def board(*args) -> object:
    return CliRunner().invoke(cli, ["board", *map(str, args)])


def one_line_error(result) -> str:
    assert result.exit_code != 0, result.output
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    return lines[0]


@pytest.fixture
def split(tmp_path) -> tuple[Path, Path, pd.DataFrame]:
    """One study run in two halves: seeds 0 and 1 on one machine, seed 2 on another."""
    res = fake_results()
    a = make_run(tmp_path / "a", res[res.seed < 2])
    b = make_run(tmp_path / "b", res[res.seed == 2], machine={"platform": "Darwin", "cpus": 8})
    return a, b, res


def test_runs_with_different_seeds_merge(split, tmp_path):
    a, b, whole = split
    out = tmp_path / "board"
    result = board(a, b, "--out", out)
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"leaderboard.md", "leaderboard.csv", "leaderboard.html"}
    got = pd.read_csv(out / "leaderboard.csv")
    want = leaderboard(whole)  # the board of the two halves is the board of the whole study
    pd.testing.assert_frame_equal(got[["selector", "ratio_target", "n_seeds", "win", "tie", "loss"]],
                                  want[["selector", "ratio_target", "n_seeds", "win", "tie", "loss"]], check_dtype=False)
    meddel = got[(got.selector == "meddel") & (got.ratio_target == 0.2)].iloc[0]
    assert (meddel["n_seeds"], meddel["win"], meddel["loss"]) == (3, 3, 0)
    md = (out / "leaderboard.md").read_text()
    assert str(a) in md and str(b) in md and "Darwin" in md
    assert all(len(line) <= 80 for line in result.output.splitlines() if not line.startswith("wrote "))


@pytest.mark.parametrize("change,needles", [
    ({"protocol_hash": "h-other", "protocol": dict(PROTOCOL, finetune={"steps": 60, "lr": 0.005})},
     ["protocol hash h-other", "finetune.steps 60 vs 120", "one protocol"]),
    ({"protocol_hash": "h-other", "protocol": dict(PROTOCOL, version=2, score={"alpha": 2.0})},
     ["version 2 vs 1", "score.alpha 2.0 vs 1.0"]),
    ({"manifest_sha256": "n" * 64}, ["manifest sha256 nnnnnnnnnnnn", "same data"]),
    ({"params": {"meddel": {"epsilon": 0.8}}}, ["'meddel'", "epsilon=0.8", "epsilon=0.9"]),
])
def test_another_study_is_refused_with_one_line(tmp_path, change, needles):
    res = fake_results()
    a = make_run(tmp_path / "a", res)
    b = make_run(tmp_path / "b", res, **change)
    out = tmp_path / "board"
    line = one_line_error(board(a, b, "--out", out))
    assert str(b / "run.json") in line
    for needle in needles:
        assert needle in line, line
    assert not out.exists()


def test_identical_duplicates_are_kept_once(split, tmp_path):
    a, _, _ = split
    copy_a = tmp_path / "a-copy"
    shutil.copytree(a, copy_a)
    # timings describe the machine, not the result: they may differ
    res = pd.read_parquet(copy_a / "results.parquet")
    res["pretrain_seconds"] *= 3
    write_frame(res, copy_a / "results.parquet")
    once = board(a, "--out", tmp_path / "one")
    twice = board(a, copy_a, "--out", tmp_path / "two")
    assert once.exit_code == 0 and twice.exit_code == 0, twice.output
    assert "differ" not in twice.output
    one = pd.read_csv(tmp_path / "one" / "leaderboard.csv")
    two = pd.read_csv(tmp_path / "two" / "leaderboard.csv")
    pd.testing.assert_frame_equal(one, two)
    assert (one["n_seeds"] == 2).all()


def test_differing_duplicates_are_reported(split, tmp_path):
    a, _, _ = split
    other = tmp_path / "a-rerun"
    shutil.copytree(a, other)
    res = pd.read_parquet(other / "results.parquet")
    hit = (res.selector == "meddel") & (res.ratio_target == 0.2) & (res.seed == 1) & (res.task == "polyp-b")
    res.loc[hit, "miou"] += 0.05
    res.loc[hit, "normdel"] = normdel(res.loc[hit, "miou"].to_numpy(), 0.2)
    write_frame(res, other / "results.parquet")
    out = tmp_path / "board"
    result = board(a, other, "--out", out)
    assert result.exit_code == 0, result.output
    assert "1 unit(s) differ between runs" in result.stderr
    md = (out / "leaderboard.md").read_text()
    section = md[md.index("Units whose scores differ"):]
    assert re.search(r"\| meddel \| 0.2 \| 1 \| polyp-b \| .*a \| .*a-rerun \| \+5.000 \|", section), section
    # the first run's row is the one used
    alone = board(a, "--out", tmp_path / "alone")
    assert alone.exit_code == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "leaderboard.csv"), pd.read_csv(tmp_path / "alone" / "leaderboard.csv"))
    assert "conflicts" in (out / "leaderboard.html").read_text()


def test_ranking_by_mean_rank_over_tasks():
    rows = []
    # per task NormDEL order: t1: good > mixed > bad; t2: good > bad > mixed -> mean ranks 1, 2.5, 2.5
    levels = {"good": (0.9, 0.9), "mixed": (0.6, 0.2), "bad": (0.4, 0.3), "random": (0.1, 0.1)}
    for sel, (t1, t2) in levels.items():
        for seed in (0, 1):
            for task, m in (("t1", t1), ("t2", t2)):
                rows.append({"selector": sel, "ratio_target": 0.1, "ratio_achieved": 0.1, "seed": seed, "task": task,
                             "miou": m, "miou_all": m, "miou_dataset": m, "dice": m, "empty_share": 0.0, "del": m,
                             "normdel": float(normdel(m, 0.1)),
                             "pretrain_steps": 5, "pretrain_seconds": 1.0, "select_seconds": 0.5, "kept_bytes": 1000})
    b = leaderboard(sort_rows(pd.DataFrame(rows)[COLUMNS])).set_index("selector")
    assert b.loc["good", "rank"] == 1 and b.loc["good", "mean_rank"] == 1.0
    assert b.loc["mixed", "mean_rank"] == b.loc["bad", "mean_rank"] == 2.5
    # equal mean rank: the higher task-mean NormDEL goes first
    assert (b.loc["mixed", "rank"], b.loc["bad", "rank"]) == (2, 3)
    assert b.loc["random", "rank"] == 4
    assert np.isnan(b.loc["random", "win"]) and b.loc["good", "win"] == 2


@pytest.mark.parametrize("damage,needle", [
    (lambda run: (run / "results.parquet").unlink(), "results.parquet not found"),
    (lambda run: (run / "run.json").write_text("{not json"), "run.json: not readable JSON"),
    (lambda run: (run / "run.json").write_text("{}"), "run.json: no 'protocol' field"),
    (lambda run: (run / "results.parquet").write_bytes(b"PAR1 broken"), "results.parquet: not a readable Parquet file"),
    (lambda run: write_frame(fake_results().drop(columns=["normdel"]), run / "results.parquet"), "missing column(s) normdel"),
])
def test_bad_input_is_one_line_naming_the_file(split, tmp_path, damage, needle):
    a, b, _ = split
    damage(b)
    line = one_line_error(board(a, b, "--out", tmp_path / "board"))
    assert str(b) in line and needle in line, line
    assert not (tmp_path / "board").exists()


def test_out_must_be_a_directory(split, tmp_path):
    a, b, _ = split
    (tmp_path / "file").write_text("x")
    line = one_line_error(board(a, b, "--out", tmp_path / "file"))
    assert "file: exists and is not a directory" in line


def test_nothing_half_written(split, tmp_path, monkeypatch):
    a, b, _ = split

    def broken(*args, **kwargs):
        raise RuntimeError("template failed")

    monkeypatch.setattr("delbench.report.leaderboard.html", broken)
    result = board(a, b, "--out", tmp_path / "board")
    assert result.exit_code != 0
    assert not (tmp_path / "board").exists() or not any((tmp_path / "board").iterdir())


def test_leaderboard_html_is_self_contained(split, tmp_path):
    a, b, _ = split
    assert board(a, b, "--out", tmp_path / "board").exit_code == 0
    html = (tmp_path / "board" / "leaderboard.html").read_text()
    assert not re.search(r"https?://|url\(|<link|<script src", html)
    for table_id in ("board-r0.2", "board-r0.5", "board-references", "runs"):
        assert f'id="{table_id}"' in html


def test_a_run_of_several_budgets_is_ranked_at_the_protocols_own(tmp_path):
    res = fake_results().assign(budget=1.0)
    cheap = res[res.selector != "scratch"].assign(budget=0.25)
    # at a quarter of the steps meddel falls far below random: averaged in, it would change the board
    cheap.loc[cheap.selector == "meddel", ["miou", "normdel"]] = 0.0
    both = make_run(tmp_path / "both", pd.concat([res, cheap], ignore_index=True))
    out = tmp_path / "board"
    assert board(both, "--out", out).exit_code == 0
    got = pd.read_csv(out / "leaderboard.csv")
    want = leaderboard(res.drop(columns="budget"))
    assert got["selector"].tolist() == want["selector"].tolist()
    meddel = got[(got.selector == "meddel") & (got.ratio_target == 0.2)].iloc[0]
    assert (meddel["win"], meddel["loss"]) == (3, 0)
    only = make_run(tmp_path / "only", cheap)
    line = one_line_error(board(only, "--out", tmp_path / "b2"))
    assert "budgets 0.25 only" in line and "results.parquet" in line
