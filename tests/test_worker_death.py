"""A worker that dies (killed, or out of memory) is named by its unit and seed, the finished units are
kept, and a rerun resumes."""
from __future__ import annotations

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
from delbench.compare.plan import Unit
from delbench.compare.runner import UnitsLost
from delbench.compare.workers import WorkerDied, worker_pool

TINY = Path(__file__).parent / "protocols" / "tiny.toml"


def job(key: int) -> int:
    """Job 3 dies as a worker killed by the kernel does; the others take a moment and succeed."""
    if key == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.3)
    return key


def test_the_dead_workers_job_is_named_and_finished_jobs_are_known() -> None:
    finished: set[int] = set()
    with pytest.raises(WorkerDied) as err:
        with worker_pool(2, finished) as pool:
            futures = {pool.submit(k, job, k): k for k in range(8)}
            for fut, k in futures.items():
                assert fut.result() == k
                finished.add(k)
    assert err.value.jobs == [(3, -signal.SIGKILL)]
    assert {0, 1} <= finished and 3 not in finished  # job 2, running beside it, is not blamed


def test_the_message_names_unit_seed_and_what_is_kept(tmp_path: Path) -> None:
    unit = Unit("meddel", 0.25, 0.25, 1, None, True, 0.0, 0)
    done = Unit("random", 0.25, 0.25, 0, None, True, 0.0, 0)
    text = UnitsLost({done: {}}, [(unit, "SIGKILL: killed, or out of memory")]).message(tmp_path)
    assert text.startswith("compare: a worker ended abruptly while running unit meddel R=0.25 seed 1 (SIGKILL")
    assert f"the 1 finished unit(s) are kept in {tmp_path / 'results.parquet'}" in text
    assert text.endswith("rerun the same command to resume") and "\n" not in text


def spawned_workers(parent: int) -> list[int]:
    """Pids of the compare process's pool workers (its children started by multiprocessing's spawn)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and "spawn_main" in cmd:
            out.append(int(entry.name))
    return out


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="finds worker processes through /proc")
def test_a_killed_worker_ends_compare_with_one_line_and_the_rerun_resumes(tmp_path: Path) -> None:
    out, cache = tmp_path / "run", tmp_path / "cache"
    args = ["compare", "meddel", "random", "--protocol", str(TINY), "--out", str(out), "--cache", str(cache),
            "--no-plots", "--jobs", "2"]
    proc = subprocess.Popen([sys.executable, "-m", "delbench.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.time() + 400
        evaluated = cache / "stages" / "evaluate"
        # two units run at once, each evaluating two tasks: three results mean one unit has finished
        while time.time() < deadline and proc.poll() is None:
            if evaluated.is_dir() and len(list(evaluated.glob("*/result.json"))) >= 3 and spawned_workers(proc.pid):
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the run finished before a worker could be killed"
        os.kill(spawned_workers(proc.pid)[0], signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0
    assert "Traceback" not in stderr and "BrokenProcessPool" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, stderr
    assert "a worker ended abruptly while running unit " in lines[0] and " seed " in lines[0]
    assert "rerun the same command to resume" in lines[0]
    kept = pd.read_parquet(out / "results.parquet")
    assert len(kept) >= 2 and f"the {len(kept) // 2} finished unit(s) are kept" in lines[0]
    named = lines[0].split("running unit ")[1].split(" (")[0]  # e.g. "meddel R=0.25 seed 1"
    sel, ratio, _, seed = named.split(" ")
    ratio = float(ratio[2:])
    assert not ((kept["selector"] == sel) & (kept["seed"] == int(seed))
                & ((kept["ratio_target"] == ratio) | kept["selector"].isin(["full", "scratch"]))).any()
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    again = pd.read_parquet(out / "results.parquet")
    assert len(again) == 16  # (meddel, random, full, scratch) x 2 seeds x 2 tasks
    assert "evaluate 0 reused" not in result.output.replace("\n", "")
