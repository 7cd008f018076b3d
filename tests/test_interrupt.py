"""Ctrl-C during `delbench compare --jobs 2`: the command stops within seconds with one line, leaves no
worker behind, and the next run resumes the interrupted pre-training from its last checkpoint."""
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

pytestmark = pytest.mark.slow

TINY = Path(__file__).parent / "protocols" / "tiny.toml"


def longer_protocol(tmp_path: Path) -> Path:
    """tiny with 72 pre-training steps (seconds per unit) and a checkpoint every 4."""
    text = TINY.read_text()
    for old, new in [('name = "tiny"', 'name = "tiny-long"'), ("epochs_at_full = 1.0", "epochs_at_full = 8.0"),
                     ("checkpoint_every = 3", "checkpoint_every = 4")]:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "tiny-long.toml"
    path.write_text(text)
    return path


def after_plan(output: str) -> list[str]:
    """The lines a command printed after its plan (from "plan:" to the estimate and its indented lines)."""
    lines = [ln for ln in output.splitlines() if ln.strip()]
    if lines and lines[0].startswith("plan:"):
        end = next(i for i, ln in enumerate(lines) if ln.startswith("estimate:")) + 1
        while end < len(lines) and lines[end].startswith("  "):
            end += 1
        lines = lines[end:]
    return lines


def children(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (from /proc, so no extra dependency)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads process parents from /proc")
def test_ctrl_c_stops_workers_at_once_and_the_rerun_resumes(tmp_path: Path) -> None:
    protocol = longer_protocol(tmp_path)
    out, cache = tmp_path / "run", tmp_path / "cache"
    cmd = [sys.executable, "-m", "delbench.cli", "compare", "random", "--protocol", str(protocol), "--out", str(out),
           "--cache", str(cache), "--seeds", "0", "--tasks", "syn-kvasir", "--jobs", "2", "--no-plots"]
    # a shell starts background jobs with SIGINT ignored, and Python then keeps it ignored: restore the
    # default so the command sees the interrupt as it would from a terminal
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        pretrain = cache / "stages" / "pretrain"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            if pretrain.is_dir() and any(pretrain.glob("*.work/step_*.json")):
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the run ended before a checkpoint was written"
        workers = children(proc.pid)
        assert workers
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)  # the parent only, as `kill -INT`; a terminal's Ctrl-C reaches all
        output, _ = proc.communicate(timeout=60)
        assert time.monotonic() - start < 5, output
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0
    lines = after_plan(output)
    assert len(lines) == 1 and lines[0].startswith("Error: interrupted"), output
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p) for p in workers):
        time.sleep(0.1)
    assert not [p for p in workers if alive(p)], "worker processes outlived the command"
    assert any(pretrain.glob("*.work/step_*.json"))

    rerun = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout
    metas = [json.loads(p.read_text()) for p in pretrain.glob("*/meta.json")]
    assert len(metas) == 2  # random R=0.25 and full
    assert max(m["resumed_from"] for m in metas) > 0, "no pre-training resumed from its checkpoint"
    assert all(m["steps"] == 72 for m in metas)
    res = pd.read_parquet(out / "results.parquet")
    assert set(res["selector"]) == {"random", "full", "scratch"} and len(res) == 3
    assert not list(pretrain.glob("*.work"))


def compare_cmd(protocol: Path, base: Path, jobs: str) -> list[str]:
    return [sys.executable, "-m", "delbench.cli", "compare", "random", "--protocol", str(protocol), "--out",
            str(base / "run"), "--cache", str(base / "cache"), "--seeds", "0", "--tasks", "syn-kvasir", "--jobs", jobs,
            "--no-plots"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same study run once without interruption, to hold the interrupted one against."""
    base = tmp_path_factory.mktemp("uninterrupted")
    done = subprocess.run(compare_cmd(longer_protocol(base), base, "1"), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    assert done.returncode == 0, done.stdout
    return base


def checkpoint_steps(pretrain: Path) -> list[int]:
    return [int(p.stem.split("_")[1]) for p in pretrain.glob("*.work/step_*.json")] if pretrain.is_dir() else []


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads process parents from /proc")
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_terminal_ctrl_c_mid_unit_resumes_from_a_checkpoint_as_if_never_interrupted(
        tmp_path: Path, uninterrupted: Path, jobs: str) -> None:
    cmd = compare_cmd(longer_protocol(tmp_path), tmp_path, jobs)
    pretrain = tmp_path / "cache" / "stages" / "pretrain"
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 180
        # two checkpoints written (every 4 steps of 72): the interrupt falls inside a unit
        while time.monotonic() < deadline and proc.poll() is None and max(checkpoint_steps(pretrain), default=0) < 8:
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before its second checkpoint"
        group = [proc.pid, *children(proc.pid)]
        start = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C: every process of the foreground group
        output, _ = proc.communicate(timeout=60)
        assert time.monotonic() - start < 5, output
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, output
    lines = after_plan(output)
    assert len(lines) == 1 and lines[0].startswith("Error: interrupted"), output
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p) for p in group):
        time.sleep(0.1)
    assert not [p for p in group if alive(p)], "processes outlived the command"
    interrupted_at = max(checkpoint_steps(pretrain))
    assert 8 <= interrupted_at < 72

    rerun = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout
    assert "resume from step" in rerun.stdout, rerun.stdout  # the plan said so before it started
    metas = {p.parent.name: json.loads(p.read_text()) for p in pretrain.glob("*/meta.json")}
    resumed = [m["resumed_from"] for m in metas.values() if m["resumed_from"]]
    # every interrupted run continued from a checkpoint, the one past its second from that one or later
    assert resumed and max(resumed) >= 8 and all(0 < r < 72 and r % 4 == 0 for r in resumed), metas
    assert all(m["steps"] == 72 for m in metas.values())

    # the same weights and the same scores as the run that was never interrupted
    reference = uninterrupted / "cache" / "stages" / "pretrain"
    for name in metas:
        assert (pretrain / name / "weights.safetensors").read_bytes() == (reference / name / "weights.safetensors").read_bytes()
    timing = ["pretrain_seconds", "select_seconds"]
    got = pd.read_parquet(tmp_path / "run" / "results.parquet").drop(columns=timing)
    want = pd.read_parquet(uninterrupted / "run" / "results.parquet").drop(columns=timing)
    pd.testing.assert_frame_equal(got, want)
