"""A run directory holds one study: a later compare of the same study adds its rows, another study is
refused with one line, a second writer is kept out by the directory's lock (a dead holder's lock is
taken over); and processes sharing a cache never build one stage twice."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from delbench.cli import cli
from delbench.errors import DelbenchError

TINY = Path(__file__).parent / "protocols" / "tiny.toml"
KEY = ["selector", "ratio_target", "seed", "task"]


def compare(out: Path, cache: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["compare", *args, "--protocol", str(TINY), "--out", str(out), "--cache", str(cache),
                                    "--seeds", "0", "--tasks", "syn-kvasir", "--no-plots"])


def one_line_error(result: Any) -> str:
    assert result.exit_code != 0, result.output
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    return lines[0]


def keys(frame: pd.DataFrame) -> set[tuple[Any, ...]]:
    return set(frame[KEY].itertuples(index=False, name=None))


def snapshot(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*"))
            if p.is_file() and not p.name.startswith("run.lock")}


def hold_in_child(lock: Path) -> subprocess.Popen[str]:
    """Another process holding ``lock`` until it is killed."""
    code = ("import sys, time\nfrom delbench.store.locks import hold\n"
            "with hold(sys.argv[1], wait=False, what='test holder'):\n    print('held', flush=True)\n    time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(lock)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("rundir") / "cache"


@pytest.fixture(scope="module")
def study(cache: Path, tmp_path_factory) -> Path:
    """A finished `compare random meddel` (R=0.25, one seed, one task)."""
    out = tmp_path_factory.mktemp("study") / "run"
    result = compare(out, cache, "random", "meddel")
    assert result.exit_code == 0, result.output
    return out


# --- merge: the same study adds its units, never drops rows ----------------------------------------

@pytest.mark.slow
def test_later_run_of_the_same_study_merges(study: Path, cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    shutil.copytree(study, out)
    before = pd.read_parquet(out / "results.parquet")
    # mark two rows: meddel's must survive a run without meddel, full's must be replaced by the rerun
    marked = before.copy()
    marked.loc[marked.selector == "meddel", "miou"] = 0.123
    marked.loc[marked.selector == "full", "miou"] = 0.456
    marked.to_parquet(out / "results.parquet", index=False)

    result = compare(out, cache, "random", "--ratios", "0.1")
    assert result.exit_code == 0, result.output
    after = pd.read_parquet(out / "results.parquet")
    assert keys(after) == keys(before) | {("random", 0.1, 0, "syn-kvasir")}
    assert len(after) == len(keys(after))  # a unit run twice has its rows once
    assert (after.loc[after.selector == "meddel", "miou"] == 0.123).all()
    full = after.loc[after.selector == "full", "miou"]
    assert (full != 0.456).all() and (full.to_numpy() == before.loc[before.selector == "full", "miou"].to_numpy()).all()

    info = json.loads((out / "run.json").read_text())
    assert info["selectors"] == ["random", "meddel"]
    assert info["ratios"] == [0.1, 0.25] and info["seeds"] == [0]
    assert set(info["params"]) == {"random", "meddel"}
    assert [i["selectors"] for i in info["invocations"]] == [["random", "meddel"], ["random"]]
    assert [i["ratios"] for i in info["invocations"]] == [[0.25], [0.1]]
    summary = (out / "tables" / "summary.md").read_text()
    assert "meddel" in summary and "random" in summary
    assert "random R=0.1" in (out / "tables" / "removal.md").read_text()
    assert "meddel" in (out / "tables" / "ratio_0.25_miou.md").read_text()
    assert (out / "tables" / "ratio_0.1_miou.md").is_file()
    assert pd.read_csv(out / "results.csv").shape[0] == len(after)


def _other_data(tmp_path: Path) -> Path:
    """A dataset root with another manifest (no images: the refusal comes before any is read)."""
    from delbench.data.manifest import write_manifest

    root = tmp_path / "data"
    root.mkdir()
    write_manifest(root, pd.DataFrame({
        "id": ["p0", "t0", "t1"], "path": ["p0.png", "t0.png", "t1.png"], "role": ["pool", "task", "task"],
        "task": [None, "syn-kvasir", "syn-kvasir"], "split": [None, "train", "test"],
        "mask_path": [None, "m0.png", "m1.png"], "width": [32] * 3, "height": [32] * 3,
    }))
    return root


@pytest.mark.slow
@pytest.mark.parametrize("more,needles", [
    (["random", "--set", "finetune.steps=4"], ["protocol hash", "--set", "another --out"]),
    (["meddel", "--param", "meddel.epsilon=1"], ["'meddel'", "epsilon=0.9", "epsilon=1.0", "another --out"]),
    (["random", "--data", "DATA"], ["manifest sha256", "another --out"]),
])
def test_another_study_is_refused_and_leaves_the_directory_alone(study: Path, cache: Path, tmp_path: Path,
                                                                 more: list[str], needles: list[str]) -> None:
    more = [str(_other_data(tmp_path)) if m == "DATA" else m for m in more]
    before = snapshot(study)
    line = one_line_error(compare(study, cache, *more))
    assert str(study) in line
    for needle in needles:
        assert needle in line, line
    assert snapshot(study) == before


# --- the run directory's lock ---------------------------------------------------------------------

@pytest.mark.slow
def test_second_writer_is_refused_at_once_and_a_dead_holders_lock_is_taken_over(study: Path, cache: Path,
                                                                                tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    holder = hold_in_child(out / "run.lock")
    try:
        start = time.perf_counter()
        line = one_line_error(compare(out, cache, "random"))
        # refused, not queued behind the holder (which never lets go): a liveness bound, not a speed goal
        assert time.perf_counter() - start < 60
        assert str(out / "run.lock") in line and f"pid {holder.pid}" in line
        assert not (out / "results.parquet").exists() and not (out / "subsets").exists()
    finally:
        holder.kill()
        holder.wait()
    # killed outright: its holder record is still there, naming a dead process; the lock is free
    assert json.loads((out / "run.lock.json").read_text())["pid"] == holder.pid
    result = compare(out, cache, "random")  # every stage is in the cache from `study`
    assert result.exit_code == 0, result.output
    assert keys(pd.read_parquet(out / "results.parquet")) == {
        ("random", 0.25, 0, "syn-kvasir"), ("full", 1.0, 0, "syn-kvasir"), ("scratch", 0.0, 0, "syn-kvasir")}
    assert not (out / "run.lock.json").exists()


def test_lock_of_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    from delbench.store.locks import Busy, hold, holder

    lock = tmp_path / "x.lock"
    proc = hold_in_child(lock)
    try:
        with pytest.raises(Busy) as info:
            with hold(lock, wait=False):
                pass
        assert f"pid {proc.pid}" in str(info.value) and "\n" not in str(info.value)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert holder(lock) == "another process"  # the record left behind names a dead pid
    with hold(lock, wait=False):
        assert json.loads(Path(f"{lock}.json").read_text())["pid"] == os.getpid()


# --- one builder per cache stage -----------------------------------------------------------------

def test_two_threads_build_a_stage_once(tmp_path: Path) -> None:
    from delbench.store.cache import build_stage, claim_stage, is_done

    stage = tmp_path / "stages" / "select" / "abc"
    calls: list[int] = []
    reused: list[bool] = []
    go = threading.Barrier(2)

    def build() -> None:
        go.wait()
        with claim_stage(stage) as todo:
            reused.append(not todo)
            if todo:
                with build_stage(stage, {"k": 1}) as tmp:
                    calls.append(1)
                    time.sleep(0.5)  # long enough for the other thread to be waiting
                    (tmp / "out.txt").write_text("built once")

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert calls == [1]
    assert sorted(reused) == [False, True]
    assert is_done(stage) and (stage / "out.txt").read_text() == "built once"


def test_a_process_waits_for_another_building_the_stage(tmp_path: Path) -> None:
    from delbench.store.cache import claim_stage

    stage = tmp_path / "stages" / "embed" / "abc"
    code = ("import sys, time\nfrom delbench.store.cache import build_stage, claim_stage\n"
            "with claim_stage(sys.argv[1]) as todo:\n"
            "    with build_stage(sys.argv[1], {'k': 1}) as tmp:\n"
            "        print('building', flush=True)\n        time.sleep(1.5)\n        (tmp / 'by').write_text('child')\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(stage)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "building"
        start = time.perf_counter()
        with claim_stage(stage) as todo:
            waited = time.perf_counter() - start
            assert not todo  # built by the other process while this one waited
        assert waited > 0.5
        assert (stage / "by").read_text() == "child"
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_pretrain_waits_for_the_process_training_its_stage(study: Path, cache: Path) -> None:
    from delbench.store.atomic import write_json
    from delbench.store.cache import build_stage, stage_lock
    from delbench.protocol import load_protocol
    from delbench.pretrain.stage import pretrain, stage_config
    from delbench.store.cache import config_hash

    root = next((cache / "data").glob("synthetic-ci-*"))
    protocol = load_protocol(TINY)
    subset = np.arange(0, 288, 3)  # a stage no other test computes
    out = cache / "stages" / "pretrain" / config_hash(stage_config(root, protocol, subset, 0))
    work = out.with_name(out.name + ".work")
    import delbench.nets.models  # noqa: F401  (torch and the models imported: the thread starts at once)

    got: list[Any] = []
    waiting = threading.Thread(target=lambda: got.append(pretrain(root, protocol, cache / "stages", subset=subset, seed=0)))
    with stage_lock(out):  # as if another process were training this stage
        waiting.start()
        time.sleep(2.0)
        assert waiting.is_alive() and not work.exists(), "pretrain did not wait for the stage's lock"
        with build_stage(out, {"stand-in": True}) as tmp:
            write_json(tmp / "meta.json", {"steps": 12345, "seconds": 0.0})
    waiting.join(60)
    assert got and got[0].steps == 12345  # reused what the holder built, trained nothing
    assert not work.exists()


@pytest.mark.parametrize("name, text", [("run.json", "{"), ("run.json", "{}"), ("jobs.json", "[]"), ("jobs.json", '{"x": 1}')])
def test_an_unreadable_record_is_one_line_naming_it(tmp_path: Path, name: str, text: str) -> None:
    from delbench.compare.jobs import read_jobs
    from delbench.store.rundir import previous_study

    (tmp_path / name).write_text(text)
    read = previous_study if name == "run.json" else read_jobs
    what = "run.json" if name == "run.json" else "jobs record"
    with pytest.raises(DelbenchError, match=rf"{tmp_path / name}: not a readable {what} \(.+\); "):
        read(tmp_path)
    assert (tmp_path / name).read_text() == text  # the input is left as it was
