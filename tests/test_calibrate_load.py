"""The calibration counts competing threads by their priority: a busy thread at the study's own
priority is one competitor, a ``nice -n 19`` one next to nothing, and with autogroups another
session's thread counts by its session's nice."""
from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from delbench.compare.calibrate import fair_share, runnable

ME = 100


def _task(proc: Path, pid: int, tid: int, state: str, nice: int, group: str | None) -> None:
    # the fields after "(comm)": state, then 15 more, then nice (field 19 of proc(5))
    fields = [state] + ["0"] * 15 + [str(nice)] + ["1", "0"]
    task = proc / str(pid) / "task" / str(tid)
    task.mkdir(parents=True, exist_ok=True)
    (task / "stat").write_text(f"{tid} (py thon) {' '.join(fields)}\n")
    if tid == pid:
        (proc / str(pid) / "stat").write_text(f"{pid} (py thon) {' '.join(fields)}\n")
        if group is not None:
            (proc / str(pid) / "autogroup").write_text(f"{group}\n")


def _fake_proc(tmp_path: Path, autogroups: bool) -> Path:
    proc = tmp_path / "proc"
    (proc / "sys" / "kernel").mkdir(parents=True)
    (proc / "sys" / "kernel" / "sched_autogroup_enabled").write_text("1\n" if autogroups else "0\n")
    _task(proc, ME, ME, "R", 0, "/autogroup-1 nice 0")
    _task(proc, ME, ME + 1, "R", 0, None)  # a thread of this process: never a competitor
    _task(proc, 200, 200, "R", 0, "/autogroup-1 nice 0")  # same session, same nice: 1
    _task(proc, 200, 201, "S", 0, None)  # asleep: 0
    _task(proc, 300, 300, "R", 19, "/autogroup-1 nice 0")  # same session, nice 19: 1.25**-19
    _task(proc, 400, 400, "R", 0, "/autogroup-2 nice 19")  # another session reniced to 19
    _task(proc, 500, 500, "R", 19, "/autogroup-3 nice 0")  # another session at 0: its own nice is moot
    return proc


def test_weights_without_autogroups(tmp_path):
    proc = _fake_proc(tmp_path, autogroups=False)
    low = 1.25 ** -19
    assert runnable(str(proc), me=ME) == pytest.approx(1 + low + 1 + low)


def test_weights_with_autogroups(tmp_path):
    proc = _fake_proc(tmp_path, autogroups=True)
    low = 1.25 ** -19
    assert runnable(str(proc), me=ME) == pytest.approx(1 + low + low + 1)


def test_unknown_without_proc(tmp_path):
    assert runnable(str(tmp_path / "nothing"), me=ME) is None


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
@pytest.mark.skipif(os.nice(0) != 0, reason="at low priority every other busy thread weighs up to 69, swamping the child")
def test_a_live_busy_process_is_counted_while_it_runs():
    """A busy child is stopped and continued in turn, so other work on the machine cancels out of
    each pair of readings."""
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        diffs = []
        for _ in range(15):
            child.send_signal(signal.SIGSTOP)
            time.sleep(0.02)
            stopped = runnable()
            child.send_signal(signal.SIGCONT)
            time.sleep(0.02)
            diffs.append(runnable() - stopped)
        assert statistics.median(diffs) == pytest.approx(1.0, abs=0.3)
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("cpus, ours, weights, share", [
    (2, 2, (), 1.0),
    (2, 2, (1.0, 1.0), 0.5),  # four equals on two CPUs
    (2, 1, (69.0,), 1.0),  # a heavier thread takes one CPU, not both
    (2, 2, (69.0,), 0.5),  # ... and ours share the other
    (2, 2, (1.25 ** -19,) * 2, pytest.approx(1 - 1.25 ** -19, abs=1e-3)),  # niced jobs take next to nothing
    (1, 1, (1.0, 1.0), pytest.approx(1 / 3)),
])
def test_fair_share(cpus, ours, weights, share):
    assert fair_share(cpus, ours, weights) == pytest.approx(share, abs=1e-6)
