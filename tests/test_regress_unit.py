"""Baseline making and checking, on hand-made results tables (no training involved)."""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from delbench.compare.results import COLUMNS, sort_rows
from delbench.errors import DelbenchError
from delbench.metrics import del_score, normdel
from delbench.score.regress import (COLLAPSE_FRACTION, TOLERANCE_FLOOR, Z, check_protocol, choose_mode, compare_exact,
                              compare_statistical, failures, fingerprint, fingerprint_diff, make_baseline,
                              read_baseline, save_baseline)

TASKS = ("polyp-a", "polyp-b", "polyp-c")
# (selector, ratio, task-mean mIoU); scratch is the no-pre-training reference
PLAN = [("meddel", 0.2, 0.60), ("random", 0.2, 0.50), ("meddel", 0.5, 0.62), ("random", 0.5, 0.58),
        ("full", 1.0, 0.61), ("scratch", 0.0, 0.30)]


@dataclass
class Score:
    alpha: float = 1.0


@dataclass
class FakeProtocol:
    name: str = "ci"
    version: int = 1
    score: Score = field(default_factory=Score)

    def hash(self) -> str:
        return "h"


FP = {"protocol_hash": "h", "versions": {"delbench": "1", "torch": "2", "numpy": "3"},
      "selectors": {"meddel": {"plugin": "meddel", "package": "delbench", "version": "1", "factory": "m.MedDEL"}},
      "platform": {"python": "3.11.0", "machine": "x86_64", "os": "Linux", "threads": "1"}}


