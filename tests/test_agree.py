"""`delbench agree`: decision accuracy and Kendall tau between two runs' rankings of the cells they
share, the seed bootstrap, the record in RUN_A/agree/ and its section of report.html, on planted
results tables (no training)."""
from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats as st

from delbench.cli import COMMANDS, cli
from delbench.compare.results import write_frame
from delbench.errors import DelbenchError
from delbench.metrics import normdel
from delbench.report.run_report import write_report
from delbench.score.agree import agreement
from tests.test_cli_checks import one_line_error

# The columns of a results table written by `compare` (agree reads only some of them).
COLUMNS = ["selector", "ratio_target", "ratio_achieved", "seed", "task", "miou", "miou_all", "miou_dataset", "dice",
           "empty_share", "del", "normdel", "pretrain_steps", "pretrain_seconds", "select_seconds", "kept_bytes"]
# Cells listed in the order agree sorts them: by ratio, then selector.
FOUR = [("a", 0.1), ("b", 0.1), ("a", 0.5), ("b", 0.5)]
SIX = [("coreset", 0.1), ("meddel", 0.1), ("random", 0.1), ("coreset", 0.5), ("meddel", 0.5), ("random", 0.5)]


def rows(values: dict[tuple[str, float, int, str], float]) -> pd.DataFrame:
    """A results table from {(selector, ratio, seed, task): miou}; NormDEL follows from mIoU."""
    out = []
    for (sel, ratio, seed, task), m in values.items():
        out.append({"selector": sel, "ratio_target": ratio, "ratio_achieved": ratio, "seed": seed, "task": task,
                    "miou": m, "miou_all": m, "miou_dataset": m, "dice": m, "empty_share": 0.0, "del": m,
                    "normdel": float(normdel(m, ratio)), "pretrain_steps": 1, "pretrain_seconds": 1.0,
                    "select_seconds": 0.0, "kept_bytes": 1})
    frame = pd.DataFrame(out)[COLUMNS]
    return frame.sort_values(["selector", "ratio_target", "seed", "task"], kind="stable").reset_index(drop=True)


def planted(scores: dict[tuple[str, float], float], seeds: tuple[int, ...] = (0, 1, 2),
            tasks: tuple[str, ...] = ("t1", "t2"), noise: float = 0.0, rng_seed: int = 0) -> pd.DataFrame:
    """Each cell scores ``scores[cell]`` as its mean over seeds of the task mean: task offsets and, with
    ``noise=0``, seed offsets cancel. ``full`` and ``scratch`` rows hold extreme values agree must ignore."""
    rng = np.random.default_rng(rng_seed)
    task_off = np.linspace(-0.02, 0.02, len(tasks))
    seed_off = np.linspace(-0.01, 0.01, len(seeds))
    values = {}
    for (sel, ratio), s in scores.items():
        for k, seed in enumerate(seeds):
            jitter = noise * rng.standard_normal()
            for t, task in enumerate(tasks):
                values[(sel, ratio, seed, task)] = s + task_off[t] + (0.0 if noise else seed_off[k]) + jitter
    for seed in seeds:
        for task in tasks:
            values[("full", 1.0, seed, task)] = 0.99
            values[("scratch", 0.0, seed, task)] = 0.01
    return rows(values)


def make_run(root: Path, name: str, results: pd.DataFrame | None, protocol: str = "ci", version: Any = 2) -> Path:
    run = root / name
    run.mkdir(parents=True)
    if results is not None:
        write_frame(results, run / "results.parquet")
    (run / "run.json").write_text(json.dumps({"protocol": {"name": protocol, "version": version}}))
    return run


def invoke(*args: Any) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args])


# --- the statistics -------------------------------------------------------------------------------------

def test_runs_that_rank_alike_agree_fully_with_an_interval():
    order = dict(zip(SIX, [0.40, 0.45, 0.50, 0.55, 0.60, 0.65]))
    cheap = planted(order, tasks=("t1",), noise=0.002)
    deep = planted({c: s + 0.1 for c, s in order.items()}, seeds=(0, 1, 2, 3), noise=0.002, rng_seed=1)
    got = agreement(cheap, deep, bootstrap=300, seed=0)
    assert got.cells == tuple(SIX)  # full and scratch are left out
    assert (got.accuracy, got.tau, got.accuracy_within) == (1.0, pytest.approx(1.0), 1.0)
    assert (got.pairs, got.pairs_within) == (15, 6)
    assert got.seeds_a == (0, 1, 2) and got.seeds_b == (0, 1, 2, 3)
    boot = got.bootstrap
    assert boot is not None and boot.resamples == 300
    for interval in (boot.accuracy, boot.accuracy_within, boot.tau):
        assert (interval.low, interval.high, interval.dropped) == (pytest.approx(1.0), pytest.approx(1.0), 0)


