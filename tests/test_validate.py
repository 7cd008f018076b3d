"""`delbench validate`: the ladder verdict, dead tasks, and the exit status."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from delbench.cli import cli
from delbench.score.validate import dead_task, judge

LEVELS = {"oracle": 0.30, "random": 0.25, "adversary": 0.20, "full": 0.30, "scratch": 0.0}


def results(levels: dict[str, float] = LEVELS, noise: float = 0.005, seeds=(0, 1, 2), tasks=("a", "b"),
            ratios=(0.05, 0.2), seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in seeds:
        shared = rng.normal(0, 0.05)  # a seed moves every selector together; pairing removes it
        for sel, level in levels.items():
            for r in ((1.0,) if sel == "full" else (0.0,) if sel == "scratch" else ratios):
                for t in tasks:
                    # scratch a little above 0: a scratch at 0 everywhere is a collapsed read-out
                    value = 0.02 if sel == "scratch" else level + shared + rng.normal(0, noise)
                    rows.append({"selector": sel, "ratio_target": r, "ratio_achieved": r, "seed": s, "task": t,
                                 "miou": value, "normdel": 0.5})
    return pd.DataFrame(rows)


def test_ladder_holds_when_planted():
    verdict = judge(results())
    assert verdict.passed, verdict.failures()
    assert len(verdict.rungs) == 4
    first = verdict.rungs[0]
    assert (first.a, first.b, first.ratio, first.n) == ("oracle", "random", 0.05, 3)
    assert first.mean == pytest.approx(0.05, abs=0.02)


@pytest.mark.parametrize("broken", ["oracle", "adversary"])
def test_a_broken_rung_fails(broken):
    levels = dict(LEVELS, **{broken: LEVELS["random"]})
    verdict = judge(results(levels))
    assert not verdict.passed
    bad = {(r.a, r.b) for r in verdict.rungs if not r.lower > 0}
    assert bad == ({("oracle", "random")} if broken == "oracle" else {("random", "adversary")})
    assert len(verdict.failures()) == 2  # both ratios


def test_noise_beyond_the_effect_fails():
    assert not judge(results(noise=0.2)).passed


def test_one_seed_cannot_pass():
    assert not judge(results(seeds=(0,))).passed


def test_dead_tasks():
    frame = results()
    assert not dead_task(frame, "a")
    frame.loc[frame["task"] == "a", "miou"] = 0.043  # every row the same
    assert dead_task(frame, "a")
    frame = results()
    frame.loc[frame["task"] == "b", "miou"] = 0.0  # every row what scratch scores
    assert dead_task(frame, "b")
    verdict = judge(frame)
    assert [t.task for t in verdict.tasks if t.dead] == ["b"]
    assert [t.task for t in verdict.tasks if not t.full_beats_scratch] == ["b"]


def complete(frame: pd.DataFrame) -> None:
    """The results columns ``results`` leaves out, filled in place, so that compare's tables can be drawn."""
    frame["ratio_achieved"] = frame["ratio_target"]
    for col in ("miou_dataset", "dice", "del"):
        frame[col] = frame["miou"]
    for col in ("pretrain_steps", "pretrain_seconds", "select_seconds", "kept_bytes"):
        frame[col] = 0


def _fake_compare(frame: pd.DataFrame):
    def run_compare(config, progress=None, **_):
        out = Path(config.out)
        out.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(out / "results.parquet", index=False)
        (out / "run.json").write_text(json.dumps({"selectors": list(config.selectors), "ratios": list(config.ratios),
                                                  "seeds": [0, 1, 2], "data_root": ""}))
        return out

    return run_compare


@pytest.mark.parametrize("levels,code", [(LEVELS, 0), (dict(LEVELS, oracle=0.25), 1)])
def test_exit_status_follows_the_verdict(tmp_path, monkeypatch, levels, code):
    frame = results(levels)
    complete(frame)
    monkeypatch.setattr("delbench.compare.runner.run_compare", _fake_compare(frame))
    result = CliRunner().invoke(cli, ["validate", "--protocol", "ci", "--out", str(tmp_path / "run"), "--no-plots"])
    assert result.exit_code == code, result.output
    verdict = json.loads((tmp_path / "run" / "validate.json").read_text())
    assert verdict["passed"] is (code == 0)
    assert (tmp_path / "run" / "tables" / "validate.md").is_file()
    # the report is written after the verdict, so it shows this run's ladder
    report = (tmp_path / "run" / "report.html").read_text()
    assert 'id="validate-ladder"' in report and ("verdict-pass" if code == 0 else "verdict-fail") in report
    if code:
        assert "does not rank data by quality" in result.output and "oracle > random" in result.output