def draw(rng_seed: int = 0, seeds: tuple[int, ...] = (0, 1, 2), noise: float = 0.01,
         seed_noise: dict[str, float] | None = None) -> pd.DataFrame:
    """A results table: each (selector, ratio) around its PLAN level, with per-task noise and, for the
    selectors in ``seed_noise``, a shared per-seed offset (a seed whose pre-training went well or badly)."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    for sel, ratio, level in PLAN:
        for seed in seeds:
            offset = (seed_noise or {}).get(sel, 0.0) * rng.standard_normal()
            for task in TASKS:
                m = float(np.clip(level + offset + noise * rng.standard_normal(), 0, 1))
                rows.append(_row(sel, ratio, seed, task, m))
    return sort_rows(pd.DataFrame(rows)[COLUMNS])


def _row(sel: str, ratio: float, seed: int, task: str, m: float) -> dict[str, object]:
    return {"selector": sel, "ratio_target": ratio, "ratio_achieved": ratio, "seed": seed, "task": task,
            "miou": m, "miou_all": m, "miou_dataset": m, "dice": m, "empty_share": 0.0,
            "del": float(del_score(m, ratio)), "normdel": float(normdel(m, ratio)),
            "pretrain_steps": 10, "pretrain_seconds": 1.0, "select_seconds": 0.1, "kept_bytes": 100}


def set_miou(frame: pd.DataFrame, rows: pd.Series, values: np.ndarray | float) -> pd.DataFrame:
    out = frame.copy()
    out.loc[rows, "miou"] = values
    out.loc[rows, "normdel"] = normdel(out.loc[rows, "miou"].to_numpy(), out.loc[rows, "ratio_achieved"].to_numpy())
    return out


def baseline(res: pd.DataFrame) -> dict:
    # through JSON, as the committed file is read back
    return json.loads(json.dumps(make_baseline(res, FakeProtocol(), FP)))


# --- exact mode ---------------------------------------------------------------------------------------

def test_exact_passes_on_identical_and_flags_a_one_ulp_change():
    res = draw()
    base = baseline(res)
    assert compare_exact(res, base)["ok"].all()
    changed = res.copy()
    i = changed.index[(changed["selector"] == "random") & (changed["seed"] == 1)][0]
    changed.loc[i, "miou"] = np.nextafter(changed.loc[i, "miou"], 1.0)
    bad = failures(compare_exact(changed, base))
    assert len(bad) == 1
    row = bad.iloc[0]
    assert (row["selector"], row["seed"], row["task"], row["metric"]) == ("random", 1, changed.loc[i, "task"], "miou")
    # far inside any statistical tolerance: only the exact mode can see it
    assert failures(compare_statistical(changed, base)).empty


def test_exact_flags_a_missing_value():
    res = draw()
    base = baseline(res)
    bad = failures(compare_exact(res[res["selector"] != "meddel"], base))
    assert set(bad["selector"]) == {"meddel"}


# --- statistical mode ---------------------------------------------------------------------------------

def test_statistical_passes_on_a_fresh_draw_within_spread():
    base = baseline(draw(0, seed_noise={"meddel": 0.02, "random": 0.02}))
    for rng_seed in (1, 2, 3):
        table = compare_statistical(draw(rng_seed, seed_noise={"meddel": 0.02, "random": 0.02}), base)
        assert failures(table).empty, failures(table)


def test_statistical_flags_a_collapse_to_scratch_despite_a_large_seed_spread():
    # meddel R=0.2 has seeds all over the place: the spread alone would tolerate almost anything
    res = draw(0, seed_noise={"meddel": 0.25})
    base = baseline(res)
    cell = base["entries"][[(e["selector"], e["ratio_target"]) for e in base["entries"]].index(("meddel", 0.2))]
    n = len(cell["seeds"])
    spread_tol = Z * cell["miou_sd"] * np.sqrt(2 / n)
    scratch = [e for e in base["entries"] if e["selector"] == "scratch"][0]
    assert spread_tol > abs(cell["miou"] - scratch["miou"])
    assert cell["miou_tol"] == pytest.approx(COLLAPSE_FRACTION * abs(cell["miou"] - cell["miou_collapse"]), abs=1e-6)
    # now meddel's subset is worthless: each of its rows scores what scratch scores on that seed and task
    mine = (res["selector"] == "meddel") & (res["ratio_target"] == 0.2)
    ref = res[res["selector"] == "scratch"].set_index(["seed", "task"])["miou"]
    collapsed = set_miou(res, mine, [ref[(s, t)] for s, t in zip(res.loc[mine, "seed"], res.loc[mine, "task"])])
    bad = failures(compare_statistical(collapsed, base))
    assert set(zip(bad["selector"], bad["ratio_target"], bad["metric"])) == {("meddel", 0.2, "miou"), ("meddel", 0.2, "normdel")}
    assert (bad["task"] == "mean").all()


def test_statistical_decides_on_the_task_mean_not_on_one_task():
    res = draw()
    base = baseline(res)
    one_task = (res["selector"] == "random") & (res["ratio_target"] == 0.5) & (res["task"] == "polyp-a")
    # one task's cell moves past its own tolerance, the task mean stays within its tolerance
    moved = set_miou(res, one_task, res.loc[one_task, "miou"] + 0.04)
    table = compare_statistical(moved, base)
    info = table[(~table["decides"]) & (~table["ok"])]
    assert set(info["task"]) == {"polyp-a"} and set(info["selector"]) == {"random"}
    assert failures(table).empty
    # the same shift on every task moves the mean: that fails
    every = (res["selector"] == "random") & (res["ratio_target"] == 0.5)
    assert set(failures(compare_statistical(set_miou(res, every, res.loc[every, "miou"] + 0.04), base))["selector"]) == {"random"}


def test_tolerance_follows_seed_spread_and_has_a_floor():
    quiet = baseline(draw(0, noise=0.0))
    noisy = baseline(draw(0, seed_noise={"random": 0.02}))
    get = lambda b: [e for e in b["entries"] if (e["selector"], e["ratio_target"]) == ("random", 0.5)][0]  # noqa: E731
    assert get(quiet)["miou_tol"] == pytest.approx(TOLERANCE_FLOOR)
    assert get(noisy)["miou_tol"] > get(quiet)["miou_tol"]


def test_scratch_is_not_capped_against_itself():
    base = baseline(draw())
    scratch = [e for e in base["entries"] if e["selector"] == "scratch"][0]
    assert scratch["miou_tol"] >= TOLERANCE_FLOOR


def test_statistical_flags_a_missing_cell():
    res = draw()
    bad = failures(compare_statistical(res[res["selector"] != "meddel"], baseline(res)))
    assert set(bad["selector"]) == {"meddel"}


# --- fingerprint, mode choice, baseline file ---------------------------------------------------------

def test_auto_picks_exact_on_equal_fingerprints_and_statistical_naming_the_field():
    base = baseline(draw())
    assert choose_mode("auto", base, copy.deepcopy(FP))[0] == "exact"
    other = copy.deepcopy(FP)
    other["platform"]["python"] = "3.12.1"
    mode, why = choose_mode("auto", base, other)
    assert mode == "statistical"
    assert "platform.python: 3.11.0 -> 3.12.1" in why
    assert choose_mode("exact", base, other)[0] == "exact"


def test_fingerprint_tracks_threads_and_selector_implementations(monkeypatch):
    monkeypatch.setenv("DELBENCH_THREADS", "1")
    one = fingerprint(FakeProtocol(), ("meddel",))
    assert one["selectors"]["meddel"]["factory"].endswith("MedDEL")
    monkeypatch.setenv("DELBENCH_THREADS", "2")
    assert fingerprint_diff(one, fingerprint(FakeProtocol(), ("meddel",))) == ["platform.threads: 1 -> 2"]


def test_baseline_round_trips_full_precision(tmp_path):
    res = draw()
    path = tmp_path / "b.json"
    save_baseline(path, make_baseline(res, FakeProtocol(), FP))
    back = read_baseline(path)
    assert compare_exact(res, back)["ok"].all()
    assert len(back["seed_values"]) == len(res)


def test_old_format_baseline_is_refused_in_one_line(tmp_path):
    path = tmp_path / "old.json"
    old = baseline(draw())
    for key in ("format", "fingerprint", "seed_values", "task_entries"):
        old.pop(key)
    path.write_text(json.dumps(old))
    with pytest.raises(DelbenchError, match="--update") as err:
        read_baseline(path)
    assert "\n" not in str(err.value) and "older format" in str(err.value)


def test_version_mismatch_is_refused():
    base = baseline(draw())
    with pytest.raises(DelbenchError, match="version"):
        check_protocol(base, FakeProtocol(version=2))
