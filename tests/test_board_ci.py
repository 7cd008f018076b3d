"""`delbench board` and the console summary on real `ci` runs: two runs made with different --seeds
merge into one leaderboard, a run under a modified protocol is refused, and `make demo`'s command
prints no line over 80 columns and ends with the path of report.html."""
from __future__ import annotations

import re

import pandas as pd
import pytest
from click.testing import CliRunner

from delbench.cli import cli
from delbench.report.leaderboard import leaderboard

pytestmark = pytest.mark.slow


def test_demo_summary_fits_80_columns_and_ends_with_the_report(ci_runs):
    lines = ci_runs.seed0_output.splitlines()
    too_long = [line for line in lines if len(line) > 80]
    assert not too_long, too_long
    assert lines[-1] == "report: runs/seed0/report.html"
    assert (ci_runs.seed0 / "report.html").is_file() and (ci_runs.seed1 / "report.html").is_file()
    assert any(line.startswith("R = 0.1 ") for line in lines) and any(line.startswith("R = 0.5 ") for line in lines)


def test_board_merges_ci_runs_made_with_different_seeds(ci_runs, tmp_path):
    out = tmp_path / "board"
    result = CliRunner().invoke(cli, ["board", str(ci_runs.seed0), str(ci_runs.seed1), "--out", str(out)])
    assert result.exit_code == 0, result.output
    board = pd.read_csv(out / "leaderboard.csv")
    assert set(board["selector"]) == {"meddel", "random", "full", "scratch"}
    assert (board["n_seeds"] == 2).all()
    meddel = board[board.selector == "meddel"]
    assert sorted(meddel["ratio_target"]) == [0.1, 0.5]
    assert ((meddel["win"] + meddel["tie"] + meddel["loss"]) == 2).all()  # counted over both runs' seeds
    both = pd.concat([pd.read_parquet(ci_runs.seed0 / "results.parquet"), pd.read_parquet(ci_runs.seed1 / "results.parquet")])
    pd.testing.assert_frame_equal(board, leaderboard(both).reset_index(drop=True), check_dtype=False)
    md = (out / "leaderboard.md").read_text()
    assert str(ci_runs.seed0) in md and str(ci_runs.seed1) in md


def test_board_refuses_a_run_under_a_modified_protocol(ci_runs, tmp_path):
    modified = tmp_path / "alpha2"
    made = CliRunner().invoke(cli, ["compare", "random", "--protocol", "ci", "--seeds", "0", "--ratios", "0.1",
                                    "--set", "score.alpha=2", "--out", str(modified), "--cache", str(ci_runs.cache),
                                    "--no-plots"])
    assert made.exit_code == 0, made.output
    out = tmp_path / "board"
    result = CliRunner().invoke(cli, ["board", str(ci_runs.seed0), str(modified), "--out", str(out)])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    assert str(modified / "run.json") in lines[0] and "protocol hash" in lines[0]
    assert re.search(r"score\.alpha 2(\.0)? vs 1\.0", lines[0]), lines[0]
    assert not out.exists()