def test_runs_that_rank_in_reverse_disagree_fully():
    order = dict(zip(SIX, [0.40, 0.45, 0.50, 0.55, 0.60, 0.65]))
    flipped = dict(zip(SIX, [0.65, 0.60, 0.55, 0.50, 0.45, 0.40]))
    got = agreement(planted(order), planted(flipped), bootstrap=50)
    assert (got.accuracy, got.accuracy_within) == (0.0, 0.0)
    assert got.tau == pytest.approx(-1.0)
    assert got.bootstrap.tau.high == pytest.approx(-1.0)


def test_a_partial_agreement_matches_a_hand_count():
    # B: (a,0.1) first, then (b,0.5), then (a,0.5), then (b,0.1); A orders (a,0.1) < (b,0.1) < (a,0.5) < (b,0.5)
    a = planted(dict(zip(FOUR, [0.1, 0.2, 0.3, 0.4])))
    b = planted(dict(zip(FOUR, [0.3, 0.1, 0.2, 0.4])), tasks=("t1", "t2", "t3"))  # B averages its own three tasks
    got = agreement(a, b, bootstrap=0)
    # pairs (0,1) and (0,2) are ordered the other way by A; (0,3), (1,2), (1,3), (2,3) the same
    assert got.accuracy == pytest.approx(4 / 6) and got.pairs == 6
    # at R=0.1, (a, b) disagree; at R=0.5, (a, b) agree
    assert got.accuracy_within == pytest.approx(1 / 2) and got.pairs_within == 2
    assert got.tau == pytest.approx((4 - 2) / 6)
    assert got.scores_a == pytest.approx((0.1, 0.2, 0.3, 0.4))
    assert got.scores_b == pytest.approx((0.3, 0.1, 0.2, 0.4))
    assert got.bootstrap is None


def test_only_cells_both_runs_hold_are_compared():
    a = planted({**dict(zip(FOUR, [0.1, 0.2, 0.3, 0.4])), ("only-a", 0.1): 0.9})
    b = planted({**dict(zip(FOUR[:3], [0.3, 0.1, 0.2])), ("only-b", 0.5): 0.05}, tasks=("t1",))
    got = agreement(a, b, bootstrap=0)
    assert got.cells == tuple(FOUR[:3])
    assert got.accuracy == pytest.approx(1 / 3) and got.pairs == 3


def test_ties_in_a_count_half_and_ties_in_b_are_not_pairs():
    tied_a = agreement(planted(dict(zip(FOUR, [0.1, 0.1, 0.2, 0.3]))), planted(dict(zip(FOUR, [0.1, 0.2, 0.3, 0.4]))),
                       bootstrap=0)
    assert tied_a.pairs == 6 and tied_a.accuracy == pytest.approx(5.5 / 6)
    assert tied_a.accuracy_within == pytest.approx(0.75)
    assert tied_a.tau == pytest.approx(st.kendalltau([1, 1, 2, 3], [1, 2, 3, 4]).statistic)
    tied_b = agreement(planted(dict(zip(FOUR, [0.1, 0.2, 0.3, 0.4]))), planted(dict(zip(FOUR, [0.1, 0.1, 0.2, 0.3]))),
                       bootstrap=0)
    assert tied_b.pairs == 5 and tied_b.accuracy == 1.0
    assert tied_b.pairs_within == 1 and tied_b.accuracy_within == 1.0


def test_means_equal_but_for_rounding_are_a_tie():
    # 0.1+0.2+0.3 and 0.3+0.2+0.1 differ in the last bit; neither order may decide a pair
    values = {}
    for seed, (x, y) in enumerate([(0.1, 0.3), (0.2, 0.2), (0.3, 0.1)]):
        values[("a", 0.1, seed, "t1")], values[("b", 0.1, seed, "t1")] = x, y
        values[("c", 0.1, seed, "t1")] = 0.9
    a = rows(values)
    b = planted({("a", 0.1): 0.2, ("b", 0.1): 0.3, ("c", 0.1): 0.5})
    got = agreement(a, b, bootstrap=0)
    assert got.scores_a[0] == got.scores_a[1]
    assert got.accuracy == pytest.approx(2.5 / 3)


