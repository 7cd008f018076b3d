"""Budget curves (`--budgets`): parsing and its errors, the steps and cache key of each budget (budget 1
keeps the key it always had), the plan counting every budget's runs, a tiny end-to-end compare at
two budgets with scratch once, and validate's ladder per budget."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from delbench.cli import cli
from delbench.compare.plan import check_budgets, parse_budgets
from delbench.errors import DelbenchError
from delbench.protocol import load_protocol
from tests.test_pretrain_util import make_root, tiny_protocol
from tests.test_validate import LEVELS, _fake_compare, results as planted_results, with_gap

# tiny_protocol as --set overrides of `ci` (6 pre-training steps on the 24-frame root)
TINY_SETS = ["pretrain.image_size=32", "pretrain.width=4", "pretrain.batch_size=4", "pretrain.epochs_at_full=1.0",
             "pretrain.checkpoint_every=2", "pretrain.mask_patch=4", "pretrain.intermediate=[0.5]",
             "finetune.steps=6", "finetune.eval_every=3", "finetune.batch_size=4", "finetune.labels=0",
             "embed.image_size=32", "embed.embedder=thumb", "tasks.names=[]"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_root(tmp_path_factory.mktemp("budget-curves-root"))


def one_line_error(result: Any) -> str:
    assert result.exit_code != 0, result.output
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    return lines[0]


# --- parsing ---------------------------------------------------------------------------------------

def test_budgets_parse_to_ascending_fractions() -> None:
    assert parse_budgets(None) is None  # not given: the protocol's own steps only
    assert parse_budgets("0.25,0.5,1") == (0.25, 0.5, 1.0)
    assert parse_budgets("1, 0.5") == (0.5, 1.0)
    assert parse_budgets("4") == (4.0,)


@pytest.mark.parametrize("text, says", [
    ("0", "not in (0, 4]"), ("-0.5", "not in (0, 4]"), ("4.5", "not in (0, 4]"), ("nan", "not in (0, 4]"),
    ("inf", "not in (0, 4]"), ("abc", "comma-separated fractions"), ("0.5,x", "comma-separated fractions"),
    ("0.5,0.5", "listed twice"), ("1,1.0", "listed twice"), ("", "at least one"), (",", "at least one"),
])
def test_bad_budgets_are_one_error_naming_the_option(text: str, says: str) -> None:
    with pytest.raises(DelbenchError, match="--budgets") as err:
        parse_budgets(text)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_budgets_set_in_code_are_checked_too(root: Path, tmp_path: Path) -> None:
    from delbench.compare.plan import CompareConfig, check_config

    with pytest.raises(DelbenchError, match=r"--budgets: 0 is not in"):
        check_config(CompareConfig(selectors=("random",), protocol=tiny_protocol(), data=root, budgets=(0.0, 1.0)))
    assert check_budgets((1.0, 0.25), "1,0.25") == (0.25, 1.0)


@pytest.mark.parametrize("command", [["compare", "random"], ["validate"]])
@pytest.mark.parametrize("text", ["0", "-1", "5", "half", "0.5,0.5"])
def test_a_bad_budget_on_the_command_line_is_one_line_and_writes_nothing(tmp_path: Path, command: list[str],
                                                                          text: str) -> None:
    out, cache = tmp_path / "run", tmp_path / "cache"
    line = one_line_error(CliRunner().invoke(cli, [*command, "--protocol", "ci", "--budgets", text, "--out", str(out),
                                                   "--cache", str(cache)]))
    assert "--budgets" in line
    assert not out.exists() and not cache.exists()


# --- steps and cache keys --------------------------------------------------------------------------

def test_each_budget_runs_its_share_of_the_steps_at_least_one() -> None:
    ci = load_protocol("ci")  # 180 steps on its own 288-frame pool, and at most 180 on any
    assert [ci.budget_steps(288, b) for b in (0.25, 0.5, 1.0, 2.0, 4.0)] == [45, 90, 180, 360, 720]
    assert ci.budget_steps(10_000, 1.0) == ci.pretrain_steps(10_000) == 180  # a budget scales the capped steps
    assert ci.budget_steps(10_000, 0.5) == 90
    one = tiny_protocol(**{"pretrain.epochs_at_full": 0.1})
    assert one.pretrain_steps(24) == 1 and one.budget_steps(24, 0.25) == 1


# What the pre-training key held before budgets existed; budget 1 must keep exactly this.
KEY_FIELDS = {"stage", "code", "manifest", "subset", "n_pool", "pretrain", "seed", "world"}


def test_budget_one_keeps_its_key_and_other_budgets_are_keyed_by_their_steps(root: Path, tmp_path: Path) -> None:
    from delbench.pretrain.stage import stage_config, stage_dir

    p = tiny_protocol()  # 6 steps on the 24-frame root, no cap binding
    plain = stage_config(root, p, None, 0)
    assert set(plain) == KEY_FIELDS  # no "steps", no "budget"
    assert stage_config(root, p, None, 0, budget=1.0) == plain
    assert stage_dir(root, p, tmp_path, None, 0, budget=1.0) == stage_dir(root, p, tmp_path, None, 0)
    half = stage_config(root, p, None, 0, budget=0.5)
    assert half == {**plain, "steps": 3}
    keys = {stage_dir(root, p, tmp_path, None, 0, budget=b) for b in (0.25, 0.5, 1.0, 2.0)}
    assert len(keys) == 4
    capped = tiny_protocol(**{"pretrain.max_steps": 4})  # a binding cap: budget 1 keyed by the cap's steps, as before
    assert stage_config(root, capped, None, 0, budget=1.0)["steps"] == 4
    assert stage_config(root, capped, None, 0, budget=0.5)["steps"] == 2
    # a budget that lands on the protocol's own steps is the protocol's own run
    one = tiny_protocol(**{"pretrain.epochs_at_full": 0.1})
    assert stage_config(root, one, None, 0, budget=0.25) == stage_config(root, one, None, 0)


def test_a_budget_trains_its_steps_on_its_own_schedule(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import delbench.nets.schedule as schedule
    from delbench.pretrain.stage import pretrain

    seen: list[tuple[int, int]] = []
    real = schedule.lr_at

    def spy(step: int, total: int, *args: Any) -> float:
        seen.append((step, total))
        return real(step, total, *args)

    monkeypatch.setattr(schedule, "lr_at", spy)
    result = pretrain(root, tiny_protocol(), tmp_path, subset=np.arange(12), seed=0, budget=0.5)
    assert result.steps == 3 and result.meta["steps"] == 3 and result.meta["config"]["steps"] == 3
    assert seen == [(0, 3), (1, 3), (2, 3)]  # warm-up and decay over the budget's 3 steps, not the protocol's 6
    assert [p.name for p in result.intermediate] == ["step_0000002.safetensors"]  # half of this run


def test_the_plan_counts_every_budgets_runs(root: Path, tmp_path: Path) -> None:
    from tests.test_plan import planned, study

    plain = planned(study(root, tmp_path / "cache"))
    both = planned(study(root, tmp_path / "cache", budgets=(0.5, 1.0)))
    assert len(plain.pretraining()) == 4 and len(both.pretraining()) == 8  # random and full, 2 seeds, per budget
    assert sorted({u.budget for u in both.units if u.selector == "scratch"}) == [1.0]
    assert sum(u.selector == "scratch" for u in both.units) == 2  # once per seed, whatever the budgets
    assert {(u.budget, u.steps) for u in both.units if u.trains} == {(0.5, 3), (1.0, 6)}
    # one second per step: 4 runs of 6 steps, and 4 more of 3
    assert plain.units_seconds == pytest.approx(4 * 6) and both.units_seconds == pytest.approx(4 * 6 + 4 * 3)
    from delbench.cli.plan_view import plan_lines

    text = " ".join(" ".join(plan_lines(both)).split())
    assert "8 runs: 4 of 3 steps (budget 0.5), 4 of 6 steps (budget 1)" in text
    assert "random R=0.5 b=0.5" in text and "full b=0.5" in text


# --- end to end ------------------------------------------------------------------------------------

def tiny_compare(root: Path, out: Path, cache: Path, *more: str) -> Any:
    sets = [arg for item in TINY_SETS for arg in ("--set", item)]
    return CliRunner().invoke(cli, ["compare", "random", "--protocol", "ci", *sets, "--data", str(root), "--seeds", "0",
                                    "--ratios", "0.5", "--out", str(out), "--cache", str(cache), "--jobs", "1",
                                    "--no-plots", *more])


@pytest.mark.slow
def test_compare_at_two_budgets_runs_each_and_scratch_once(root: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    plain = tiny_compare(root, tmp_path / "plain", cache)
    assert plain.exit_code == 0, plain.output
    result = tiny_compare(root, tmp_path / "run", cache, "--budgets", "0.5,1")
    assert result.exit_code == 0, result.output
    assert "4 runs: 2 of 3 steps (budget 0.5), 2 of 6 steps (budget 1)" in " ".join(result.output.split())
    # budget 1 is the run that had no budgets: every stage of it came from the cache
    assert "stages reused: select 1, pretrain 2, evaluate 6" in result.output
    assert "stages computed: select 0, pretrain 2, evaluate 4" in result.output

    res = pd.read_parquet(tmp_path / "run" / "results.parquet")
    assert res["budget"].dtype == float
    got = {(s, b): g for (s, b), g in res.groupby(["selector", "budget"])}
    assert set(got) == {("random", 0.5), ("random", 1.0), ("full", 0.5), ("full", 1.0), ("scratch", 1.0)}
    assert len(got["scratch", 1.0]) == 2  # one seed x two tasks: scratch once, not per budget
    assert set(got["random", 0.5]["pretrain_steps"]) == {3} and set(got["full", 0.5]["pretrain_steps"]) == {3}
    assert set(got["random", 1.0]["pretrain_steps"]) == {6}
    before = pd.read_parquet(tmp_path / "plain" / "results.parquet")
    assert set(before["budget"]) == {1.0}
    key = ["selector", "ratio_target", "seed", "task"]
    same = res[res["budget"] == 1.0].sort_values(key).reset_index(drop=True)
    for column in ("miou", "miou_dataset", "dice", "normdel"):  # budget 1's scores are the plain run's
        assert same[column].tolist() == before.sort_values(key)[column].tolist(), column

    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["budgets"] == [0.5, 1.0] and info["invocations"][0]["budgets"] == [0.5, 1.0]
    tables = tmp_path / "run" / "tables"
    assert (tables / "summary.md").is_file() and (tables / "summary_b0.5.md").is_file()
    assert (tables / "ratio_0.5_miou_b0.5.md").read_text().startswith("### Budget 0.5 (3 steps): Retained ratio 0.5")
    assert "budget 0.5 (3 steps) | budget 1 (6 steps)" in (tables / "budgets.md").read_text()
    assert "== budget 0.5 (3 steps) ==" in result.output and "== budget 1 (6 steps) ==" in result.output
    report = (tmp_path / "run" / "report.html").read_text()
    assert 'id="budget-curves"' in report and 'id="summary-b0.5"' in report and "--budgets 0.5,1" in report
    # the single-budget run keeps its tables and names
    assert not (tmp_path / "plain" / "tables" / "budgets.md").exists()
    assert "== budget" not in plain.output


# --- reading older tables, and the tables of one budget -------------------------------------------

def test_a_results_table_from_before_budgets_reads_as_budget_one(tmp_path: Path) -> None:
    from delbench.compare.results import read_results

    (tmp_path / "run").mkdir()
    old = planted_results()
    old.to_parquet(tmp_path / "run" / "results.parquet", index=False)
    got = read_results(tmp_path / "run")
    assert set(got["budget"]) == {1.0} and len(got) == len(old)


def test_a_single_budget_summary_is_unchanged() -> None:
    from delbench.report.console import summary_lines, summary_records
    from delbench.score.budgets import with_budget

    frame = planted_results()
    assert summary_lines(with_budget(frame)) == summary_lines(frame)
    assert all("budget" not in rec for rec in summary_records(with_budget(frame)))


def budget_table(levels_at: dict[float, dict[str, float]], gap: float = 0.2) -> pd.DataFrame:
    """A planted validate table per budget; scratch once (budget 1), ``gap`` below full at budget 1."""
    parts = []
    for budget, levels in levels_at.items():
        part = with_gap(gap, planted_results(levels))  # the same seed shifts at every budget, as one pool gives
        parts.append(part.assign(budget=budget))
    frame = pd.concat(parts, ignore_index=True)
    scratch = frame["selector"] == "scratch"
    return frame[~scratch | (frame["budget"] == max(levels_at))].reset_index(drop=True)


def test_validate_judges_each_budget_and_passes_only_if_every_one_does() -> None:
    from delbench.score.validate import judge_budgets

    broken = dict(LEVELS, oracle=LEVELS["random"])  # at budget 0.5 oracle is no better than random
    ladders = judge_budgets(budget_table({0.5: broken, 1.0: LEVELS}))
    assert ladders.budgets == (0.5, 1.0)
    half, whole = ladders.verdicts
    assert whole.passed and not half.passed and not ladders.passed
    assert half.precondition.holds  # scratch's one set of rows serves both budgets
    assert ladders.failures() and all(f.startswith("budget 0.5: oracle > random") for f in ladders.failures())
    saved = ladders.to_dict()
    assert saved["passed"] is False and saved["budgets"] == [0.5, 1.0]
    assert [(v["budget"], v["passed"], v["precondition"]["holds"]) for v in saved["ladders"]] == [
        (0.5, False, True), (1.0, True, True)]
    assert judge_budgets(budget_table({0.5: LEVELS, 1.0: LEVELS})).passed
    only = judge_budgets(budget_table({0.5: broken, 1.0: LEVELS}), budgets=(1.0,))
    assert only.passed and "ladders" not in only.to_dict() and only.to_dict()["budgets"] == [1.0]


def test_a_budget_where_pretraining_stops_mattering_fails_its_precondition() -> None:
    from delbench.score.validate import judge_budgets

    frame = budget_table({0.5: LEVELS, 1.0: LEVELS})
    short = (frame["selector"] == "full") & (frame["budget"] == 0.5)
    scratch = frame[frame["selector"] == "scratch"].set_index(["seed", "task"])["miou"]
    keys = pd.MultiIndex.from_frame(frame.loc[short, ["seed", "task"]])
    frame.loc[short, "miou"] = scratch.reindex(keys).to_numpy() + 0.04  # 4 points above scratch at budget 0.5
    half, whole = judge_budgets(frame).verdicts
    assert not half.precondition.holds and whole.precondition.holds
    assert half.failures()[0].startswith("precondition:")


@pytest.mark.parametrize("broken, code", [(False, 0), (True, 1)])
def test_validate_at_two_budgets_shows_and_saves_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      broken: bool, code: int) -> None:
    levels = dict(LEVELS, oracle=LEVELS["random"]) if broken else LEVELS
    frame = budget_table({0.5: levels, 1.0: LEVELS})
    for col in ("miou_dataset", "dice", "del"):
        frame[col] = frame["miou"]
    for col in ("pretrain_seconds", "select_seconds", "kept_bytes"):
        frame[col] = 0
    frame["pretrain_steps"] = np.where(frame["selector"] == "scratch", 0, np.where(frame["budget"] == 0.5, 90, 180))
    monkeypatch.setattr("delbench.compare.runner.run_compare", _fake_compare(frame))
    result = CliRunner().invoke(cli, ["validate", "--protocol", "ci", "--budgets", "0.5,1", "--out", str(tmp_path / "run")])
    assert result.exit_code == code, result.output
    lines = result.output.splitlines()
    firsts = [i for i, ln in enumerate(lines) if ln.startswith("precondition (pre-training matters) at budget")]
    assert len(firsts) == 2 and "budget 0.5" in lines[firsts[0]] and "budget 1:" in lines[firsts[1]]
    assert "Rungs against the pre-training budget" in result.output
    if broken:
        assert "does not rank data by quality: budget 0.5: oracle > random" in " ".join(result.output.split())
    saved = json.loads((tmp_path / "run" / "validate.json").read_text())
    assert saved["passed"] is (code == 0) and [v["budget"] for v in saved["ladders"]] == [0.5, 1.0]
    md = (tmp_path / "run" / "tables" / "validate.md").read_text()
    assert "Budget 0.5: Precondition" in md and "Budget 1: Validity ladder" in md
    assert (tmp_path / "run" / "plots" / "rungs_vs_budget.png").is_file()
    assert (tmp_path / "run" / "plots" / "miou_vs_budget.png").is_file()
    report = (tmp_path / "run" / "report.html").read_text()
    assert 'id="validate-ladder-b0.5"' in report and 'id="validate-budgets"' in report
    assert 'id="budget-curves"' in report and "miou vs budget" in report and "rungs vs budget" in report


def test_one_budget_other_than_one_is_named_wherever_it_shows() -> None:
    from delbench.report.budget_view import per_budget
    from delbench.report.console import summary_lines
    from delbench.report.tables import summary_grid
    from delbench.report.validate_view import ladders_grids
    from delbench.score.validate import judge_budgets

    frame = budget_table({0.5: dict(LEVELS, oracle=LEVELS["random"])})
    frame.loc[frame["selector"] == "scratch", "budget"] = 1.0  # scratch's rows are budget 1's, as compare writes them
    (grid,) = per_budget(frame, lambda rows: [summary_grid(rows)])
    assert grid.slug == "summary_b0.5" and grid.title.startswith("Budget 0.5")
    assert summary_lines(frame)[0] == "== budget 0.5 =="
    ladders = judge_budgets(frame)
    assert ladders.budgets == (0.5,) and ladders.failures()[0].startswith("budget 0.5: ")
    assert all(g.title.startswith("Budget 0.5: ") for g in ladders_grids(ladders))