def test_no_rung_is_no_pass():
    assert not judge(results(), ratios=()).passed


# --- the precondition: pre-training matters -------------------------------------------------------

def with_gap(gap: float, frame: pd.DataFrame | None = None, jitter: float = 0.002) -> pd.DataFrame:
    """``frame`` (default: a table where every rung holds) with scratch set to full's score on the same
    seed and task minus ``gap``, give or take ``jitter``."""
    frame = results() if frame is None else frame.copy()
    full = frame[frame["selector"] == "full"].set_index(["seed", "task"])["miou"]
    scratch = frame["selector"] == "scratch"
    keys = pd.MultiIndex.from_frame(frame.loc[scratch, ["seed", "task"]])
    rng = np.random.default_rng(1)
    frame.loc[scratch, "miou"] = full.reindex(keys).to_numpy() - gap + rng.normal(0, jitter, int(scratch.sum()))
    return frame


def test_precondition_fails_when_full_beats_scratch_by_too_little():
    verdict = judge(with_gap(0.05))
    assert all(r.lower > 0 for r in verdict.rungs)  # every rung holds ...
    pre = verdict.precondition
    assert pre.lower > 0 and pre.mean == pytest.approx(0.05, abs=0.005) and pre.threshold == 0.10
    assert not pre.holds and not verdict.passed  # ... but pre-training matters too little for them to count
    assert len(verdict.failures()) == 1 and verdict.failures()[0].startswith("precondition:")
    assert verdict.to_dict()["precondition"] == {"mean": pre.mean, "lower": pre.lower, "threshold": 0.10, "n": 3,
                                                 "collapsed": [], "holds": False}


def test_precondition_holds_when_full_beats_scratch_by_enough():
    verdict = judge(with_gap(0.15))
    assert verdict.precondition.holds and verdict.passed, verdict.failures()
    assert verdict.to_dict()["precondition"]["holds"] is True


def test_precondition_fails_where_scratch_collapses_to_background():
    frame = with_gap(0.15)
    scratch_on_b = (frame["selector"] == "scratch") & (frame["task"] == "b")
    frame.loc[scratch_on_b, "miou"] = 0.0  # a probe of the random network predicts no polyp on task b
    verdict = judge(frame)
    pre = verdict.precondition
    assert pre.mean >= 0.10 and pre.lower > 0  # the gap alone would pass ...
    assert pre.collapsed == ("b",) and not pre.holds and not verdict.passed  # ... but it measures the read-out
    assert "scratch collapses to mIoU 0 on b" in verdict.failures()[0]
    assert [t.scratch_collapsed for t in verdict.tasks] == [False, True]
    # a task on which every row scores 0 is dead, not a collapse
    dead = with_gap(0.15)
    dead.loc[dead["task"] == "b", "miou"] = 0.0
    assert judge(dead).precondition.collapsed == ()
    from delbench.report.verdict_file import _verdict

    assert _verdict(verdict.to_dict()).precondition.collapsed == ("b",)  # validate.json keeps it


def test_precondition_needs_its_lower_bound_above_zero():
    frame = results()
    for seed, gap in zip((0, 1, 2), (0.40, -0.10, 0.05)):  # mean 0.117, but one seed goes the other way
        rows = frame["seed"] == seed
        frame.loc[rows] = with_gap(gap, frame, jitter=0.0).loc[rows]
    pre = judge(frame).precondition
    assert pre.mean >= 0.10 and pre.lower <= 0 and not pre.holds


def test_a_failed_precondition_fails_the_command(tmp_path, monkeypatch):
    frame = with_gap(0.05)
    complete(frame)
    monkeypatch.setattr("delbench.compare.runner.run_compare", _fake_compare(frame))
    result = CliRunner().invoke(cli, ["validate", "--protocol", "ci", "--out", str(tmp_path / "run"), "--no-plots"])
    assert result.exit_code == 1, result.output
    assert "precondition" in result.output.split("does not rank data by quality")[1]
    line = next(i for i, text in enumerate(result.output.splitlines()) if text.startswith("precondition (pre-training"))
    ladder = next(i for i, text in enumerate(result.output.splitlines()) if "Validity ladder" in text)
    assert line < ladder and "does NOT hold" in result.output.splitlines()[line]
    saved = json.loads((tmp_path / "run" / "validate.json").read_text())
    assert saved["passed"] is False and saved["precondition"]["holds"] is False
    assert "Precondition" in (tmp_path / "run" / "tables" / "validate.md").read_text()
    report = (tmp_path / "run" / "report.html").read_text()
    assert 'id="validate-precondition"' in report and "pre-training matters" in report