def test_normdel_is_compared_when_asked():
    # at one mIoU, NormDEL prefers the smaller ratio: the ranking across ratios changes, not within them
    scores = dict(zip(FOUR, [0.50, 0.40, 0.52, 0.42]))
    table = planted(scores)
    got = agreement(table, table, metric="normdel", bootstrap=0)
    per_seed = table.groupby(["selector", "ratio_target", "seed"])["normdel"].mean()
    expected = per_seed.groupby(level=["selector", "ratio_target"]).mean()
    assert got.metric == "normdel"
    assert got.scores_a == pytest.approx([expected[c] for c in FOUR])
    assert got.scores_a[0] > got.scores_a[2]  # (a, 0.1) above (a, 0.5) by NormDEL, below it by mIoU


def test_bootstrap_is_deterministic_by_seed_and_covers_the_point_value():
    order = dict(zip(SIX, [0.40, 0.42, 0.44, 0.46, 0.48, 0.50]))
    a = planted(order, seeds=(0, 1, 2, 3, 4), noise=0.03, rng_seed=3)
    b = planted(order, seeds=(0, 1, 2, 3), noise=0.03, rng_seed=4)
    first, again, other = (agreement(a, b, bootstrap=400, seed=s) for s in (7, 7, 8))
    assert first.to_dict() == again.to_dict()
    assert first.bootstrap.to_dict() != other.bootstrap.to_dict()
    boot = first.bootstrap
    assert boot.accuracy.low < boot.accuracy.high  # noisy seeds: a real interval
    assert boot.accuracy.low <= first.accuracy <= boot.accuracy.high
    assert boot.tau.low <= first.tau <= boot.tau.high
    assert boot.accuracy_within.low <= first.accuracy_within <= boot.accuracy_within.high


def test_one_seed_each_gives_no_spread():
    # seeds are the unit resampled: with one seed per run every resample is the run itself
    a = planted(dict(zip(SIX, [0.40, 0.45, 0.42, 0.55, 0.50, 0.65])), seeds=(0,), noise=0.03)
    b = planted(dict(zip(SIX, [0.40, 0.45, 0.50, 0.55, 0.60, 0.65])), seeds=(5,), noise=0.03)
    got = agreement(a, b, bootstrap=100)
    assert got.bootstrap.accuracy.low == got.bootstrap.accuracy.high == pytest.approx(got.accuracy)
    assert got.bootstrap.tau.low == got.bootstrap.tau.high == pytest.approx(got.tau)


def test_a_resample_without_a_cell_is_dropped_and_counted():
    a = planted(dict(zip(FOUR, [0.1, 0.2, 0.3, 0.4])))
    a = a[~((a["selector"] == "b") & (a["ratio_target"] == 0.5) & (a["seed"] != 0))]  # (b, 0.5) on seed 0 only
    b = planted(dict(zip(FOUR, [0.1, 0.2, 0.3, 0.4])))
    got = agreement(a, b, bootstrap=1000, seed=0)
    dropped = got.bootstrap.accuracy.dropped
    # a resample misses seed 0 with probability (2/3)^3 = 0.30
    assert 200 < dropped < 400
    assert got.bootstrap.tau.dropped == dropped and got.bootstrap.accuracy_within.dropped == dropped
    assert got.accuracy == 1.0


def test_bad_metric_and_too_few_cells_are_one_line_errors():
    a = planted(dict(zip(FOUR, [0.1, 0.2, 0.3, 0.4])))
    with pytest.raises(DelbenchError, match="--metric 'dice'.*miou, normdel"):
        agreement(a, a, metric="dice")
    with pytest.raises(DelbenchError, match="--bootstrap -1"):
        agreement(a, a, bootstrap=-1)
    lone = planted({("a", 0.1): 0.5, ("z", 0.5): 0.5})
    with pytest.raises(DelbenchError, match="runs/x and runs/y share 1 .*at least 2"):
        agreement(a, lone, names=("runs/x", "runs/y"))


def test_the_record_is_plain_json():
    got = agreement(planted(dict(zip(FOUR, [0.1, 0.2, 0.3, 0.4]))), planted(dict(zip(FOUR, [0.1] * 4))), bootstrap=20)
    record = json.loads(json.dumps(got.to_dict(), allow_nan=False))  # undefined values are null, not NaN
    assert record["accuracy"] is None and record["pairs"] == 0 and record["tau"] is None
    assert record["bootstrap"]["accuracy"] == {"low": None, "high": None, "dropped": 20}
    assert [c["selector"] for c in record["cells"]] == ["a", "b", "a", "b"]


