"""The stage lock on a cache shared by several machines: the holder record is a lease with a
heartbeat, broken when its holder is gone (a dead pid here, or a heartbeat older than the stale
timeout from another host), respected while it is alive — even where the OS file lock does not reach
(another node)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from delbench.store import locks
from delbench.store.locks import Busy, hold, record_path


def plant(lock: Path, *, host_tag: str = "0therhst", pid: int = 1, age_s: float = 0.0) -> Path:
    record = record_path(lock)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"pid": pid, "host": "node-7", "host_tag": host_tag, "token": "theirs",
                                  "since": "2024-01-01T00:00:00+00:00", "what": "building", "command": "delbench"}))
    if age_s:
        past = time.time() - age_s
        os.utime(record, (past, past))
    return record


def test_a_live_holder_on_another_host_keeps_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "stage.lock"
    plant(lock, age_s=5)
    with pytest.raises(Busy, match="node-7"):
        with hold(lock, wait=False):
            pass
    assert json.loads(record_path(lock).read_text())["token"] == "theirs"  # not broken


def test_a_holder_whose_heartbeat_stopped_is_broken_after_the_stale_timeout(tmp_path: Path) -> None:
    lock = tmp_path / "stage.lock"
    plant(lock, age_s=locks.STALE_LOCK_S + 60)
    with hold(lock, wait=False):
        mine = json.loads(record_path(lock).read_text())
        assert mine["pid"] == os.getpid() and mine["token"] != "theirs"
    assert not record_path(lock).exists()


def test_a_dead_holder_on_this_host_is_broken_at_once(tmp_path: Path) -> None:
    from delbench.store.atomic import host_tag

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = tmp_path / "stage.lock"
    plant(lock, host_tag=host_tag(), pid=int(dead.stdout))
    with hold(lock, wait=False):
        assert json.loads(record_path(lock).read_text())["pid"] == os.getpid()


def test_the_holder_keeps_its_record_fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locks, "HEARTBEAT_S", 0.05)
    lock = tmp_path / "stage.lock"
    with hold(lock):
        record = record_path(lock)
        past = time.time() - 10 * locks.STALE_LOCK_S
        os.utime(record, (past, past))
        for _ in range(400):  # until the heartbeat touched it (it would not, broken)
            if record.stat().st_mtime > past + 1:
                break
            time.sleep(0.05)
        assert record.stat().st_mtime > past + 1


CHILD = r"""
import os, sys, time
from pathlib import Path
import filelock

class NoOsLock:  # another node: the OS file lock does not reach it
    def __init__(self, *a, **k): pass
    def acquire(self, timeout=-1): pass
    def release(self): pass

filelock.FileLock = NoOsLock
from delbench.store.cache import build_stage, claim_stage

stage, log, release = (Path(a) for a in sys.argv[1:4])
(log.parent / f"claiming-{os.getpid()}").touch()
with claim_stage(stage) as todo:
    if todo:
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        while not release.exists():
            time.sleep(0.05)
        with build_stage(stage, {"k": 1}) as tmp:
            (tmp / "out.txt").write_text("built")
"""


def test_two_processes_without_a_shared_os_lock_build_a_stage_once(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    stage, log, release = tmp_path / "cache" / "stages" / "x" / "abc", tmp_path / "computed.log", tmp_path / "release"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    args = [sys.executable, str(script), str(stage), str(log), str(release)]
    first = subprocess.Popen(args, env=env)
    try:
        while not log.exists():
            assert first.poll() is None, "first builder ended early"
            time.sleep(0.05)
        second = subprocess.Popen(args, env=env)
        while len(list(tmp_path.glob("claiming-*"))) < 2:
            assert second.poll() is None, "second builder ended early"
            time.sleep(0.05)
        time.sleep(1.0)  # give the second one the time to (wrongly) start building beside the first
        release.touch()
        assert first.wait(120) == 0 and second.wait(120) == 0
    finally:
        for proc in (first, locals().get("second")):
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert len(log.read_text().split()) == 1  # computed once
    assert (stage / "out.txt").read_text() == "built"
