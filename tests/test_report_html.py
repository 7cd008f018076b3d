"""report.html from a hand-made run directory (no training): self-contained, escaped, every section
where its data is, the optional extra tables, the validity ladder, and the command that reproduces
each invocation."""
from __future__ import annotations

import json
import re
import shutil
import shlex
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from delbench.cli.compare_cmd import compare
from delbench.cli.params import parse_params
from delbench.compare.results import write_frame
from delbench.report.html import frame_view, sort_key
from delbench.report.reproduce import commands
from delbench.report.run_report import write_report
from delbench.report.validate_view import write_verdict
from delbench.score.validate import judge
from tests.test_report import fake_results
from tests.test_validate import results as ladder_results

INFO = {
    "selectors": ["meddel", "random"], "ratios": [0.2, 0.5], "seeds": [0, 1, 2], "data_root": "",
    "protocol": {"name": "ci", "version": 1, "description": "test"}, "protocol_hash": "abc123",
    "params": {"meddel": {"epsilon": 0.9, "k": None, "niter": 20}, "random": {"stratify": "none"}},
    "invocations": [
        {"selectors": ["meddel", "random"], "ratios": [0.2, 0.5], "seeds": [0, 1, 2], "tasks": None,
         "overrides": {"finetune.steps": 60}, "protocol_arg": "ci", "data_arg": None, "cross": False,
         "params": {"meddel": {"epsilon": 0.9, "k": None, "niter": 20}, "random": {"stratify": "none"}},
         "started": "2026-01-01T00:00:00+00:00", "wall_seconds": 61.0,
         "stages": {"select": {"reused": 0, "computed": 2}}},
        {"selectors": ["random"], "ratios": [0.2], "seeds": [3], "tasks": ["polyp-a"], "overrides": {},
         "protocol_arg": "protocols/ci.toml", "data_arg": "/data/kvasir", "cross": True,
         "params": {"random": {"stratify": "1"}}, "started": "2026-01-02T00:00:00+00:00", "wall_seconds": 5.0},
    ],
}