# --- the command ----------------------------------------------------------------------------------------

def two_runs(tmp_path: Path, protocol_b: str = "paper") -> tuple[Path, Path]:
    a = make_run(tmp_path, "cheap", planted(dict(zip(FOUR, [0.1, 0.2, 0.3, 0.4]))), protocol="smoke", version=3)
    b = make_run(tmp_path / "deep", "run one", planted(dict(zip(FOUR, [0.3, 0.1, 0.2, 0.4]))), protocol=protocol_b)
    return a, b


def test_agree_is_a_registered_command():
    assert COMMANDS["agree"][0] == "delbench.cli.agree_cmd:agree"
    assert "agree" in invoke("--help").output


def test_cli_prints_the_tables_and_writes_the_record(tmp_path):
    a, b = two_runs(tmp_path, protocol_b="pa/per v<2>")
    result = invoke("agree", a, b, "--bootstrap", 50, "--seed", 3)
    assert result.exit_code == 0, result.output
    path = a / "agree" / "pa_per_v_2_-run_one.json"  # the label: B's protocol and run name, as a file name
    assert f"wrote {path}" in result.output
    for text in ("smoke v3", "pa/per v<2>", "decision accuracy", "within-ratio accuracy", "Kendall tau-b",
                 "0.667", "0.500", "0.333", "(3 seed(s): 0, 1, 2)", "50 bootstrap resamples"):
        assert text in result.output, text
    record = json.loads(path.read_text())
    assert record["run_b"]["protocol"] == {"name": "pa/per v<2>", "version": "2"}
    assert record["run_a"]["protocol"] == {"name": "smoke", "version": "3"}
    assert record["accuracy"] == pytest.approx(4 / 6) and record["bootstrap"]["seed"] == 3
    assert [p.name for p in (a / "agree").iterdir()] == [path.name]  # written atomically: no temporary left


