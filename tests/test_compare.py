"""End to end: `delbench compare` on a tiny protocol with two selectors — outputs, rerun from cache,
resume after a kill, byte-identical re-rendering, and regression against an altered baseline."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from delbench.cli import cli

pytestmark = pytest.mark.slow

TINY = Path(__file__).parent / "protocols" / "tiny.toml"
TIMING = ["pretrain_seconds", "select_seconds"]


@pytest.fixture(scope="module")
def tiny() -> Path:
    return TINY


def compare_args(protocol: Path, out: Path, cache: Path, *more: str) -> list[str]:
    return ["compare", "meddel", "random", "--protocol", str(protocol), "--out", str(out), "--cache", str(cache), *more]


@pytest.fixture(scope="module")
def run(tiny, tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("compare")
    out, cache = base / "run", base / "cache"
    result = CliRunner().invoke(cli, compare_args(tiny, out, cache))
    assert result.exit_code == 0, result.output
    return out, cache


def test_outputs(run):
    out, _ = run
    res = pd.read_parquet(out / "results.parquet")
    assert list(res.columns) == ["selector", "ratio_target", "ratio_achieved", "seed", "task", "miou", "miou_all",
                                 "miou_dataset", "dice", "empty_share", "del", "normdel", "pretrain_steps",
                                 "pretrain_seconds", "select_seconds", "kept_bytes", "budget"]
    assert (res["budget"] == 1.0).all()  # no --budgets: the protocol's own pre-training only
    # (meddel, random) x 1 ratio x 2 seeds x 2 tasks + (full, scratch) x 2 seeds x 2 tasks
    assert len(res) == 16
    assert set(res["selector"]) == {"meddel", "random", "full", "scratch"}
    assert (res.loc[res.selector == "scratch", "ratio_achieved"] == 0).all()
    assert (res.loc[res.selector == "scratch", "pretrain_steps"] == 0).all()
    assert (res.loc[res.selector == "full", "ratio_achieved"] == 1).all()
    # equal compute: every pre-trained row ran the same number of steps
    assert res.loc[res.selector != "scratch", "pretrain_steps"].nunique() == 1
    assert res[["miou", "dice", "normdel"]].apply(lambda c: c.between(0, 1).all()).all()
    assert res.loc[res.selector == "meddel", "ratio_achieved"].sub(0.25).abs().max() < 0.01
    info = json.loads((out / "run.json").read_text())
    assert {"protocol", "protocol_hash", "versions", "plugins", "git_commit", "machine"} <= set(info)
    assert {p["name"] for p in info["plugins"]} >= {"meddel", "random"}
    for name in ("summary.md", "summary.tex", "ratio_0.25_miou.md", "ratio_0.25_normdel.tex", "removal.md",
                 "composition.md"):
        assert (out / "tables" / name).is_file(), name
    for name in ("miou_vs_ratio.png", "normdel_vs_ratio.svg", "gallery_meddel_r0.25.png", "gallery_random_r0.25.png"):
        assert (out / "plots" / name).is_file(), name
    assert (out / "subsets" / "meddel" / "seed0" / "r0.25.reasons.parquet").is_file()
    assert 'id="gallery-meddel-r0.25"' in (out / "report.html").read_text()


def test_rerun_is_cached_and_identical(run, tiny):
    out, cache = run
    before = pd.read_parquet(out / "results.parquet")
    result = CliRunner().invoke(cli, compare_args(tiny, out, cache, "--no-plots"))
    assert result.exit_code == 0, result.output
    assert "to run 0" in result.output and "cached 0" not in result.output, result.output
    pd.testing.assert_frame_equal(before, pd.read_parquet(out / "results.parquet"))
    assert f"kept subsets by source and centre: {out / 'tables' / 'composition.md'}" in result.output.replace("\n", "")


def test_report_rerenders_identical_tables(run):
    out, _ = run
    tables = {p.name: p.read_bytes() for p in (out / "tables").iterdir()}
    result = CliRunner().invoke(cli, ["report", str(out), "--no-plots"])
    assert result.exit_code == 0, result.output
    assert "Summary" in result.output
    assert tables == {p.name: p.read_bytes() for p in (out / "tables").iterdir()}


def test_resume_after_kill_gives_same_results(run, tiny, tmp_path):
    ref_out, ref_cache = run
    out, cache = tmp_path / "run", tmp_path / "cache"
    # share the generated dataset (not the stages) to keep the test short
    (cache / "data").mkdir(parents=True)
    for d in (ref_cache / "data").iterdir():
        os.symlink(d, cache / "data" / d.name)
    cmd = [sys.executable, "-m", "delbench.cli", *compare_args(tiny, out, cache, "--no-plots")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    pretrain = cache / "stages" / "pretrain"
    while time.time() < deadline and proc.poll() is None:
        if pretrain.is_dir() and any((d / "stage.json").is_file() for d in pretrain.iterdir()):
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "results.parquet").exists()
    result = CliRunner().invoke(cli, compare_args(tiny, out, cache, "--no-plots"))
    assert result.exit_code == 0, result.output
    got = pd.read_parquet(out / "results.parquet").drop(columns=TIMING)
    want = pd.read_parquet(ref_out / "results.parquet").drop(columns=TIMING)
    pd.testing.assert_frame_equal(got, want)


def test_regress_fails_when_baseline_altered(run, tiny, tmp_path):
    _, cache = run
    baseline = tmp_path / "baseline.json"
    args = ["regress", "--protocol", str(tiny), "--baseline", str(baseline), "--cache", str(cache), "--out", str(tmp_path / "r")]
    result = CliRunner().invoke(cli, [*args, "--update"])
    assert result.exit_code == 0, result.output
    assert CliRunner().invoke(cli, args).exit_code == 0
    data = json.loads(baseline.read_text())
    entry = next(e for e in data["entries"] if e["selector"] == "meddel")
    entry["miou"] = min(1.0, entry["miou"] + 3 * entry["miou_tol"])
    baseline.write_text(json.dumps(data))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0
    assert "regressed" in result.output and "meddel" in result.output