class Collect(HTMLParser):
    """Every tag with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Collect:
    c = Collect()
    c.feed(html)
    return c


def make_run(tmp_path: Path, results: pd.DataFrame | None = None, info: dict | None = None) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    write_frame(fake_results() if results is None else results, run / "results.parquet")
    (run / "run.json").write_text(json.dumps(INFO if info is None else info))
    return run


def table_ids(html: str) -> set[str]:
    return {a["id"] for tag, a in parse(html).tags if tag == "table"}


def test_report_is_one_self_contained_file(tmp_path):
    run = make_run(tmp_path)
    html = write_report(run).read_text()
    tags = parse(html).tags
    # nothing is fetched from anywhere: no external src/href, stylesheet link or script file
    for tag, attrs in tags:
        for key in ("src", "href"):
            value = attrs.get(key)
            if value is not None:
                assert value.startswith(("data:", "#")), (tag, key, value[:80])
        assert not (tag == "link" and attrs.get("rel") == "stylesheet")
        assert not (tag == "script" and "src" in attrs)
    assert not re.search(r"https?://", html)
    assert not re.search(r"url\(", html)
    assert "<style>" in html and "<script>" in html


def test_report_has_every_table_of_the_run(tmp_path):
    run = make_run(tmp_path)
    html = write_report(run).read_text()
    ids = table_ids(html)
    assert {"summary", "ratio-0.2-miou", "ratio-0.2-normdel", "ratio-0.5-miou", "ratio-0.5-normdel",
            "params", "invocations"} <= ids
    assert "removal" not in ids  # no pool with ground truth: a note says so instead
    assert "no ground truth" in html
    assert "validate-ladder" not in ids
    # numbers sort by value, the best cell is marked
    assert 'data-sort="' in html and 'class="best"' in html


def test_values_are_escaped(tmp_path):
    res = fake_results()
    res.loc[res.selector == "meddel", "selector"] = "<script>alert(1)</script>"
    info = dict(INFO, selectors=["<script>alert(1)</script>", "random"])
    html = write_report(make_run(tmp_path, res, info)).read_text()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_extra_tables_have_their_place(tmp_path):
    run = make_run(tmp_path)
    extra = pd.DataFrame({"source": ["centre-a", "centre-b"], "kept share": [0.25, 0.125]})
    html = write_report(run, extra=[("Kept share by source", extra)]).read_text()
    assert "extra-kept-share-by-source" in table_ids(html)
    assert "centre-b" in html and "0.125" in html
    assert "extra-kept-share-by-source" not in table_ids(write_report(run).read_text())


def test_validate_ladder_shown_when_the_run_has_one(tmp_path):
    res = ladder_results()
    for col in ("miou_dataset", "dice", "del", "pretrain_steps", "pretrain_seconds", "select_seconds", "kept_bytes"):
        res[col] = 0.0
    info = dict(INFO, selectors=["oracle", "random", "adversary"], ratios=[0.05, 0.2])
    run = make_run(tmp_path, res, info)
    verdict = judge(res)
    write_verdict(run, verdict)
    html = write_report(run).read_text()
    assert {"validate-ladder", "validate-tasks"} <= table_ids(html)
    assert "oracle &gt; random" in html
    assert "verdict-pass" in html and verdict.passed


def test_reproduce_commands_parse_back_to_the_same_run():
    lines = commands(INFO, "runs/x")
    assert len(lines) == 2
    for line, entry in zip(lines, INFO["invocations"]):
        args = shlex.split(line)
        assert args[:2] == ["delbench", "compare"]
        ctx = compare.make_context("compare", args[2:])
        p = ctx.params
        assert list(p["selectors"]) == entry["selectors"]
        assert p["protocol"] == entry["protocol_arg"]
        assert (str(p["data"]) if p["data"] else None) == entry["data_arg"]
        assert [float(r) for r in p["ratios"].split(",")] == entry["ratios"]
        assert [int(s) for s in p["seeds"].split(",")] == entry["seeds"]
        assert (p["tasks"].split(",") if p["tasks"] else None) == entry["tasks"]
        assert p["cross"] is entry["cross"]
        assert str(p["out"]) == "runs/x"
        given = parse_params(p["params"])
        want = {f"{s}.{k}": v for s in entry["selectors"] for k, v in entry["params"][s].items() if v is not None}
        assert given == want  # "1" stays the string "1"; None (the default) is left out
        assert parse_params(p["overrides"], "--set") == entry["overrides"]


@pytest.mark.parametrize("text,key", [("62.3 ± 1.2", 62.3), ("+0.12 [-0.3, +0.5]", 0.12), ("2/0/1", 2.0),
                                      ("77%", 77.0), ("–", None), ("meddel", None), ("-1e-3", -0.001)])
def test_sort_key(text, key):
    assert sort_key(text) == (pytest.approx(key) if key is not None else None)


def test_frame_view_sorts_numbers_by_value():
    view = frame_view("t", pd.DataFrame({"a": ["x", "y"], "b": [1.5, float("nan")]}))
    assert [c.sort for c in view.rows[0]] == [None, 1.5]
    assert view.rows[1][1].text == "–" and view.rows[1][1].sort is None


def test_plots_and_cross_heatmaps_are_embedded(tmp_path):
    from delbench.report.render import render_run
    from delbench.store.rundir import RunDir

    run = make_run(tmp_path)
    cross = pd.DataFrame([{"selector": s, "ratio_target": 0.2, "seed": 0, "train_task": a, "test_task": b, "miou": 0.5}
                          for s in ("meddel", "random") for a in ("polyp-a", "polyp-b") for b in ("polyp-a", "polyp-b")])
    write_frame(cross, RunDir(run).cross)
    render_run(run, plots=True)
    html = write_report(run).read_text()
    images = [a for tag, a in parse(html).tags if tag == "img"]
    titles = sorted(a["title"] for a in images)
    assert titles == ["cross_meddel_r0.2", "cross_random_r0.2", "miou vs ratio", "normdel vs ratio"]
    assert all(a["src"].startswith("data:image/png;base64,") for a in images)
    assert 'id="cross"' in html
    # without plots/ the report says how to draw them
    shutil.rmtree(run / "plots")
    html = write_report(run).read_text()
    assert "<img" not in html and "delbench report RUN_DIR" in html