def test_cli_json_and_md_formats(tmp_path):
    a, b = two_runs(tmp_path)
    result = CliRunner().invoke(cli, ["agree", str(a), str(b), "--format", "json", "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed == json.loads((a / "agree" / "paper-run_one.json").read_text())
    assert printed["bootstrap"] is None and printed["tau"] == pytest.approx(1 / 3)
    md = CliRunner().invoke(cli, ["agree", str(a), str(b), "--format", "md", "--metric", "normdel"])
    assert md.exit_code == 0, md.output
    assert "| statistic | value | 95% interval | pairs |" in md.stdout and "metric normdel" in md.stdout


def test_cli_errors_are_one_line_and_write_nothing(tmp_path):
    a, b = two_runs(tmp_path)
    empty = make_run(tmp_path, "empty", None)
    lone = make_run(tmp_path, "lone", planted({("a", 0.1): 0.5}))
    damaged = make_run(tmp_path, "damaged", None)
    (damaged / "results.parquet").write_bytes(b"not parquet")
    assert "results.parquet not found" in one_line_error(invoke("agree", a, empty))
    assert "results.parquet not found" in one_line_error(invoke("agree", empty, b))
    assert str(damaged) in one_line_error(invoke("agree", a, damaged))
    line = one_line_error(invoke("agree", a, lone))
    assert str(lone) in line and "share 1" in line
    assert "--metric 'iou'" in one_line_error(invoke("agree", a, b, "--metric", "iou"))
    assert "--bootstrap -5" in one_line_error(invoke("agree", a, b, "--bootstrap", "-5"))
    assert not (a / "agree").exists() and not (empty / "agree").exists()


# --- the report -----------------------------------------------------------------------------------------

def test_report_shows_every_agreement_escaped(tmp_path):
    a, b = two_runs(tmp_path, protocol_b="<script>alert(1)</script>")
    c = make_run(tmp_path, "other", planted(dict(zip(FOUR, [0.4, 0.3, 0.2, 0.1]))), protocol="small")
    assert "id=\"agree\"" not in write_report(a).read_text()  # no record yet: no section
    for other in (b, c):
        assert invoke("agree", a, other, "--bootstrap", "20").exit_code == 0
    html = write_report(a).read_text()
    assert "Agreement with other protocols" in html and 'id="agree"' in html and 'href="#agree"' in html
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "small v2" in html and str(c.resolve()) in html
    assert "0.6667" in html  # B's accuracy, from its record
    assert "budgets A/B" in html and ">1/1<" in html


@pytest.mark.parametrize("damage", ["{not json", "[1, 2]", '{"run_b": "x"}', '{"run_b": {"protocol": {}}}'])
def test_a_damaged_record_is_one_warning_not_a_traceback(tmp_path, capsys, damage):
    a, b = two_runs(tmp_path)
    assert invoke("agree", a, b, "--bootstrap", "0").exit_code == 0
    (a / "agree" / "broken.json").write_text(damage)
    html = write_report(a).read_text()
    warnings = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "broken.json" in warnings[0] and "rerun `delbench agree`" in warnings[0]
    assert "paper v2" in html  # the good record is still shown
    assert "Left out:" in html and "broken.json" in html
    result = invoke("report", a, "--no-plots")
    assert result.exit_code == 0, result.output


def test_pairs_counted_are_every_pair_whose_b_scores_differ():
    # a brute-force count over every pair, against the vectorised one
    rng = np.random.default_rng(5)
    cells = [(f"s{i}", r) for r in (0.1, 0.25, 0.5) for i in range(4)]
    sa = np.round(rng.integers(1, 7, len(cells)) / 10, 2)  # coarse scores: many ties
    sb = np.round(rng.integers(1, 7, len(cells)) / 10, 2)
    got = agreement(planted(dict(zip(cells, sa))), planted(dict(zip(cells, sb))), bootstrap=0)
    order = [cells.index(c) for c in got.cells]
    sa, sb = sa[order], sb[order]
    credit, within = [], []
    for i, j in itertools.combinations(range(len(cells)), 2):
        if sb[i] == sb[j]:
            continue
        c = 0.5 if sa[i] == sa[j] else float((sa[i] < sa[j]) == (sb[i] < sb[j]))
        credit.append(c)
        if got.cells[i][1] == got.cells[j][1]:
            within.append(c)
    assert got.pairs == len(credit) and got.accuracy == pytest.approx(np.mean(credit))
    assert got.pairs_within == len(within) and got.accuracy_within == pytest.approx(np.mean(within))
    assert got.tau == pytest.approx(st.kendalltau(sa, sb).statistic)


# --- budgets (compare --budgets) ----------------------------------------------------------------------

def with_budgets(low: pd.DataFrame, high: pd.DataFrame) -> pd.DataFrame:
    """One results table holding ``low`` at budget 0.25 and ``high`` at budget 1 (scratch once)."""
    low = low[low["selector"] != "scratch"].assign(budget=0.25)
    return pd.concat([low, high.assign(budget=1.0)], ignore_index=True)


def test_a_run_of_several_budgets_is_read_at_one_and_may_agree_with_itself(tmp_path):
    order = {c: 0.2 + 0.1 * i for i, c in enumerate(SIX)}
    reverse = {c: 0.9 - v for c, v in order.items()}
    run = make_run(tmp_path, "budgets", with_budgets(planted(reverse), planted(order)))
    deep = make_run(tmp_path, "deep", planted(order))
    # budget 1 by default: the ranking that agrees; averaging the two budgets would hide the reversal
    assert json.loads(invoke("agree", run, deep, "--format", "json", "--bootstrap", 0).stdout)["accuracy"] == 1.0
    cheap = invoke("agree", run, deep, "--budget-a", 0.25, "--format", "json", "--bootstrap", 0)
    assert cheap.exit_code == 0, cheap.output
    assert json.loads(cheap.stdout)["accuracy"] == 0.0 and json.loads(cheap.stdout)["run_a"]["budget"] == 0.25
    itself = invoke("agree", run, run, "--budget-a", 0.25, "--budget-b", 1, "--format", "json", "--bootstrap", 0)
    assert json.loads(itself.stdout)["tau"] == pytest.approx(-1.0)
    # one record per pair of budgets: B at budget 1 keeps its plain label, A's budget is named
    assert sorted(p.name for p in (run / "agree").iterdir()) == ["b0.25-vs-ci-budgets.json", "b0.25-vs-ci-deep.json",
                                                                 "ci-deep.json"]
    line = one_line_error(invoke("agree", run, deep, "--budget-a", 0.5))
    assert str(run) in line and "0.25, 1" in line


def test_several_budgets_without_the_protocols_own_must_be_named(tmp_path):
    order = {c: 0.2 + 0.1 * i for i, c in enumerate(SIX)}
    two = pd.concat([planted(order).assign(budget=0.25), planted(order).assign(budget=0.5)], ignore_index=True)
    run = make_run(tmp_path, "two", two)
    line = one_line_error(invoke("agree", run, make_run(tmp_path, "deep", planted(order))))
    assert "--budget-a" in line and str(run) in line
